/** A structured logger the supervisor accepts instead of printing (structurally the workspace's `Logger`). */
export interface Logger {
  /** Records a diagnostic detail that is only useful while debugging. */
  debug(msg: string, fields?: Record<string, unknown>): void;
  /** Records a routine event worth keeping. */
  info(msg: string, fields?: Record<string, unknown>): void;
  /** Records a recoverable problem. */
  warn(msg: string, fields?: Record<string, unknown>): void;
  /** Records a failure. */
  error(msg: string, fields?: Record<string, unknown>): void;
}

const noop = (): void => {};

/** A logger that discards everything; the default when no logger is given. */
export const silentLogger: Logger = Object.freeze({ debug: noop, info: noop, warn: noop, error: noop });
