// The insert path, in two interchangeable flavours over the same prepared parameters: raw better-sqlite3
// statements (the default: multi-row INSERTs, one per table and chunk of records) and drizzle prepared queries, one
// row at a time (kept for the B1 benchmark and as a cross-check that the hand-written SQL matches the schema).
import type Database from 'better-sqlite3';
import { eq, sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import type { SQLiteTable } from 'drizzle-orm/sqlite-core';
import type { AlertParams, FindingParams, PreparedRecord, VerdictParams } from './_prepare.ts';
import { alerts, events, findings, verdicts } from './schema.ts';
import type { CommitReceipt } from './types.ts';

/** Which statement layer inserts records. */
export type InsertStatements = 'raw' | 'drizzle';

/** Inserts prepared records, in order, inside the caller's transaction and returns their ids. */
export type RecordInserter = (records: readonly PreparedRecord[]) => CommitReceipt[];

/** Records per multi-row statement at most (events have 16 columns: 1,024 bind parameters). */
export const INSERT_CHUNK_ROWS = 64;

/** Builds the inserter for a connection; statements are prepared once and reused. */
export function createInserter(db: Database.Database, flavour: InsertStatements): RecordInserter {
  if (flavour === 'drizzle') {
    const one = rowInserter(drizzleStatements(db));
    return (records) => records.map(one);
  }
  const one = rowInserter(rawStatements(db));
  return multiRowInserter(db, one);
}

/** Inserts one record row by row (ids from each insert). */
function rowInserter(s: Statements): (record: PreparedRecord) => CommitReceipt {
  return (record) => {
    const inserted = s.event(record.event);
    if (inserted === undefined) {
      const existing = s.eventIdByDedupe(record.event.dedupeKey!);
      return { eventId: existing ?? 0, verdictIds: [], alertIds: [], duplicate: true };
    }
    const verdictIds: number[] = [];
    for (const v of record.verdicts) {
      v.params.eventId = inserted;
      const verdictId = s.verdict(v.params);
      verdictIds.push(verdictId);
      for (const f of v.findings) {
        f.verdictId = verdictId;
        s.finding(f);
      }
    }
    const alertIds: number[] = [];
    for (const a of record.alerts) {
      a.params.eventId = inserted;
      a.params.verdictId = a.verdictIndex === null ? null : (verdictIds[a.verdictIndex] ?? null);
      alertIds.push(s.alert(a.params));
    }
    return { eventId: inserted, verdictIds, alertIds, duplicate: false };
  };
}

/**
 * Inserts a batch a chunk of records at a time with multi-row statements: the chunk's events, then its verdicts,
 * findings and alerts. One native call per table and chunk instead of one per row. Ids come out exactly as row by
 * row: the tables are AUTOINCREMENT (a new row gets max(rowid) + 1, so the rows of one statement get consecutive
 * ids in order) and every table still receives its rows in record order.
 *
 * Event inserts carry no ON CONFLICT clause: a repeated dedupe key aborts that one statement (SQLite backs out its
 * rows and keeps the transaction), and that chunk is then inserted row by row, which reports the duplicates.
 */
function multiRowInserter(
  db: Database.Database,
  one: (record: PreparedRecord) => CommitReceipt,
): RecordInserter {
  const eventSql = multiRow(db, 'events', EVENT_COLUMNS, '');
  const verdictSql = multiRow(db, 'verdicts', VERDICT_COLUMNS, '');
  const findingSql = multiRow(db, 'findings', FINDING_COLUMNS, '');
  const alertSql = multiRow(db, 'alerts', ALERT_COLUMNS, '');
  // Reused between batches (the writer is synchronous): fewer arrays for the GC.
  const verdictRows: VerdictRow[] = [];
  const findingRows: FindingParams[] = [];
  const alertRows: AlertRow[] = [];
  return (records) => {
    const n = records.length;
    const out: CommitReceipt[] = new Array(n);
    for (let from = 0, to = 0; from < n; from = to) {
      // One events statement per unit, so a failed one leaves no rows of its unit behind.
      to = from + unitSize(n - from);
      let last: number;
      try {
        last = insertRows(eventSql, records, from, to, pushEventOf);
      } catch (err) {
        if (!isUniqueViolation(err)) throw err;
        for (let i = from; i < to; i++) out[i] = one(records[i]!);
        continue;
      }
      verdictRows.length = 0;
      for (let i = from; i < to; i++) {
        const eventId = last - (to - 1 - i);
        const receipt: CommitReceipt = { eventId, verdictIds: [], alertIds: [], duplicate: false };
        out[i] = receipt;
        for (const v of records[i]!.verdicts) {
          v.params.eventId = eventId;
          verdictRows.push({ params: v.params, receipt });
        }
      }
      if (verdictRows.length > 0) {
        const lastVerdict = insertRows(verdictSql, verdictRows, 0, verdictRows.length, pushVerdictRow);
        for (let j = 0; j < verdictRows.length; j++) {
          verdictRows[j]!.receipt.verdictIds.push(lastVerdict - (verdictRows.length - 1 - j));
        }
      }
      findingRows.length = 0;
      alertRows.length = 0;
      for (let i = from; i < to; i++) {
        const rec = records[i]!;
        const receipt = out[i]!;
        for (let v = 0; v < rec.verdicts.length; v++) {
          const verdictId = receipt.verdictIds[v]!;
          for (const f of rec.verdicts[v]!.findings) {
            f.verdictId = verdictId;
            findingRows.push(f);
          }
        }
        for (const a of rec.alerts) {
          a.params.eventId = receipt.eventId;
          a.params.verdictId = a.verdictIndex === null ? null : (receipt.verdictIds[a.verdictIndex] ?? null);
          alertRows.push({ params: a.params, receipt });
        }
      }
      if (findingRows.length > 0) insertRows(findingSql, findingRows, 0, findingRows.length, pushFinding);
      if (alertRows.length > 0) {
        const lastAlert = insertRows(alertSql, alertRows, 0, alertRows.length, pushAlertRow);
        for (let j = 0; j < alertRows.length; j++) {
          alertRows[j]!.receipt.alertIds.push(lastAlert - (alertRows.length - 1 - j));
        }
      }
    }
    verdictRows.length = findingRows.length = alertRows.length = 0;
    return out;
  };
}

type VerdictRow = { params: VerdictParams; receipt: CommitReceipt };
type AlertRow = { params: AlertParams; receipt: CommitReceipt };

/** A statement inserting `k` rows, prepared on first use. */
type MultiRow = (k: number) => Database.Statement;

function multiRow(
  db: Database.Database,
  table: string,
  columns: Record<string, string>,
  suffix: string,
): MultiRow {
  const cache = new Map<number, Database.Statement>();
  const names = Object.values(columns);
  const row = `(${names.map(() => '?').join(', ')})`;
  return (k) => {
    let stmt = cache.get(k);
    if (stmt === undefined) {
      stmt = db.prepare(
        `INSERT INTO ${table} (${names.join(', ')}) VALUES ${new Array<string>(k).fill(row).join(', ')}${suffix}`,
      );
      cache.set(k, stmt);
    }
    return stmt;
  };
}

const bindBuffer: unknown[] = [];

/** The largest statement size for `left` rows: INSERT_CHUNK_ROWS or a power of two (few prepared shapes). */
function unitSize(left: number): number {
  let k = INSERT_CHUNK_ROWS;
  while (k > left) k >>>= 1;
  return k;
}

/** Inserts rows [from, to) of `items` in statements of `unitSize` rows; returns the id of the last row. */
function insertRows<T>(
  sql: MultiRow,
  items: readonly T[],
  from: number,
  to: number,
  push: (params: unknown[], item: T) => void,
): number {
  let last = 0;
  for (let i = from; i < to; ) {
    const k = unitSize(to - i);
    // One bind array for every statement: better-sqlite3 reads it during `run` and keeps nothing.
    const params = bindBuffer;
    params.length = 0;
    for (let j = i; j < i + k; j++) push(params, items[j]!);
    last = Number(sql(k).run(params).lastInsertRowid);
    i += k;
  }
  bindBuffer.length = 0;
  return last;
}

function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === 'SQLITE_CONSTRAINT_UNIQUE';
}

