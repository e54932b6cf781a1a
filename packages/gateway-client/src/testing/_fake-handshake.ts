// Handshake validation of the fake gateway, in the order and with the texts of OpenClaw 2026.9.6
// (message-handler.ts + connect-error-details.ts + auth-messages.ts; connect-errors.jsonl).
import { createHash, createPublicKey, verify } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import {
  buildDeviceAuthPayloadV2,
  buildDeviceAuthPayloadV3,
  type ErrorShape,
  normalizeDeviceMetadata,
  type RequestFrame,
} from '@defenseclaw/protocol';
import { invalidRequest } from './_fake-errors.ts';
import {
  anyString,
  arrayOf,
  bool,
  closedObject,
  integer,
  nonEmptyString,
  type SchemaNode,
  validateSchema,
} from './_fake-schema.ts';
import type { FakePairingEntry } from './fake-types.ts';

/** OpenClaw's fixed client ids (`client.id` must be one of them). */
export const GATEWAY_CLIENT_IDS: readonly string[] = [
  'webchat-ui',
  'openclaw-control-ui',
  'openclaw-browser-copilot',
  'openclaw-tui',
  'webchat',
  'cli',
  'gateway-client',
  'openclaw-macos',
  'openclaw-linux',
  'openclaw-ios',
  'openclaw-watchos',
  'openclaw-android',
  'node-host',
  'openclaw-worker',
  'test',
  'fingerprint',
  'openclaw-probe',
];

const GATEWAY_CLIENT_MODES: readonly string[] = [
  'webchat',
  'cli',
  'ui',
  'backend',
  'node',
  'worker',
  'probe',
  'test',
];

/** The lowest protocol a `probe`-mode client may ask for. */
const MIN_PROBE_PROTOCOL = 3;

/** Frames before hello-ok above this many bytes are closed with 1009 (✓ 2026.9.6). */
export const MAX_PREAUTH_PAYLOAD_BYTES = 64 * 1024;

const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const CLOSE_REASON_MAX_BYTES = 120;

/** The closed `req` envelope schema. */
export const RequestFrameSchema: SchemaNode = closedObject(
  {
    type: { kind: 'string', const: 'req' },
    id: nonEmptyString,
    method: nonEmptyString,
    params: { kind: 'any' },
  },
  ['type', 'id', 'method'],
);

/** The closed `connect` params schema of 2026.9.6 (spec 10 §2.2 plus the optional keys OpenClaw allows). */
export const ConnectParamsSchema: SchemaNode = closedObject(
  {
    minProtocol: integer(1),
    maxProtocol: integer(1),
    client: closedObject(
      {
        id: { kind: 'string', enum: GATEWAY_CLIENT_IDS },
        displayName: nonEmptyString,
        version: nonEmptyString,
        platform: nonEmptyString,
        deviceFamily: nonEmptyString,
        modelIdentifier: nonEmptyString,
        mode: { kind: 'string', enum: GATEWAY_CLIENT_MODES },
        instanceId: nonEmptyString,
      },
      ['id', 'version', 'platform', 'mode'],
    ),
    caps: arrayOf(nonEmptyString),
    commands: arrayOf(nonEmptyString),
    permissions: { kind: 'record', values: bool },
    pathEnv: anyString,
    role: nonEmptyString,
    scopes: arrayOf(nonEmptyString),
    device: closedObject(
      {
        id: nonEmptyString,
        publicKey: nonEmptyString,
        signature: nonEmptyString,
        signedAt: integer(0),
        nonce: nonEmptyString,
      },
      ['id', 'publicKey', 'signature', 'signedAt', 'nonce'],
    ),
    auth: closedObject({
      token: anyString,
      bootstrapToken: anyString,
      deviceToken: anyString,
      password: anyString,
      approvalRuntimeToken: anyString,
    }),
    locale: anyString,
    userAgent: anyString,
  },
  ['minProtocol', 'maxProtocol', 'client'],
);

/** Cuts a close reason to 120 UTF-8 bytes on a code-point boundary, as OpenClaw does. */
export function truncateCloseReason(reason: string): string {
  if (!reason) return 'invalid handshake';
  const buf = Buffer.from(reason);
  if (buf.length <= CLOSE_REASON_MAX_BYTES) return reason;
  let end = CLOSE_REASON_MAX_BYTES;
  while (end > 0 && ((buf[end] ?? 0) & 0xc0) === 0x80) end -= 1;
  return buf.toString('utf8', 0, end);
}

/** How the first frame of a connection was classified. */
export type FirstFrame =
  | { kind: 'not-json' }
  | { kind: 'not-request' }
  | { kind: 'not-connect'; frame: RequestFrame }
  | { kind: 'bad-params'; frame: RequestFrame; message: string }
  | { kind: 'connect'; frame: RequestFrame; params: Record<string, unknown> };

