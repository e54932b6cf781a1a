// The Splunk forwarder's read side: committed events after a cursor, oldest first, with the verdict columns HEC
// events carry and an "has an alert" flag; plus the id bounds that give the backlog. Never re-exported.
import type Database from 'better-sqlite3';

/** The verdict fields a forwarded event carries (snake_case, as sent). */
export type SourceVerdict = {
  lane: string;
  action: string;
  raw_action: string;
  severity: string | null;
  mode: string;
  rule_ids: string[];
  enforced: boolean;
};

/** One committed event as the forwarder reads it; `payload` is the stored (redacted) JSON text. */
export type SourceEvent = {
  id: number;
  ts: number;
  kind: string;
  source: string;
  sessionKey: string | null;
  tool: string | null;
  summary: string | null;
  payload: string | null;
  verdicts: SourceVerdict[];
};

/** What one read returns: the events to send and the highest id examined (filtered rows included). */
export type SourceRead = { events: SourceEvent[]; scannedTo: number; firstId: number | undefined };

/** Options of one read. */
export type SourceReadOptions = {
  /** The most events returned. */
  limit: number;
  /** The most rows examined (≥ limit); only differs from `limit` when `alertsOnly` filters rows out. */
  scanLimit: number;
  /** Rows above this id are not read (bisection keeps to the failing batch). */
  until: number;
  /** Only events with at least one alert. */
  alertsOnly: boolean;
  /** Whether the payload text is read. */
  payload: boolean;
};

/** Prepared reads over the audit connection. */
export type SplunkSource = {
  /** Reads committed events with `after < id ≤ until`, oldest first. */
  read(after: number, options: SourceReadOptions): SourceRead;
  /** The highest event id ever assigned (0 on an empty database). */
  maxId(): number;
  /** The lowest event id still stored, if any. */
  minId(): number | undefined;
};

/** Prepares the forwarder's statements on the store's connection. */
export function createSplunkSource(db: Database.Database): SplunkSource {
  const base = 'id, ts, kind, source, session_key, tool, summary';
  const statement = (payload: boolean, alerted: boolean) =>
    db.prepare(
      `SELECT ${base}${payload ? ', payload' : ''}` +
        `${alerted ? ', EXISTS (SELECT 1 FROM alerts a WHERE a.event_id = events.id) AS alerted' : ''} ` +
        'FROM events WHERE id > @after AND id <= @until ORDER BY id LIMIT @limit',
    );
  const reads = {
    plain: statement(false, false),
    payload: statement(true, false),
    alerted: statement(false, true),
    alertedPayload: statement(true, true),
  };
  // A range of the verdicts(event_id, lane) unique index: one probe for a whole batch.
  const verdictRange = db.prepare(
    'SELECT event_id, lane, action, raw_action, severity, mode, rule_ids, enforced FROM verdicts ' +
      'WHERE event_id >= @first AND event_id <= @last ORDER BY event_id, id',
  );
  // max(id) is one index probe; an emptied table (retention) falls back to the AUTOINCREMENT high mark.
  const maxStmt = db
    .prepare(
      "SELECT coalesce((SELECT max(id) FROM events), (SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0)",
    )
    .pluck();
  const minStmt = db.prepare('SELECT min(id) FROM events').pluck();

  return {
    read(after, o) {
      const stmt = o.alertsOnly
        ? o.payload
          ? reads.alertedPayload
          : reads.alerted
        : o.payload
          ? reads.payload
          : reads.plain;
      const rows = stmt.all({
        after,
        until: o.until,
        limit: o.alertsOnly ? o.scanLimit : o.limit,
      }) as RawRow[];
      if (rows.length === 0) return { events: [], scannedTo: after, firstId: undefined };
      const firstId = rows[0]!.id;
      let picked = rows;
      let scannedTo = rows[rows.length - 1]!.id;
      if (o.alertsOnly) {
        picked = [];
        for (const row of rows) {
          if (row.alerted !== 1) continue;
          picked.push(row);
          if (picked.length === o.limit) {
            scannedTo = row.id;
            break;
          }
        }
      }
      const events = picked.map(toEvent);
      if (events.length > 0) attachVerdicts(events);
      return { events, scannedTo, firstId };
    },
    maxId: () => Number(maxStmt.get() ?? 0),
    minId: () => {
      const value = minStmt.get();
      return value === null || value === undefined ? undefined : Number(value);
    },
  };

  function attachVerdicts(events: SourceEvent[]): void {
    const byId = new Map<number, SourceEvent>();
    for (const event of events) byId.set(event.id, event);
    const rows = verdictRange.all({
      first: events[0]!.id,
      last: events[events.length - 1]!.id,
    }) as RawVerdict[];
    for (const row of rows) {
      byId.get(row.event_id)?.verdicts.push({
        lane: row.lane,
        action: row.action,
        raw_action: row.raw_action,
        severity: row.severity,
        mode: row.mode,
        rule_ids: parseList(row.rule_ids),
        enforced: row.enforced === 1,
      });
    }
  }
}

// --- internal ---

type RawRow = {
  id: number;
  ts: number;
  kind: string;
  source: string;
  session_key: string | null;
  tool: string | null;
  summary: string | null;
  payload?: string | null;
  alerted?: number;
};

type RawVerdict = {
  event_id: number;
  lane: string;
  action: string;
  raw_action: string;
  severity: string | null;
  mode: string;
  rule_ids: string;
  enforced: number;
};

function toEvent(row: RawRow): SourceEvent {
  return {
    id: row.id,
    ts: row.ts,
    kind: row.kind,
    source: row.source,
    sessionKey: row.session_key,
    tool: row.tool,
    summary: row.summary,
    payload: row.payload ?? null,
    verdicts: [],
  };
}

function parseList(text: string): string[] {
  // Most verdicts match nothing: skip the parser for the empty list.
  if (text === '[]') return [];
  try {
    const value: unknown = JSON.parse(text);
    return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
  } catch {
    return [];
  }
}
