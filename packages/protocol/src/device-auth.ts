/** The inputs of the signed device-auth string (spec 10 §2.3). */
export type DeviceAuthFields = {
  deviceId: string;
  clientId: string;
  clientMode: string;
  role: string;
  scopes: readonly string[];
  signedAtMs: number;
  token?: string | undefined;
  nonce: string;
  platform: string;
  deviceFamily?: string | undefined;
};

/** Normalises `platform`/`deviceFamily` the way OpenClaw does: trim, then lowercase ASCII A–Z only. */
export function normalizeDeviceMetadata(value: string | undefined): string {
  if (value === undefined) return '';
  // Only ASCII letters are folded (not toLowerCase) so that non-ASCII text signs exactly as the server sees it.
  return value.trim().replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32));
}

/**
 * Builds the v3 string that the device key signs: eleven `|`-joined fields with no escaping.
 *
 * @example
 * buildDeviceAuthPayloadV3({ deviceId, clientId: 'gateway-client', clientMode: 'backend', role: 'operator',
 *   scopes: DEFAULT_SCOPES, signedAtMs: Date.now(), token, nonce, platform: 'linux' });
 * // 'v3|<id>|gateway-client|backend|operator|operator.read,…|<ms>|<token>|<nonce>|linux|'
 */
export function buildDeviceAuthPayloadV3(fields: DeviceAuthFields): string {
  return [
    ...sharedFields('v3', fields),
    normalizeDeviceMetadata(fields.platform),
    normalizeDeviceMetadata(fields.deviceFamily),
  ].join('|');
}

/** Builds the legacy v2 string (no platform or family), which servers still accept. */
export function buildDeviceAuthPayloadV2(
  fields: Omit<DeviceAuthFields, 'platform' | 'deviceFamily'>,
): string {
  return sharedFields('v2', fields).join('|');
}

/** Maps a Node `process.platform` value to the Go-style wire platform (`win32` → `windows`). */
export function toWirePlatform(nodePlatform: string): string {
  return nodePlatform === 'win32' ? 'windows' : nodePlatform;
}

// --- internal ---

/** The version tag and the eight fields v2 and v3 both sign, in signing order. */
function sharedFields(
  version: 'v2' | 'v3',
  fields: Omit<DeviceAuthFields, 'platform' | 'deviceFamily'>,
): string[] {
  return [
    version,
    fields.deviceId,
    fields.clientId,
    fields.clientMode,
    fields.role,
    fields.scopes.join(','),
    String(fields.signedAtMs),
    fields.token ?? '',
    fields.nonce,
  ];
}
