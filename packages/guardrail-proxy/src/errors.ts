/** The closed set of `GuardrailProxyError` codes. */
export const GUARDRAIL_PROXY_ERROR_CODES = {
  /** The guardrail config (providers, aliases, limits) is invalid; `message` lists every problem by key. */
  CONFIG_INVALID: 'CONFIG_INVALID',
  /** The listener could not bind (`cause` carries the errno, e.g. `EADDRINUSE`). */
  LISTEN_FAILED: 'LISTEN_FAILED',
  /** The proxy was already closed. */
  CLOSED: 'CLOSED',
  /** An internal invariant broke (a bug). */
  INTERNAL: 'INTERNAL',
} as const;

/** A `GuardrailProxyError` code. */
export type GuardrailProxyErrorCode =
  (typeof GUARDRAIL_PROXY_ERROR_CODES)[keyof typeof GUARDRAIL_PROXY_ERROR_CODES];

/** The one error class of `@defenseclaw/guardrail-proxy`; thrown only for exceptional failures. */
export class GuardrailProxyError extends Error {
  /** Why it failed. */
  readonly code: GuardrailProxyErrorCode;

  /** Creates a proxy error with a closed code and an optional cause. */
  constructor(code: GuardrailProxyErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'GuardrailProxyError';
    this.code = code;
  }
}

/** Returns whether `value` is a `GuardrailProxyError`. */
export function isGuardrailProxyError(value: unknown): value is GuardrailProxyError {
  return value instanceof GuardrailProxyError;
}
