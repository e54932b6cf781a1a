// Read-only queries over the sidecar's `audit.db` (spec 20 §7.1 tables events, verdicts, findings,
// alerts) for tests. The caller opens the file (better-sqlite3 with `readonly: true` works while
// the sidecar runs: WAL lets readers in) and passes the handle; this file needs no driver.

/** Is the slice of a SQLite handle these queries use (better-sqlite3's `Database` fits). */
export type SqliteReader = {
  prepare(sql: string): { all(...params: unknown[]): unknown[] };
};

/** Is one `events` row. */
export type AuditEventRow = {
  id: number;
  ts: number;
  kind: string;
  source: string;
  dedupe_key: string | null;
  session_key: string | null;
  run_id: string | null;
  agent_id: string | null;
  tool: string | null;
  call_id: string | null;
  request_id: string | null;
  summary: string | null;
  payload: string | null;
};

/** Is one `verdicts` row, `rule_ids` parsed. */
export type AuditVerdictRow = {
  id: number;
  event_id: number;
  ts: number;
  lane: string;
  action: string;
  raw_action: string;
  mode: string;
  would_block: number;
  severity: string | null;
  rule_ids: string[];
  reason: string | null;
  enforced: number;
  enforcement: string | null;
};

/** Is one `alerts` row, `rule_ids` parsed. */
export type AuditAlertRow = {
  id: number;
  ts: number;
  event_id: number;
  verdict_id: number | null;
  category: string;
  severity: string;
  title: string;
  lane: string | null;
  action: string | null;
  raw_action: string | null;
  enforced: number | null;
  tool: string | null;
  session_key: string | null;
  rule_ids: string[];
};

/** Is one `findings` row. */
export type AuditFindingRow = {
  id: number;
  verdict_id: number;
  rule_id: string;
  category: string;
  title: string;
  severity: string;
  target: string;
  basis: string;
  detection_only: number;
  snippet: string | null;
};

/** Is an event with its verdicts. */
export type AuditEvent = AuditEventRow & { verdicts: AuditVerdictRow[] };

/** Lists events (oldest first) with their verdicts, optionally of one kind and/or session. */
export function listAuditEvents(
  db: SqliteReader,
  filter: { kind?: string; sessionKey?: string; sinceId?: number } = {},
): AuditEvent[] {
  const where: string[] = ['id > ?'];
  const params: unknown[] = [filter.sinceId ?? 0];
  if (filter.kind !== undefined) {
    where.push('kind = ?');
    params.push(filter.kind);
  }
  if (filter.sessionKey !== undefined) {
    where.push('session_key = ?');
    params.push(filter.sessionKey);
  }
  const events = db
    .prepare(
      `SELECT id, ts, kind, source, dedupe_key, session_key, run_id, agent_id, tool, call_id, request_id, summary, payload
       FROM events WHERE ${where.join(' AND ')} ORDER BY id`,
    )
    .all(...params) as AuditEventRow[];
  if (events.length === 0) return [];
  const verdicts = listVerdicts(db, events[0]?.id ?? 0);
  const byEvent = new Map<number, AuditVerdictRow[]>();
  for (const verdict of verdicts) {
    const list = byEvent.get(verdict.event_id) ?? [];
    list.push(verdict);
    byEvent.set(verdict.event_id, list);
  }
  return events.map((event) => ({ ...event, verdicts: byEvent.get(event.id) ?? [] }));
}

/** Lists alerts (oldest first), optionally of one session. */
export function listAuditAlerts(db: SqliteReader, filter: { sessionKey?: string } = {}): AuditAlertRow[] {
  const rows = (
    filter.sessionKey === undefined
      ? db.prepare('SELECT * FROM alerts ORDER BY id').all()
      : db.prepare('SELECT * FROM alerts WHERE session_key = ? ORDER BY id').all(filter.sessionKey)
  ) as (Omit<AuditAlertRow, 'rule_ids'> & { rule_ids: string | null })[];
  return rows.map((row) => ({ ...row, rule_ids: parseIds(row.rule_ids) }));
}

/** Lists the findings of one verdict, in id order. */
export function listAuditFindings(db: SqliteReader, verdictId: number): AuditFindingRow[] {
  return db
    .prepare(
      `SELECT id, verdict_id, rule_id, category, title, severity, target, basis, detection_only, snippet
       FROM findings WHERE verdict_id = ? ORDER BY id`,
    )
    .all(verdictId) as AuditFindingRow[];
}

/** Names the `table.column` cells (of events, findings, alerts) whose text contains `needle`. */
export function cellsContaining(db: SqliteReader, needle: string): string[] {
  const columns: [string, string][] = [
    ['events', 'summary'],
    ['events', 'payload'],
    ['findings', 'snippet'],
    ['findings', 'title'],
    ['alerts', 'title'],
  ];
  const found: string[] = [];
  for (const [table, column] of columns) {
    const rows = db
      .prepare(`SELECT id FROM ${table} WHERE instr(${column}, ?) > 0 ORDER BY id`)
      .all(needle) as { id: number }[];
    for (const row of rows) found.push(`${table}.${column}#${row.id}`);
  }
  return found;
}

/** Runs `PRAGMA integrity_check` and returns its lines (`['ok']` for a sound file). */
export function integrityCheck(db: SqliteReader): string[] {
  return (db.prepare('PRAGMA integrity_check').all() as { integrity_check: string }[]).map(
    (row) => row.integrity_check,
  );
}

/** Reads a `meta` value. */
export function metaValue(db: SqliteReader, key: string): string | undefined {
  const rows = db.prepare('SELECT value FROM meta WHERE key = ?').all(key) as { value: unknown }[];
  const value = rows[0]?.value;
  return value === undefined || value === null ? undefined : String(value);
}

/** Parses an event's JSON payload, or returns `undefined`. */
export function eventPayload(event: AuditEventRow): Record<string, unknown> | undefined {
  if (event.payload === null) return undefined;
  try {
    const value: unknown = JSON.parse(event.payload);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

// --- internal ---

function listVerdicts(db: SqliteReader, fromEventId: number): AuditVerdictRow[] {
  const rows = db
    .prepare(
      `SELECT id, event_id, ts, lane, action, raw_action, mode, would_block, severity, rule_ids, reason, enforced, enforcement
       FROM verdicts WHERE event_id >= ? ORDER BY id`,
    )
    .all(fromEventId) as (Omit<AuditVerdictRow, 'rule_ids'> & { rule_ids: string | null })[];
  return rows.map((row) => ({ ...row, rule_ids: parseIds(row.rule_ids) }));
}

function parseIds(text: string | null): string[] {
  if (text === null || text === '') return [];
  try {
    const value: unknown = JSON.parse(text);
    return Array.isArray(value) ? value.map(String) : [];
  } catch {
    return [];
  }
}
