/** The closed set of `PolicyError` codes. */
export const POLICY_ERROR_CODES = {
  /** Reading a pack file or directory failed. */
  IO: 'IO',
  /** An internal invariant broke (a bug). */
  INTERNAL: 'INTERNAL',
} as const;

/** A `PolicyError` code. */
export type PolicyErrorCode = (typeof POLICY_ERROR_CODES)[keyof typeof POLICY_ERROR_CODES];

/** The one error class of `@defenseclaw/policy`; thrown only for exceptional failures (file I/O). */
export class PolicyError extends Error {
  /** Why it failed. */
  readonly code: PolicyErrorCode;

  /** Creates a policy error with a closed code and an optional cause. */
  constructor(code: PolicyErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PolicyError';
    this.code = code;
  }
}

/** Returns whether `value` is a `PolicyError`. */
export function isPolicyError(value: unknown): value is PolicyError {
  return value instanceof PolicyError;
}
