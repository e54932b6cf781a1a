import { CONNECT_DETAIL_CODES, type ErrorShape, getDetailCode, getDetailReason } from '@defenseclaw/protocol';

/** The closed table of `GatewayClientError.code` values (spec 10 §5, plus `MALFORMED_FRAME` and the device-key codes). */
export const GATEWAY_CLIENT_ERROR_CODES = {
  NOT_CONNECTED: 'NOT_CONNECTED',
  TIMEOUT: 'TIMEOUT',
  ABORTED: 'ABORTED',
  CLOSED: 'CLOSED',
  REQUEST_FAILED: 'REQUEST_FAILED',
  RESULT_INVALID: 'RESULT_INVALID',
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FRAME_TOO_LARGE: 'FRAME_TOO_LARGE',
  SOCKET_ERROR: 'SOCKET_ERROR',
  CHALLENGE_TIMEOUT: 'CHALLENGE_TIMEOUT',
  CHALLENGE_INVALID: 'CHALLENGE_INVALID',
  HELLO_TIMEOUT: 'HELLO_TIMEOUT',
  HELLO_INVALID: 'HELLO_INVALID',
  HANDSHAKE_CLOSED: 'HANDSHAKE_CLOSED',
  CONNECT_REJECTED: 'CONNECT_REJECTED',
  PROTOCOL_UNSUPPORTED: 'PROTOCOL_UNSUPPORTED',
  BUFFER_OVERFLOW: 'BUFFER_OVERFLOW',
  TICK_TIMEOUT: 'TICK_TIMEOUT',
  MALFORMED_FRAME: 'MALFORMED_FRAME',
  DEVICE_KEY_INVALID: 'DEVICE_KEY_INVALID',
  DEVICE_KEY_IO: 'DEVICE_KEY_IO',
} as const;

/** One of the codes a `GatewayClientError` can carry. */
export type GatewayClientErrorCode =
  (typeof GATEWAY_CLIENT_ERROR_CODES)[keyof typeof GATEWAY_CLIENT_ERROR_CODES];

/** The closed table of handshake rejection classes (spec 10 §2.7). */
export const CONNECT_REJECTIONS = [
  'auth',
  'rate-limited',
  'device',
  'pairing',
  'pairing-upgrade',
  'protocol',
  'params',
  'unavailable',
  'other',
] as const;

/** How a `CONNECT_REJECTED` error is classified; it decides auth repair and the health state. */
export type ConnectRejection = (typeof CONNECT_REJECTIONS)[number];

/** The optional fields a `GatewayClientError` carries besides `code` and `message`. */
export type GatewayClientErrorOptions = {
  /** The underlying error or close information. */
  cause?: unknown;
  /** The RPC method that failed. */
  method?: string | undefined;
  /** The server's full ErrorShape for `REQUEST_FAILED` and `CONNECT_REJECTED`. */
  serverError?: ErrorShape | undefined;
  /** `serverError.details.code` when the server sent one. */
  detailCode?: string | undefined;
  /** The handshake rejection class of a `CONNECT_REJECTED` error. */
  rejection?: ConnectRejection | undefined;
  /** The pairing request id the operator has to approve in OpenClaw. */
  requestId?: string | undefined;
  /** The WebSocket close code that ended the connection or handshake. */
  closeCode?: number | undefined;
  /** The WebSocket close reason that ended the connection or handshake. */
  closeReason?: string | undefined;
  /** The server's hint for how long to wait before trying again. */
  retryAfterMs?: number | undefined;
};

/** The one error class of `@defenseclaw/gateway-client`; `code` is closed, `cause` holds the origin. */
export class GatewayClientError extends Error {
  /** The machine-readable error code. */
  readonly code: GatewayClientErrorCode;
  /** The RPC method that failed, when one did. */
  readonly method: string | undefined;
  /** The server's ErrorShape, when the server reported the failure. */
  readonly serverError: ErrorShape | undefined;
  /** `serverError.details.code`, when present. */
  readonly detailCode: string | undefined;
  /** The handshake rejection class, for `CONNECT_REJECTED`. */
  readonly rejection: ConnectRejection | undefined;
  /** The pending pairing request id, for pairing rejections. */
  readonly requestId: string | undefined;
  /** The close code that ended the connection, when one did. */
  readonly closeCode: number | undefined;
  /** The close reason that ended the connection, when one did. */
  readonly closeReason: string | undefined;
  /** The server's retry hint in milliseconds, when it sent one. */
  readonly retryAfterMs: number | undefined;

  /** Creates an error with a closed `code` and optional context. */
  constructor(code: GatewayClientErrorCode, message: string, options: GatewayClientErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GatewayClientError';
    this.code = code;
    this.method = options.method;
    this.serverError = options.serverError;
    this.detailCode = options.detailCode;
    this.rejection = options.rejection;
    this.requestId = options.requestId;
    this.closeCode = options.closeCode;
    this.closeReason = options.closeReason;
    this.retryAfterMs = options.retryAfterMs;
  }
}

/**
 * Tells whether a value is a `GatewayClientError`, optionally with the given code.
 *
 * @example
 * if (isGatewayClientError(err, 'TIMEOUT')) retryLater();
 */