/** Classifies a pre-hello frame (JSON → closed `req` envelope → `connect` → closed params). */
export function classifyFirstFrame(text: string): FirstFrame {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { kind: 'not-json' };
  }
  if (validateSchema(RequestFrameSchema, parsed) !== undefined) return { kind: 'not-request' };
  const frame = parsed as RequestFrame;
  if (frame.method !== 'connect') return { kind: 'not-connect', frame };
  const problem = validateSchema(ConnectParamsSchema, frame.params);
  if (problem !== undefined)
    return { kind: 'bad-params', frame, message: `invalid connect params: ${problem}` };
  return { kind: 'connect', frame, params: frame.params as Record<string, unknown> };
}

/** Failed-auth bookkeeping for the optional rate limiter. */
export type RateLimitState = { failures: number; lockedUntil: number };

/** Everything the connect check needs besides the params. */
export type HandshakeEnv = {
  nonce: string;
  headers: IncomingHttpHeaders;
  protocol: number;
  token: string | undefined;
  skewMs: number;
  pairing: ReadonlyMap<string, FakePairingEntry> | undefined;
  rateLimit: { maxFailures: number; retryAfterMs: number } | undefined;
  rateLimitState: RateLimitState;
  now: number;
};

/** The result of checking a `connect`. */
export type ConnectDecision =
  | { kind: 'accept'; role: string; scopes: string[]; caps: string[]; authMethod: 'token' | 'none' }
  | { kind: 'reject'; error: ErrorShape; closeCode: number; closeReason: string };

type Device = { id: string; publicKey: string; signature: string; signedAt: number; nonce: string };
type AuthBlock = { token?: string; deviceToken?: string; bootstrapToken?: string; password?: string };
type ClientBlock = { id: string; mode: string; platform: string; deviceFamily?: string };

function reject(error: ErrorShape, closeCode = 1008, closeReason = error.message): ConnectDecision {
  return { kind: 'reject', error, closeCode, closeReason: truncateCloseReason(closeReason) };
}

/** Derives the device id (lowercase hex SHA-256 of the raw 32-byte key) or `undefined` for a bad key. */
export function deriveDeviceId(publicKey: string): string | undefined {
  const raw = Buffer.from(publicKey, 'base64url');
  if (raw.length !== 32) return undefined;
  return createHash('sha256').update(raw).digest('hex');
}

function verifyEd25519(publicKey: string, payload: string, signature: string): boolean {
  try {
    const key = createPublicKey({
      key: Buffer.concat([SPKI_ED25519_PREFIX, Buffer.from(publicKey, 'base64url')]),
      format: 'der',
      type: 'spki',
    });
    return verify(null, Buffer.from(payload, 'utf8'), key, Buffer.from(signature, 'base64url'));
  } catch {
    return false;
  }
}

const AUTH_MESSAGES: Record<string, string> = {
  token_missing: 'unauthorized: gateway token missing (provide gateway auth token)',
  token_mismatch: 'unauthorized: gateway token mismatch (provide gateway auth token)',
  rate_limited: 'unauthorized: too many failed authentication attempts (retry later)',
};
const AUTH_DETAIL_CODES: Record<string, string> = {
  token_missing: 'AUTH_TOKEN_MISSING',
  token_mismatch: 'AUTH_TOKEN_MISMATCH',
  rate_limited: 'AUTH_RATE_LIMITED',
};
const NEXT_STEPS: Record<string, string> = {
  token_missing: 'update_auth_configuration',
  token_mismatch: 'update_auth_credentials',
  rate_limited: 'wait_then_retry',
};

function rejectUnauthorized(
  reason: string,
  hasDevice: boolean,
  tokenProvided: boolean,
  retryAfterMs?: number,
) {
  const canRetryWithDeviceToken = reason === 'token_mismatch' && hasDevice && tokenProvided;
  const message = AUTH_MESSAGES[reason] ?? 'unauthorized';
  const error = invalidRequest(message, {
    code: AUTH_DETAIL_CODES[reason] ?? 'AUTH_UNAUTHORIZED',
    authReason: reason,
    canRetryWithDeviceToken,
    recommendedNextStep: canRetryWithDeviceToken
      ? 'retry_with_device_token'
      : (NEXT_STEPS[reason] ?? 'review_auth_configuration'),
  });
  if (retryAfterMs !== undefined) {
    error.retryable = true;
    error.retryAfterMs = retryAfterMs;
  }
  return reject(error);
}

