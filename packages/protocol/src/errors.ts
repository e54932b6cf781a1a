import * as v from 'valibot';

/** The top-level `error.code` values OpenClaw is known to send; any other string is accepted too. */
export const ERROR_CODES = {
  INVALID_REQUEST: 'INVALID_REQUEST',
  NOT_PAIRED: 'NOT_PAIRED',
  FORBIDDEN: 'FORBIDDEN',
  UNAVAILABLE: 'UNAVAILABLE',
  NOT_LINKED: 'NOT_LINKED',
  AGENT_TIMEOUT: 'AGENT_TIMEOUT',
  AGENT_RESULT_NOT_FOUND: 'AGENT_RESULT_NOT_FOUND',
  APPROVAL_NOT_FOUND: 'APPROVAL_NOT_FOUND',
} as const;

/** One of the known top-level error codes. */
export type ErrorCode = (typeof ERROR_CODES)[keyof typeof ERROR_CODES];

/** Validates the `error` object of a failed `res` frame (loose: extra keys are kept). */
export const ErrorShapeSchema = v.looseObject({
  code: v.string(),
  message: v.string(),
  details: v.optional(v.unknown()),
  retryable: v.optional(v.boolean()),
  retryAfterMs: v.optional(v.number()),
});

/** The `error` object of a failed `res` frame. */
export type ErrorShape = {
  code: string;
  message: string;
  details?: unknown;
  retryable?: boolean;
  retryAfterMs?: number;
} & Record<string, unknown>;

/** The `error.details.code` values OpenClaw sends when it rejects a `connect` (spec 10 §1.5). */
export const CONNECT_DETAIL_CODES = {
  AUTH_REQUIRED: 'AUTH_REQUIRED',
  AUTH_UNAUTHORIZED: 'AUTH_UNAUTHORIZED',
  AUTH_TOKEN_MISSING: 'AUTH_TOKEN_MISSING',
  AUTH_TOKEN_MISMATCH: 'AUTH_TOKEN_MISMATCH',
  AUTH_TOKEN_NOT_CONFIGURED: 'AUTH_TOKEN_NOT_CONFIGURED',
  AUTH_PASSWORD_MISSING: 'AUTH_PASSWORD_MISSING',
  AUTH_PASSWORD_MISMATCH: 'AUTH_PASSWORD_MISMATCH',
  AUTH_PASSWORD_NOT_CONFIGURED: 'AUTH_PASSWORD_NOT_CONFIGURED',
  AUTH_BOOTSTRAP_TOKEN_INVALID: 'AUTH_BOOTSTRAP_TOKEN_INVALID',
  AUTH_DEVICE_TOKEN_MISMATCH: 'AUTH_DEVICE_TOKEN_MISMATCH',
  AUTH_DEVICE_TOKEN_SCOPE_MISMATCH: 'AUTH_DEVICE_TOKEN_SCOPE_MISMATCH',
  AUTH_RATE_LIMITED: 'AUTH_RATE_LIMITED',
  DEVICE_IDENTITY_REQUIRED: 'DEVICE_IDENTITY_REQUIRED',
  DEVICE_AUTH_INVALID: 'DEVICE_AUTH_INVALID',
  DEVICE_AUTH_DEVICE_ID_MISMATCH: 'DEVICE_AUTH_DEVICE_ID_MISMATCH',
  DEVICE_AUTH_SIGNATURE_EXPIRED: 'DEVICE_AUTH_SIGNATURE_EXPIRED',
  DEVICE_AUTH_NONCE_REQUIRED: 'DEVICE_AUTH_NONCE_REQUIRED',
  DEVICE_AUTH_NONCE_MISMATCH: 'DEVICE_AUTH_NONCE_MISMATCH',
  DEVICE_AUTH_SIGNATURE_INVALID: 'DEVICE_AUTH_SIGNATURE_INVALID',
  DEVICE_AUTH_PUBLIC_KEY_INVALID: 'DEVICE_AUTH_PUBLIC_KEY_INVALID',
  PAIRING_REQUIRED: 'PAIRING_REQUIRED',
  PROTOCOL_MISMATCH: 'PROTOCOL_MISMATCH',
  CONTROL_UI_ORIGIN_NOT_ALLOWED: 'CONTROL_UI_ORIGIN_NOT_ALLOWED',
  CONTROL_UI_DEVICE_IDENTITY_REQUIRED: 'CONTROL_UI_DEVICE_IDENTITY_REQUIRED',
} as const;

/** One of the known connect detail codes (the `AUTH_TAILSCALE_*` family is matched by prefix instead). */
export type ConnectDetailCode = (typeof CONNECT_DETAIL_CODES)[keyof typeof CONNECT_DETAIL_CODES];

/** The WebSocket close codes that OpenClaw and our client use (spec 10 §1.3). */
export const CLOSE_CODES = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 1002,
  POLICY_VIOLATION: 1008,
  MESSAGE_TOO_BIG: 1009,
  SERVICE_RESTART: 1012,
  TICK_TIMEOUT: 4000,
  AUTH_CHANGED: 4001,
} as const;

/** One of the known close codes. */
export type CloseCode = (typeof CLOSE_CODES)[keyof typeof CLOSE_CODES];

function detailString(error: ErrorShape, key: string): string | undefined {
  const details = error.details;
  if (typeof details !== 'object' || details === null) return undefined;
  const value = (details as Record<string, unknown>)[key];
  return typeof value === 'string' ? value : undefined;
}

/** Returns `error.details.code` when it is a string (for example `AUTH_TOKEN_MISMATCH`). */
export function getDetailCode(error: ErrorShape): string | undefined {
  return detailString(error, 'code');
}

/** Returns `error.details.reason` when it is a string (for example `APPROVAL_NOT_FOUND` or `not-paired`). */
export function getDetailReason(error: ErrorShape): string | undefined {
  return detailString(error, 'reason');
}