function pushEventOf(params: unknown[], record: PreparedRecord): void {
  pushEvent(params, record.event);
}

// The column order of each table, written once: the multi-row statements and the row-by-row ones bind through these.
function pushEvent(params: unknown[], p: PreparedRecord['event']): void {
  params.push(
    p.ts,
    p.kind,
    p.source,
    p.dedupeKey,
    p.sessionKey,
    p.runId,
    p.agentId,
    p.tool,
    p.callId,
    p.requestId,
    p.connId,
    p.seq,
    p.summary,
    p.payload,
    p.payloadBytes,
    p.payloadSha256,
  );
}

function pushVerdictRow(params: unknown[], row: VerdictRow): void {
  pushVerdict(params, row.params);
}

function pushVerdict(params: unknown[], p: VerdictRow['params']): void {
  params.push(
    p.eventId,
    p.ts,
    p.lane,
    p.action,
    p.rawAction,
    p.mode,
    p.wouldBlock,
    p.severity,
    p.severityRank,
    p.ruleIds,
    p.reason,
    p.profile,
    p.generationId,
    p.enforced,
    p.enforcement,
    p.scanMicros,
    p.errorCode,
  );
}

function pushFinding(params: unknown[], p: FindingParams): void {
  params.push(
    p.verdictId,
    p.ruleId,
    p.category,
    p.title,
    p.severity,
    p.severityRank,
    p.confidence,
    p.target,
    p.basis,
    p.detectionOnly,
    p.snippet,
    p.location,
    p.fingerprint,
    p.tags,
  );
}

