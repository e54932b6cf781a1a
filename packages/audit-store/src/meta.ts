// The `meta` key/value table: instance identity, shutdown bookkeeping, cursors.
import { randomUUID } from 'node:crypto';
import type Database from 'better-sqlite3';

/** The meta keys the store itself maintains. */
export const META_KEYS = {
  instanceId: 'instance_id',
  createdByVersion: 'created_by_version',
  cleanShutdown: 'clean_shutdown',
  lastRetentionAt: 'last_retention_at',
  splunkCursor: 'cursor.splunk',
} as const;

/** How the previous process left the database: closed cleanly, not (crash, kill -9), or never opened. */
export type PreviousShutdown = 'clean' | 'unclean' | 'first';

/** Reads and writes the `meta` table. */
export interface MetaStore {
  /** Returns the value stored under `key`, if any. */
  get(key: string): string | undefined;
  /** Stores `value` under `key` (replacing any previous value). */
  set(key: string, value: string): void;
  /** Removes `key`. */
  delete(key: string): void;
  /** The random id minted when the database was created. */
  readonly instanceId: string;
  /** The gateway version that created the database. */
  readonly createdByVersion: string;
  /** How the previous process left the database, read before this open marked it dirty. */
  readonly previousShutdown: PreviousShutdown;
}

/** Opens the meta store: mints identity on a fresh database and marks the database as in use. */
export function createMetaStore(db: Database.Database, options: { version: string }): MetaStore {
  const getStmt = db.prepare('SELECT value FROM meta WHERE key = ?').pluck();
  const setStmt = db.prepare(
    'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
  );
  const deleteStmt = db.prepare('DELETE FROM meta WHERE key = ?');
  const get = (key: string) => getStmt.get(key) as string | undefined;
  const set = (key: string, value: string) => {
    setStmt.run(key, value);
  };

  let instanceId = '';
  let createdByVersion = '';
  let previousShutdown: PreviousShutdown = 'first';
  db.transaction(() => {
    const clean = get(META_KEYS.cleanShutdown);
    previousShutdown = clean === undefined ? 'first' : clean === '1' ? 'clean' : 'unclean';
    instanceId = get(META_KEYS.instanceId) ?? '';
    if (instanceId === '') {
      instanceId = randomUUID();
      set(META_KEYS.instanceId, instanceId);
    }
    createdByVersion = get(META_KEYS.createdByVersion) ?? '';
    if (createdByVersion === '') {
      createdByVersion = options.version;
      set(META_KEYS.createdByVersion, createdByVersion);
    }
    set(META_KEYS.cleanShutdown, '0');
  }).immediate();

  return {
    get,
    set,
    delete: (key) => {
      deleteStmt.run(key);
    },
    instanceId,
    createdByVersion,
    previousShutdown,
  };
}
