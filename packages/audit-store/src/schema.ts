// The audit database schema (spec 20 §7.1 and §7.3): one file, the single source of the generated
// migrations in ../drizzle. Timestamps are INTEGER Unix milliseconds; JSON columns hold text.
import { sql } from 'drizzle-orm';
import {
  type AnySQLiteColumn,
  index,
  integer,
  real,
  sqliteTable,
  text,
  uniqueIndex,
} from 'drizzle-orm/sqlite-core';

/** Stores one row per observed or produced event (tool call, approval, proxy request, lifecycle). */
export const events = sqliteTable(
  'events',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    ts: integer('ts').notNull(),
    kind: text('kind').notNull(),
    source: text('source', { enum: ['ws', 'inspect', 'proxy', 'watcher', 'api', 'sidecar'] }).notNull(),
    dedupeKey: text('dedupe_key').unique('events_dedupe_key_unique'),
    sessionKey: text('session_key'),
    runId: text('run_id'),
    agentId: text('agent_id'),
    tool: text('tool'),
    callId: text('call_id'),
    requestId: text('request_id'),
    connId: text('conn_id'),
    seq: integer('seq'),
    summary: text('summary'),
    payload: text('payload'),
    payloadBytes: integer('payload_bytes'),
    payloadSha256: text('payload_sha256'),
  },
  (t) => [
    index('events_kind_id_idx').on(t.kind, t.id),
    index('events_session_key_id_idx').on(t.sessionKey, t.id),
    index('events_tool_id_idx').on(t.tool, t.id),
    index('events_ts_idx').on(t.ts),
  ],
);

/** Stores the policy verdicts of an event, at most one per lane. */
export const verdicts = sqliteTable(
  'verdicts',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    eventId: integer('event_id')
      .notNull()
      .references(() => events.id, { onDelete: 'cascade' }),
    ts: integer('ts').notNull(),
    lane: text('lane').notNull(),
    action: text('action').notNull(),
    rawAction: text('raw_action').notNull(),
    mode: text('mode').notNull(),
    wouldBlock: integer('would_block', { mode: 'boolean' }).notNull(),
    severity: text('severity'),
    severityRank: integer('severity_rank').notNull().default(0),
    ruleIds: text('rule_ids').notNull().default('[]'),
    reason: text('reason'),
    profile: text('profile'),
    generationId: text('generation_id'),
    enforced: integer('enforced', { mode: 'boolean' }).notNull().default(false),
    enforcement: text('enforcement').notNull().default('none'),
    scanMicros: integer('scan_micros'),
    errorCode: text('error_code'),
  },
  (t) => [uniqueIndex('verdicts_event_id_lane_unique').on(t.eventId, t.lane)],
);

/** Stores the redacted findings behind a verdict. */
export const findings = sqliteTable(
  'findings',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    verdictId: integer('verdict_id')
      .notNull()
      .references(() => verdicts.id, { onDelete: 'cascade' }),
    ruleId: text('rule_id').notNull(),
    category: text('category').notNull(),
    title: text('title').notNull(),
    severity: text('severity').notNull(),
    severityRank: integer('severity_rank').notNull(),
    confidence: real('confidence'),
    target: text('target'),
    basis: text('basis'),
    detectionOnly: integer('detection_only', { mode: 'boolean' }).notNull().default(false),
    snippet: text('snippet'),
    location: text('location'),
    fingerprint: text('fingerprint'),
    tags: text('tags').notNull().default('[]'),
  },
  (t) => [index('findings_verdict_id_idx').on(t.verdictId), index('findings_rule_id_idx').on(t.ruleId)],
);

/** Stores alerts: verdict-derived and lifecycle ones, with a mutable acknowledgement. */
export const alerts = sqliteTable(
  'alerts',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    ts: integer('ts').notNull(),
    eventId: integer('event_id')
      .notNull()
      .references(() => events.id, { onDelete: 'cascade' }),
    verdictId: integer('verdict_id').references((): AnySQLiteColumn => verdicts.id, { onDelete: 'cascade' }),
    category: text('category').notNull(),
    severity: text('severity').notNull(),
    severityRank: integer('severity_rank').notNull(),
    title: text('title').notNull(),
    lane: text('lane'),
    action: text('action'),
    rawAction: text('raw_action'),
    mode: text('mode'),
    enforced: integer('enforced', { mode: 'boolean' }).notNull().default(false),
    tool: text('tool'),
    sessionKey: text('session_key'),
    ruleIds: text('rule_ids').notNull().default('[]'),
    ackedAt: integer('acked_at'),
    ackedBy: text('acked_by'),
    ackNote: text('ack_note'),
  },
  (t) => [
    // Open alerts, newest first: the /alerts default. Only unacknowledged rows are indexed.
    index('alerts_open_id_idx').on(t.id).where(sql`acked_at IS NULL`),
    index('alerts_severity_rank_id_idx').on(t.severityRank, t.id),
    index('alerts_tool_id_idx').on(t.tool, t.id),
    index('alerts_session_key_id_idx').on(t.sessionKey, t.id),
    index('alerts_ts_idx').on(t.ts),
    // Foreign-key children need an index, or every cascading delete scans the whole table.
    index('alerts_event_id_idx').on(t.eventId),
    index('alerts_verdict_id_idx').on(t.verdictId),
  ],
);

/** Stores the block and allow lists: one list per (target type, name, connector). */
export const actions = sqliteTable(
  'actions',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    targetType: text('target_type', { enum: ['tool', 'skill', 'mcp', 'command', 'plugin'] }).notNull(),
    targetName: text('target_name').notNull(),
    connector: text('connector').notNull().default(''),
    list: text('list', { enum: ['block', 'allow'] }).notNull(),
    reason: text('reason'),
    source: text('source', { enum: ['api', 'cli', 'watcher'] }).notNull(),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
    expiresAt: integer('expires_at'),
  },
  (t) => [uniqueIndex('actions_target_unique').on(t.targetType, t.targetName, t.connector)],
);

/** Stores small key/value facts about the database itself (instance id, shutdown state, cursors). */
export const meta = sqliteTable('meta', {
  key: text('key').primaryKey(),
  value: text('value').notNull(),
});