function pushAlertRow(params: unknown[], row: AlertRow): void {
  pushAlert(params, row.params);
}

function pushAlert(params: unknown[], p: AlertRow['params']): void {
  params.push(
    p.ts,
    p.eventId,
    p.verdictId,
    p.category,
    p.severity,
    p.severityRank,
    p.title,
    p.lane,
    p.action,
    p.rawAction,
    p.mode,
    p.enforced,
    p.tool,
    p.sessionKey,
    p.ruleIds,
  );
}

// --- internal ---

type Statements = {
  /** Returns the new event id, or undefined when the dedupe key already exists. */
  event(params: PreparedRecord['event']): number | undefined;
  eventIdByDedupe(key: string): number | undefined;
  verdict(params: PreparedRecord['verdicts'][number]['params']): number;
  finding(params: PreparedRecord['verdicts'][number]['findings'][number]): void;
  alert(params: PreparedRecord['alerts'][number]['params']): number;
};

const EVENT_COLUMNS = {
  ts: 'ts',
  kind: 'kind',
  source: 'source',
  dedupeKey: 'dedupe_key',
  sessionKey: 'session_key',
  runId: 'run_id',
  agentId: 'agent_id',
  tool: 'tool',
  callId: 'call_id',
  requestId: 'request_id',
  connId: 'conn_id',
  seq: 'seq',
  summary: 'summary',
  payload: 'payload',
  payloadBytes: 'payload_bytes',
  payloadSha256: 'payload_sha256',
};
const VERDICT_COLUMNS = {
  eventId: 'event_id',
  ts: 'ts',
  lane: 'lane',
  action: 'action',
  rawAction: 'raw_action',
  mode: 'mode',
  wouldBlock: 'would_block',
  severity: 'severity',
  severityRank: 'severity_rank',
  ruleIds: 'rule_ids',
  reason: 'reason',
  profile: 'profile',
  generationId: 'generation_id',
  enforced: 'enforced',
  enforcement: 'enforcement',
  scanMicros: 'scan_micros',
  errorCode: 'error_code',
};
const FINDING_COLUMNS = {
  verdictId: 'verdict_id',
  ruleId: 'rule_id',
  category: 'category',
  title: 'title',
  severity: 'severity',
  severityRank: 'severity_rank',
  confidence: 'confidence',
  target: 'target',
  basis: 'basis',
  detectionOnly: 'detection_only',
  snippet: 'snippet',
  location: 'location',
  fingerprint: 'fingerprint',
  tags: 'tags',
};
const ALERT_COLUMNS = {
  ts: 'ts',
  eventId: 'event_id',
  verdictId: 'verdict_id',
  category: 'category',
  severity: 'severity',
  severityRank: 'severity_rank',
  title: 'title',
  lane: 'lane',
  action: 'action',
  rawAction: 'raw_action',
  mode: 'mode',
  enforced: 'enforced',
  tool: 'tool',
  sessionKey: 'session_key',
  ruleIds: 'rule_ids',
};