const DEVICE_DETAIL_CODES: Record<string, string> = {
  'device-id-mismatch': 'DEVICE_AUTH_DEVICE_ID_MISMATCH',
  'device-signature-stale': 'DEVICE_AUTH_SIGNATURE_EXPIRED',
  'device-nonce-missing': 'DEVICE_AUTH_NONCE_REQUIRED',
  'device-nonce-mismatch': 'DEVICE_AUTH_NONCE_MISMATCH',
  'device-signature': 'DEVICE_AUTH_SIGNATURE_INVALID',
  'device-public-key': 'DEVICE_AUTH_PUBLIC_KEY_INVALID',
};

function rejectDevice(reason: string, message: string): ConnectDecision {
  return reject(
    invalidRequest(message, { code: DEVICE_DETAIL_CODES[reason] ?? 'DEVICE_AUTH_INVALID', reason }),
  );
}

const PAIRING_REQUIREMENTS: Record<string, { requirement: string; hint: string }> = {
  'not-paired': {
    requirement: 'device is not approved yet',
    hint: 'Approve this device from the pending pairing requests.',
  },
  'role-upgrade': {
    requirement: 'device is asking for a higher role than currently approved',
    hint: 'Review the requested role upgrade, then approve the pending request.',
  },
  'scope-upgrade': {
    requirement: 'device is asking for more scopes than currently approved',
    hint: 'Review the requested scopes, then approve the pending upgrade.',
  },
  'metadata-upgrade': {
    requirement: 'device identity changed and must be re-approved',
    hint: 'Review the refreshed device details, then approve the pending request.',
  },
};

function rejectPairing(
  reason: keyof typeof PAIRING_REQUIREMENTS,
  requestId: string,
  device: Device,
  role: string,
  scopes: readonly string[],
  entry: FakePairingEntry | undefined,
): ConnectDecision {
  const meta = PAIRING_REQUIREMENTS[reason] ?? { requirement: 'device approval is required', hint: '' };
  const message = `pairing required: ${meta.requirement}`;
  const details: Record<string, unknown> = {
    code: 'PAIRING_REQUIRED',
    reason,
    requestId,
    remediationHint: meta.hint,
    deviceId: device.id,
    requestedRole: role,
  };
  if (scopes.length > 0) details.requestedScopes = [...scopes];
  if (entry && entry.roles.length > 0) details.approvedRoles = [...entry.roles];
  if (entry && entry.scopes.length > 0) details.approvedScopes = [...entry.scopes];
  return reject({ code: 'NOT_PAIRED', message, details }, 1008, `${message} (requestId: ${requestId})`);
}

function scopesAllowed(requested: readonly string[], approved: readonly string[]): boolean {
  if (approved.includes('operator.admin')) return true;
  return requested.every(
    (scope) => approved.includes(scope) || (scope === 'operator.read' && approved.includes('operator.write')),
  );
}

function firstHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Checks accepted-shape `connect` params in OpenClaw's order: protocol → role → origin → missing device →
 * device proof (id, skew, nonce, signature) → shared-secret auth → pairing.
 */
