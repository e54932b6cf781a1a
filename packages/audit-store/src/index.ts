export { encodeCursor } from './_cursor.ts';
export type { InsertStatements } from './_insert.ts';
export { MAX_SNIPPET_CHARS, MAX_SUMMARY_CHARS } from './_prepare.ts';
export {
  AUDIT_STORE_ERROR_CODES,
  AuditStoreError,
  type AuditStoreErrorCode,
  isAuditStoreError,
} from './errors.ts';
export {
  LIST_TARGET_TYPES,
  type ListEntry,
  type ListKey,
  type ListName,
  type ListRow,
  type ListSource,
  type ListStore,
  type ListTargetType,
  type ListUpsert,
} from './lists.ts';
export { META_KEYS, type MetaStore, type PreviousShutdown } from './meta.ts';
export { type AuditStore, type AuditStoreOptions, openAuditStore } from './open.ts';
export {
  type AckFilter,
  type AckOptions,
  type AlertFilter,
  type AlertRow,
  type AuditCounts,
  type AuditQueries,
  DEFAULT_PAGE_LIMIT,
  type EventDetail,
  type EventFilter,
  type EventRow,
  type FindingRow,
  MAX_PAGE_LIMIT,
  type Page,
  type VerdictRow,
} from './queries.ts';
export {
  RETENTION_BATCH_ROWS,
  RETENTION_VACUUM_PAGES,
  type RetentionOptions,
  type RetentionResult,
} from './retention.ts';
export {
  createSplunkForwarder,
  HEC_EVENT_PATH,
  SPLUNK_DEFAULTS,
  SPLUNK_SKIPPED_KIND,
  type SplunkBatchInfo,
  type SplunkCircuitState,
  type SplunkEndpoint,
  type SplunkForwarder,
  type SplunkForwarderOptions,
  type SplunkState,
  type SplunkStats,
  splunkEndpoint,
} from './splunk-forwarder.ts';
export * from './types.ts';
export { PRESSURE_HIGH, PRESSURE_LOW } from './writer.ts';