function insertSql(table: string, columns: Record<string, string>, suffix = ''): string {
  const keys = Object.keys(columns);
  return `INSERT INTO ${table} (${keys.map((k) => columns[k]).join(', ')}) VALUES (${keys.map(() => '?').join(', ')})${suffix}`;
}

// Positional binds with the fields spelled out in column order: measurably cheaper than named binds.
function rawStatements(db: Database.Database): Statements {
  const event = db.prepare(insertSql('events', EVENT_COLUMNS, ' ON CONFLICT(dedupe_key) DO NOTHING'));
  const byDedupe = db.prepare('SELECT id FROM events WHERE dedupe_key = ?').pluck();
  const verdict = db.prepare(insertSql('verdicts', VERDICT_COLUMNS));
  const finding = db.prepare(insertSql('findings', FINDING_COLUMNS));
  const alert = db.prepare(insertSql('alerts', ALERT_COLUMNS));
  return {
    event: (p) => {
      const r = event.run(bound(pushEvent, p));
      return r.changes === 0 ? undefined : Number(r.lastInsertRowid);
    },
    eventIdByDedupe: (key) => byDedupe.get(key) as number | undefined,
    verdict: (p) => Number(verdict.run(bound(pushVerdict, p)).lastInsertRowid),
    finding: (p) => {
      finding.run(bound(pushFinding, p));
    },
    alert: (p) => Number(alert.run(bound(pushAlert, p)).lastInsertRowid),
  };
}

function bound<T>(push: (params: unknown[], p: T) => void, p: T): unknown[] {
  const params: unknown[] = [];
  push(params, p);
  return params;
}

function placeholders(columns: Record<string, string>): Record<string, ReturnType<typeof sql.placeholder>> {
  return Object.fromEntries(Object.keys(columns).map((k) => [k, sql.placeholder(k)]));
}

function drizzleStatements(db: Database.Database): Statements {
  const orm = drizzle({ client: db });
  // The placeholder objects are keyed by the schema's property names; drizzle maps them to columns.
  const values = <T extends SQLiteTable>(_table: T, columns: Record<string, string>) =>
    placeholders(columns) as never;
  const event = orm
    .insert(events)
    .values(values(events, EVENT_COLUMNS))
    .onConflictDoNothing({ target: events.dedupeKey })
    .prepare();
  const byDedupe = orm
    .select({ id: events.id })
    .from(events)
    .where(eq(events.dedupeKey, sql.placeholder('key')))
    .prepare();
  const verdict = orm.insert(verdicts).values(values(verdicts, VERDICT_COLUMNS)).prepare();
  const finding = orm.insert(findings).values(values(findings, FINDING_COLUMNS)).prepare();
  const alert = orm.insert(alerts).values(values(alerts, ALERT_COLUMNS)).prepare();
  return {
    event: (p) => {
      const r = event.run(p);
      return r.changes === 0 ? undefined : Number(r.lastInsertRowid);
    },
    eventIdByDedupe: (key) => byDedupe.get({ key })?.id,
    verdict: (p) => Number(verdict.run(p).lastInsertRowid),
    finding: (p) => {
      finding.run(p);
    },
    alert: (p) => Number(alert.run(p).lastInsertRowid),
  };
}