export function evaluateConnect(params: Record<string, unknown>, env: HandshakeEnv): ConnectDecision {
  const client = params.client as ClientBlock;
  const minProtocol = params.minProtocol as number;
  const maxProtocol = params.maxProtocol as number;
  const supportsCurrent = maxProtocol >= env.protocol && minProtocol <= env.protocol;
  const supportsProbe =
    client.mode === 'probe' && maxProtocol >= MIN_PROBE_PROTOCOL && minProtocol <= env.protocol;
  if (!supportsCurrent && !supportsProbe) {
    const details = {
      code: 'PROTOCOL_MISMATCH',
      clientMinProtocol: minProtocol,
      clientMaxProtocol: maxProtocol,
      expectedProtocol: env.protocol,
      minimumProbeProtocol: MIN_PROBE_PROTOCOL,
    };
    return reject(invalidRequest('protocol mismatch', details), 1002);
  }

  const role = typeof params.role === 'string' ? params.role : 'operator';
  if (role !== 'operator' && role !== 'node') return reject(invalidRequest('invalid role'));
  let scopes = Array.isArray(params.scopes) ? [...(params.scopes as string[])] : [];
  const caps = Array.isArray(params.caps) ? [...(params.caps as string[])] : [];

  const origin = firstHeader(env.headers.origin)?.trim();
  if (origin) {
    let parsedOk = origin !== 'null';
    try {
      new URL(origin);
    } catch {
      parsedOk = false;
    }
    const message =
      'origin not allowed (open the Control UI from the gateway host or allow it in gateway.controlUi.allowedOrigins)';
    const details = {
      code: 'CONTROL_UI_ORIGIN_NOT_ALLOWED',
      reason: parsedOk ? 'origin not allowed' : 'origin missing or invalid',
    };
    return reject(invalidRequest(message, details));
  }

  const auth = (params.auth ?? {}) as AuthBlock;
  const tokenProvided = typeof auth.token === 'string' && auth.token.length > 0;
  const authMethod: 'token' | 'none' = env.token === undefined ? 'none' : 'token';
  let authReason: string | undefined;
  let retryAfterMs: number | undefined;
  if (env.token !== undefined) {
    if (env.rateLimit && env.rateLimitState.lockedUntil > env.now) {
      authReason = 'rate_limited';
      retryAfterMs = env.rateLimitState.lockedUntil - env.now;
    } else if (!tokenProvided) authReason = 'token_missing';
    else if (auth.token !== env.token) authReason = 'token_mismatch';
  }
  const failAuth = (hasDevice: boolean): ConnectDecision => {
    if (authReason !== 'rate_limited' && env.rateLimit) {
      const state = env.rateLimitState;
      if (state.lockedUntil !== 0 && state.lockedUntil <= env.now) state.failures = 0;
      state.failures += 1;
      if (state.failures >= env.rateLimit.maxFailures)
        state.lockedUntil = env.now + env.rateLimit.retryAfterMs;
    }
    return rejectUnauthorized(authReason ?? 'unauthorized', hasDevice, tokenProvided, retryAfterMs);
  };

  const device = params.device as Device | undefined;
  if (!device) {
    if (!tokenProvided) {
      return reject({
        code: 'NOT_PAIRED',
        message: 'device identity required',
        details: { code: 'DEVICE_IDENTITY_REQUIRED' },
      });
    }
    if (authReason !== undefined) return failAuth(false);
    // Device-less shared-token clients lose their self-declared scopes, except the local backend handoff.
    if (!(client.id === 'gateway-client' && client.mode === 'backend')) scopes = [];
    return { kind: 'accept', role, scopes, caps, authMethod };
  }

  if (deriveDeviceId(device.publicKey) !== device.id) {
    return rejectDevice('device-id-mismatch', 'device identity mismatch');
  }
  if (Math.abs(env.now - device.signedAt) > env.skewMs) {
    return rejectDevice('device-signature-stale', 'device signature expired');
  }
  const nonce = device.nonce.trim();
  if (!nonce) return rejectDevice('device-nonce-missing', 'device nonce required');
  if (nonce !== env.nonce) return rejectDevice('device-nonce-mismatch', 'device nonce mismatch');
  const signedFields = {
    deviceId: device.id,
    clientId: client.id,
    clientMode: client.mode,
    role,
    scopes,
    signedAtMs: device.signedAt,
    token: auth.token ?? auth.deviceToken ?? auth.bootstrapToken ?? '',
    nonce,
  };
  const v3 = buildDeviceAuthPayloadV3({
    ...signedFields,
    platform: client.platform,
    deviceFamily: client.deviceFamily,
  });
  if (
    !verifyEd25519(device.publicKey, v3, device.signature) &&
    !verifyEd25519(device.publicKey, buildDeviceAuthPayloadV2(signedFields), device.signature)
  ) {
    return rejectDevice('device-signature', 'device signature invalid');
  }

  if (authReason !== undefined) return failAuth(true);
  if (env.rateLimit) env.rateLimitState.failures = 0;

  const skipPairing = client.id === 'gateway-client' && client.mode === 'backend' && authMethod === 'token';
  if (env.pairing && !skipPairing) {
    const entry = env.pairing.get(device.id);
    const requestId = `pair-${device.id.slice(0, 12)}`;
    if (!entry) return rejectPairing('not-paired', requestId, device, role, scopes, undefined);
    const platformChanged =
      entry.platform !== undefined &&
      normalizeDeviceMetadata(entry.platform) !== normalizeDeviceMetadata(client.platform);
    const familyChanged =
      entry.deviceFamily !== undefined &&
      normalizeDeviceMetadata(entry.deviceFamily) !== normalizeDeviceMetadata(client.deviceFamily);
    if (platformChanged || familyChanged) {
      return rejectPairing('metadata-upgrade', requestId, device, role, scopes, entry);
    }
    if (!entry.roles.includes(role))
      return rejectPairing('role-upgrade', requestId, device, role, scopes, entry);
    if (scopes.length > 0 && !scopesAllowed(scopes, entry.scopes)) {
      return rejectPairing('scope-upgrade', requestId, device, role, scopes, entry);
    }
  }
  return { kind: 'accept', role, scopes, caps, authMethod };
}
