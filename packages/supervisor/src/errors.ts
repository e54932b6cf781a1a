/** The closed table of `SupervisorError.code` values. */
export const SUPERVISOR_ERROR_CODES = {
  /** A child process could not be spawned (missing binary, bad cwd, no PID assigned). */
  SPAWN_FAILED: 'SPAWN_FAILED',
  /** A file the supervisor owns (PID file, lock, log, state) could not be read or written. */
  FILE_FAILED: 'FILE_FAILED',
  /** A path that must be a regular file is a symbolic link or another kind of file. */
  NOT_A_FILE: 'NOT_A_FILE',
  /** An option or argument is out of range. */
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
  /** The platform does not support the operation (process identity on Windows, a unit for the wrong OS). */
  UNSUPPORTED_PLATFORM: 'UNSUPPORTED_PLATFORM',
} as const;

/** One of the codes a `SupervisorError` can carry. */
export type SupervisorErrorCode = (typeof SUPERVISOR_ERROR_CODES)[keyof typeof SUPERVISOR_ERROR_CODES];

/** The one error class of `@defenseclaw/supervisor`; `code` is closed, `cause` holds the origin. */
export class SupervisorError extends Error {
  /** The machine-readable error code. */
  readonly code: SupervisorErrorCode;

  /** Creates an error with a closed `code` and an optional cause. */
  constructor(code: SupervisorErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SupervisorError';
    this.code = code;
  }
}

/**
 * Tells whether a value is a `SupervisorError`, optionally with the given code.
 *
 * @example
 * if (isSupervisorError(err, 'SPAWN_FAILED')) exitCode = 5;
 */
export function isSupervisorError(value: unknown, code?: SupervisorErrorCode): value is SupervisorError {
  return value instanceof SupervisorError && (code === undefined || value.code === code);
}