export function isGatewayClientError(
  value: unknown,
  code?: GatewayClientErrorCode,
): value is GatewayClientError {
  return value instanceof GatewayClientError && (code === undefined || value.code === code);
}

/** Tells whether an error is the server refusing a method for our role (`unauthorized role: operator`). */
export function isRoleError(value: unknown): boolean {
  return (
    isGatewayClientError(value, 'REQUEST_FAILED') &&
    value.serverError?.message.startsWith('unauthorized role') === true
  );
}

// --- internal ---

const D = CONNECT_DETAIL_CODES;

const DEVICE_DETAIL_CODES: ReadonlySet<string> = new Set([
  D.DEVICE_IDENTITY_REQUIRED,
  D.DEVICE_AUTH_INVALID,
  D.DEVICE_AUTH_DEVICE_ID_MISMATCH,
  D.DEVICE_AUTH_SIGNATURE_EXPIRED,
  D.DEVICE_AUTH_NONCE_REQUIRED,
  D.DEVICE_AUTH_NONCE_MISMATCH,
  D.DEVICE_AUTH_SIGNATURE_INVALID,
  D.DEVICE_AUTH_PUBLIC_KEY_INVALID,
  D.CONTROL_UI_DEVICE_IDENTITY_REQUIRED,
]);

const PAIRING_UPGRADE_REASONS: ReadonlySet<string> = new Set(['role-upgrade', 'scope-upgrade']);

/** Classifies a rejected `connect` response per spec 10 §2.7. */
export function classifyConnectRejection(error: ErrorShape): ConnectRejection {
  const detail = getDetailCode(error);
  const message = error.message.toLowerCase();
  if (detail === D.PROTOCOL_MISMATCH) return 'protocol';
  if (detail === D.AUTH_RATE_LIMITED) return 'rate-limited';
  if (detail === D.PAIRING_REQUIRED || message.startsWith('pairing required')) {
    const reason = getDetailReason(error);
    return reason !== undefined && PAIRING_UPGRADE_REASONS.has(reason) ? 'pairing-upgrade' : 'pairing';
  }
  if (detail !== undefined) {
    if (DEVICE_DETAIL_CODES.has(detail) || detail.startsWith('DEVICE_')) return 'device';
    if (detail.startsWith('AUTH_')) return 'auth';
    if (detail.startsWith('CONTROL_UI_')) return 'other';
  }
  if (error.code === 'UNAVAILABLE') return 'unavailable';
  if (message.startsWith('protocol mismatch')) return 'protocol';
  if (message.startsWith('device ')) return 'device';
  if (message.startsWith('unauthorized')) return 'auth';
  if (message.startsWith('invalid connect params') || message.startsWith('invalid role')) return 'params';
  if (message.startsWith('invalid handshake') || message.startsWith('invalid request frame')) return 'params';
  return 'other';
}

/** Builds the `CONNECT_REJECTED` error for a failed `connect` response. */
export function createConnectRejectedError(
  error: ErrorShape,
  extra: {
    closeCode?: number | undefined;
    closeReason?: string | undefined;
    protocolRange?: readonly [number, number];
  },
): GatewayClientError {
  const detailCode = getDetailCode(error);
  const rejection = classifyConnectRejection(error);
  const codes = detailCode === undefined ? error.code : `${error.code}/${detailCode}`;
  let message = `connect rejected: ${error.message} (${codes})`;
  const details = isRecordValue(error.details) ? error.details : undefined;
  if (rejection === 'protocol' && details !== undefined && typeof details.expectedProtocol === 'number') {
    const range = extra.protocolRange;
    const ours = range === undefined ? '' : `, we support ${range[0]}–${range[1]}`;
    message += `: server speaks protocol ${details.expectedProtocol}${ours}`;
  }
  const requestId =
    details !== undefined && typeof details.requestId === 'string' ? details.requestId : undefined;
  if (rejection === 'pairing-upgrade') {
    message += `: approve the pending device request in OpenClaw${requestId === undefined ? '' : ` (requestId ${requestId})`}`;
  } else if (rejection === 'pairing' && requestId !== undefined) {
    message += ` (requestId ${requestId})`;
  }
  return new GatewayClientError('CONNECT_REJECTED', message, {
    serverError: error,
    detailCode,
    rejection,
    requestId,
    closeCode: extra.closeCode,
    closeReason: extra.closeReason,
    retryAfterMs: typeof error.retryAfterMs === 'number' ? error.retryAfterMs : undefined,
  });
}

/** Returns a copy of `error` whose message is prefixed, keeping every field (used by composite helpers). */
export function prefixError(error: unknown, prefix: string): GatewayClientError {
  if (!isGatewayClientError(error)) {
    const message = error instanceof Error ? error.message : String(error);
    return new GatewayClientError('REQUEST_FAILED', `${prefix}: ${message}`, { cause: error });
  }
  return new GatewayClientError(error.code, `${prefix}: ${error.message}`, {
    cause: error,
    method: error.method,
    serverError: error.serverError,
    detailCode: error.detailCode,
    rejection: error.rejection,
    requestId: error.requestId,
    closeCode: error.closeCode,
    closeReason: error.closeReason,
    retryAfterMs: error.retryAfterMs,
  });
}

function isRecordValue(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
