// The `actions` table as block/allow lists: one list per (target type, name, connector), mapped 1:1 to
// the policy engine's ListSnapshot entries. Expired rows are ignored on read and pruned by retention.
import type Database from 'better-sqlite3';
import { AuditStoreError } from './errors.ts';

/** What a list entry targets. */
export const LIST_TARGET_TYPES = ['tool', 'skill', 'mcp', 'command', 'plugin'] as const;

/** One of the list target types. */
export type ListTargetType = (typeof LIST_TARGET_TYPES)[number];

/** Which list an entry is on. */
export type ListName = 'block' | 'allow';

/** Who set an entry. */
export type ListSource = 'api' | 'cli' | 'watcher';

/** A ListSnapshot entry as the policy engine takes it (spec 30 §A3.4); plugins are not engine targets. */
export type ListEntry = {
  kind: 'tool' | 'skill' | 'mcp' | 'command';
  pattern: string;
  action: ListName;
  connector?: string;
  reason?: string;
  expiresAt?: number;
};

/** A full `actions` row, as `/enforce/blocked` and `/enforce/allowed` show it. */
export type ListRow = {
  targetType: ListTargetType;
  targetName: string;
  /** `''` means global. */
  connector: string;
  list: ListName;
  reason: string | null;
  source: ListSource;
  createdAt: number;
  updatedAt: number;
  expiresAt: number | null;
};

/** What `upsert` takes. */
export type ListUpsert = {
  targetType: ListTargetType;
  targetName: string;
  connector?: string;
  list: ListName;
  reason?: string | null;
  source: ListSource;
  expiresAt?: number | null;
  nowMs?: number;
};

/** Identifies an entry; `list` makes removal conditional on the entry being on that list. */
export type ListKey = { targetType: ListTargetType; targetName: string; connector?: string; list?: ListName };

/** Reads and edits the block/allow lists. */
export interface ListStore {
  /** Returns the live (unexpired) engine entries: tool, skill, mcp and command targets. */
  entries(nowMs?: number): ListEntry[];
  /** Returns live rows, newest first, optionally only one list and/or target type. */
  list(filter?: { list?: ListName; targetType?: ListTargetType; nowMs?: number }): ListRow[];
  /** Returns the live row for a target, if any. */
  get(key: ListKey, nowMs?: number): ListRow | undefined;
  /** Puts a target on a list, replacing its entry on the other list; reports what it was on before. */
  upsert(entry: ListUpsert): { row: ListRow; previous: ListName | null };
  /** Removes a target's entry (only from `key.list` when given); true when a row was removed. */
  remove(key: ListKey): boolean;
  /** Counts live entries per list. */
  counts(nowMs?: number): { block: number; allow: number };
  /** Deletes expired rows and returns how many. */
  prune(nowMs?: number): number;
}

