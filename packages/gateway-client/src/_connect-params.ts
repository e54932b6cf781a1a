// --- internal: the signed `connect` params (spec 10 §2.2, §2.3); never re-exported ---

import {
  buildConnectParams,
  buildDeviceAuthPayloadV3,
  CLIENT_ID,
  CLIENT_MODE,
  CLIENT_ROLE,
  type ConnectParams,
  DEFAULT_SCOPES,
  toWirePlatform,
} from '@defenseclaw/protocol';
import type { DeviceIdentity } from './identity.ts';

/** Builds the exact connect params and signs the v3 device payload over the challenge nonce. */
export function buildSignedConnectParams(input: {
  device: DeviceIdentity;
  token: string | undefined;
  nonce: string;
  clientVersion: string;
  caps: readonly string[];
  protocolRange: readonly [number, number];
  nowMs: number;
}): ConnectParams {
  const platform = toWirePlatform(process.platform);
  const payload = buildDeviceAuthPayloadV3({
    deviceId: input.device.deviceId,
    clientId: CLIENT_ID,
    clientMode: CLIENT_MODE,
    role: CLIENT_ROLE,
    scopes: DEFAULT_SCOPES,
    signedAtMs: input.nowMs,
    token: input.token,
    nonce: input.nonce,
    platform,
  });
  return buildConnectParams({
    clientVersion: input.clientVersion,
    platform,
    token: input.token,
    caps: input.caps,
    minProtocol: input.protocolRange[0],
    maxProtocol: input.protocolRange[1],
    device: {
      id: input.device.deviceId,
      publicKey: input.device.publicKey,
      signature: input.device.sign(payload),
      signedAt: input.nowMs,
      nonce: input.nonce,
    },
  });
}
