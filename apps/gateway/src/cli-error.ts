/** Exit codes of `defenseclaw-gateway` (spec 20 §2.1). */
export const EXIT_CODES = {
  OK: 0,
  RUNTIME: 1,
  USAGE: 2,
  CONFIG: 3,
  BIND: 4,
  /** The daemon exited during startup or was not ready in time. */
  STARTUP: 5,
  /** Refused: PID identity unverifiable, or another lifecycle command holds the lock. */
  REFUSED: 6,
  /** The process was still alive 2 s after SIGKILL. */
  SURVIVED: 7,
} as const;

/** One exit code. */
export type ExitCode = (typeof EXIT_CODES)[keyof typeof EXIT_CODES];

/** An expected CLI failure: the message is printed to stderr as is and the process exits with `exitCode`. */
export class CliError extends Error {
  override readonly name = 'CliError';
  /** The process exit code. */
  readonly exitCode: ExitCode;

  constructor(exitCode: ExitCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.exitCode = exitCode;
  }
}

/** Tells whether a value is a `CliError`. */
export function isCliError(value: unknown): value is CliError {
  return value instanceof CliError;
}
