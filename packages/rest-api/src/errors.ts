// The closed table of API error codes (spec 20 §6.3), each with its HTTP status, and the one error class.

/** Every error code the API answers with, mapped to its HTTP status. */
export const REST_API_ERROR_CODES = {
  bad_request: 400,
  invalid_json: 400,
  invalid_query: 400,
  validation_failed: 400,
  token_in_query: 400,
  unauthorized: 401,
  forbidden_host: 403,
  forbidden_origin: 403,
  cross_site: 403,
  csrf_header_missing: 403,
  loopback_only: 403,
  not_found: 404,
  metrics_disabled: 404,
  method_not_allowed: 405,
  identity_mismatch: 409,
  reload_in_progress: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  config_invalid: 422,
  policy_invalid: 422,
  providers_invalid: 422,
  rate_limited: 429,
  internal: 500,
  gateway_error: 502,
  gateway_disconnected: 503,
  audit_unavailable: 503,
  overloaded: 503,
  no_token_configured: 503,
  shutting_down: 503,
  gateway_timeout: 504,
} as const;

/** One API error code. */
export type RestApiErrorCode = keyof typeof REST_API_ERROR_CODES;

/** The HTTP statuses the API answers errors with. */
export type RestApiErrorStatus = (typeof REST_API_ERROR_CODES)[RestApiErrorCode];

/** One validation problem: where (`path`, dotted) and what. */
export type Issue = { path: string; message: string };

/** The JSON body of every non-2xx answer. */
export type ErrorBody = {
  error: { code: RestApiErrorCode; message: string; request_id?: string; details?: Record<string, unknown> };
};

/** The one error class of `@defenseclaw/rest-api`: a closed `code`, its HTTP `status`, optional `details`. */
export class RestApiError extends Error {
  /** The machine-readable error code. */
  readonly code: RestApiErrorCode;
  /** The HTTP status of the answer. */
  readonly status: RestApiErrorStatus;
  /** Extra fields served under `error.details` (never secrets or request bodies). */
  readonly details: Record<string, unknown> | undefined;
  /** Extra response headers (`Allow`, `Retry-After`, `WWW-Authenticate`). */
  readonly headers: Record<string, string> | undefined;

  /** Creates an error with a closed code; the status follows from the code. */
  constructor(
    code: RestApiErrorCode,
    message: string,
    options: { details?: Record<string, unknown>; headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RestApiError';
    this.code = code;
    this.status = REST_API_ERROR_CODES[code];
    this.details = options.details;
    this.headers = options.headers;
  }
}

/**
 * Tells whether a value is a `RestApiError`, optionally with the given code.
 *
 * @example
 * if (isRestApiError(err, 'unauthorized')) retryWithToken();
 */
export function isRestApiError(value: unknown, code?: RestApiErrorCode): value is RestApiError {
  return value instanceof RestApiError && (code === undefined || value.code === code);
}
