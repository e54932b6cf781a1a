/** The closed table of `AuditStoreError.code` values. */
export const AUDIT_STORE_ERROR_CODES = {
  /** The database file could not be opened, created or read (bad path, not a database, corrupt). */
  OPEN_FAILED: 'OPEN_FAILED',
  /** The database path (or its `-wal`/`-shm` companion) is a symbolic link. */
  SYMLINK_REFUSED: 'SYMLINK_REFUSED',
  /** A pragma did not read back with the value that was set. */
  PRAGMA_MISMATCH: 'PRAGMA_MISMATCH',
  /** A pending migration failed; the transaction was rolled back and the database is unchanged. */
  MIGRATION_FAILED: 'MIGRATION_FAILED',
  /** The database carries migrations this build does not know (written by a newer version). */
  SCHEMA_TOO_NEW: 'SCHEMA_TOO_NEW',
  /** The write queue stayed full for `enqueueTimeoutMs`; the record was dropped and counted. */
  QUEUE_FULL: 'QUEUE_FULL',
  /** The store is closed or closing; the record was not accepted or was dropped at shutdown. */
  CLOSED: 'CLOSED',
  /** The record could not be committed (constraint violation or database failure). */
  WRITE_FAILED: 'WRITE_FAILED',
  /** A paging cursor is malformed. */
  INVALID_CURSOR: 'INVALID_CURSOR',
  /** An option or argument is out of range. */
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
} as const;

/** One of the codes an `AuditStoreError` can carry. */
export type AuditStoreErrorCode = (typeof AUDIT_STORE_ERROR_CODES)[keyof typeof AUDIT_STORE_ERROR_CODES];

/** The one error class of `@defenseclaw/audit-store`; `code` is closed, `cause` holds the origin. */
export class AuditStoreError extends Error {
  /** The machine-readable error code. */
  readonly code: AuditStoreErrorCode;

  /** Creates an error with a closed `code` and an optional cause. */
  constructor(code: AuditStoreErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AuditStoreError';
    this.code = code;
  }
}

/**
 * Tells whether a value is an `AuditStoreError`, optionally with the given code.
 *
 * @example
 * if (isAuditStoreError(err, 'QUEUE_FULL')) reply503('audit_unavailable');
 */
export function isAuditStoreError(value: unknown, code?: AuditStoreErrorCode): value is AuditStoreError {
  return value instanceof AuditStoreError && (code === undefined || value.code === code);
}