/** Builds the list store over a connection. */
export function createListStore(db: Database.Database, options: { now: () => number }): ListStore {
  const live = '(expires_at IS NULL OR expires_at > @now)';
  const selectAll = db.prepare(`SELECT * FROM actions WHERE ${live} ORDER BY updated_at DESC, id DESC`);
  const selectOne = db.prepare(
    `SELECT * FROM actions WHERE target_type = @targetType AND target_name = @targetName AND connector = @connector AND ${live}`,
  );
  const selectAny = db.prepare(
    'SELECT * FROM actions WHERE target_type = @targetType AND target_name = @targetName AND connector = @connector',
  );
  const upsertStmt = db.prepare(
    `INSERT INTO actions (target_type, target_name, connector, list, reason, source, created_at, updated_at, expires_at)
     VALUES (@targetType, @targetName, @connector, @list, @reason, @source, @now, @now, @expiresAt)
     ON CONFLICT(target_type, target_name, connector) DO UPDATE SET
       list = excluded.list, reason = excluded.reason, source = excluded.source,
       updated_at = excluded.updated_at, expires_at = excluded.expires_at,
       created_at = CASE WHEN actions.list = excluded.list THEN actions.created_at ELSE excluded.created_at END`,
  );
  const deleteStmt = db.prepare(
    'DELETE FROM actions WHERE target_type = @targetType AND target_name = @targetName AND connector = @connector AND (@list IS NULL OR list = @list)',
  );
  const countStmt = db.prepare(`SELECT list, count(*) AS n FROM actions WHERE ${live} GROUP BY list`);
  const pruneStmt = db.prepare('DELETE FROM actions WHERE expires_at IS NOT NULL AND expires_at <= @now');

  const nowOf = (nowMs: number | undefined) => nowMs ?? options.now();
  const rows = (nowMs?: number) => (selectAll.all({ now: nowOf(nowMs) }) as RawAction[]).map(mapRow);

  const upsertTx = db.transaction((e: ListUpsert) => {
    validate(e);
    const now = nowOf(e.nowMs);
    const key = { targetType: e.targetType, targetName: e.targetName, connector: e.connector ?? '' };
    const before = selectAny.get(key) as RawAction | undefined;
    const previous =
      before === undefined || (before.expires_at !== null && before.expires_at <= now) ? null : before.list;
    upsertStmt.run({
      ...key,
      list: e.list,
      reason: e.reason ?? null,
      source: e.source,
      now,
      expiresAt: e.expiresAt ?? null,
    });
    const row = mapRow(selectAny.get(key) as RawAction);
    return { row, previous };
  });

  return {
    entries(nowMs) {
      const out: ListEntry[] = [];
      for (const r of rows(nowMs)) {
        if (r.targetType === 'plugin') continue;
        const entry: ListEntry = { kind: r.targetType, pattern: r.targetName, action: r.list };
        if (r.connector !== '') entry.connector = r.connector;
        if (r.reason !== null) entry.reason = r.reason;
        if (r.expiresAt !== null) entry.expiresAt = r.expiresAt;
        out.push(entry);
      }
      return out;
    },
    list(filter = {}) {
      return rows(filter.nowMs).filter(
        (r) =>
          (filter.list === undefined || r.list === filter.list) &&
          (filter.targetType === undefined || r.targetType === filter.targetType),
      );
    },
    get(key, nowMs) {
      const raw = selectOne.get({
        targetType: key.targetType,
        targetName: key.targetName,
        connector: key.connector ?? '',
        now: nowOf(nowMs),
      }) as RawAction | undefined;
      if (raw === undefined) return undefined;
      const row = mapRow(raw);
      return key.list === undefined || row.list === key.list ? row : undefined;
    },
    upsert: (entry) => upsertTx.immediate(entry),
    remove(key) {
      const params = {
        targetType: key.targetType,
        targetName: key.targetName,
        connector: key.connector ?? '',
        list: key.list ?? null,
      };
      return db.transaction(() => deleteStmt.run(params).changes > 0).immediate();
    },
    counts(nowMs) {
      const out = { block: 0, allow: 0 };
      for (const r of countStmt.all({ now: nowOf(nowMs) }) as { list: ListName; n: number }[])
        out[r.list] = r.n;
      return out;
    },
    prune(nowMs) {
      return db.transaction(() => pruneStmt.run({ now: nowOf(nowMs) }).changes).immediate();
    },
  };
}

// --- internal ---

type RawAction = {
  id: number;
  target_type: ListTargetType;
  target_name: string;
  connector: string;
  list: ListName;
  reason: string | null;
  source: ListSource;
  created_at: number;
  updated_at: number;
  expires_at: number | null;
};

function mapRow(r: RawAction): ListRow {
  return {
    targetType: r.target_type,
    targetName: r.target_name,
    connector: r.connector,
    list: r.list,
    reason: r.reason,
    source: r.source,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    expiresAt: r.expires_at,
  };
}

function validate(e: ListUpsert): void {
  if (!(LIST_TARGET_TYPES as readonly string[]).includes(e.targetType)) {
    throw new AuditStoreError('INVALID_ARGUMENT', `audit: unknown list target type ${String(e.targetType)}`);
  }
  if (e.list !== 'block' && e.list !== 'allow') {
    throw new AuditStoreError('INVALID_ARGUMENT', `audit: unknown list ${String(e.list)}`);
  }
  if (typeof e.targetName !== 'string' || e.targetName === '') {
    throw new AuditStoreError('INVALID_ARGUMENT', 'audit: list target name is empty');
  }
}
