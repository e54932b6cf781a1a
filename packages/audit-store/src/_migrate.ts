// Runs the committed drizzle migrations at open and refuses databases written by a newer build.
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import type Database from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import { AuditStoreError } from './errors.ts';

/** The folder holding the generated SQL migrations and drizzle's journal. */
export const MIGRATIONS_FOLDER = fileURLToPath(new URL('../drizzle', import.meta.url));

const MIGRATIONS_TABLE = '__drizzle_migrations';

/** The outcome of bringing a database to the latest schema. */
export type MigrationResult = { applied: number; schema: string };

/**
 * Applies pending migrations with drizzle's better-sqlite3 migrator (one transaction, rolled back on
 * failure) after refusing a database that carries migrations this build does not know.
 */
export function runMigrations(
  db: Database.Database,
  path: string,
  folder = MIGRATIONS_FOLDER,
): MigrationResult {
  let local: ReturnType<typeof readMigrationFiles>;
  try {
    local = readMigrationFiles({ migrationsFolder: folder });
  } catch (cause) {
    throw new AuditStoreError('MIGRATION_FAILED', `audit: cannot read migrations in ${folder}`, { cause });
  }
  const hadTable = tableExists(db, MIGRATIONS_TABLE);
  const before = hadTable ? appliedMigrations(db) : [];
  const localLatest = local.at(-1)?.folderMillis ?? 0;
  const newer = before.length > local.length || before.some((m) => m.createdAt > localLatest);
  if (newer) {
    const name = path === ':memory:' ? 'audit.db' : basename(path);
    throw new AuditStoreError(
      'SCHEMA_TOO_NEW',
      `${name} was created by a newer defenseclaw-gateway (schema ${schemaNumber(before.length)} > ${schemaNumber(local.length)})`,
    );
  }
  try {
    migrate(drizzle({ client: db }), { migrationsFolder: folder });
  } catch (cause) {
    // drizzle creates its bookkeeping table before its transaction; on a fresh database remove it
    // again so a failed first migration really leaves nothing behind.
    if (
      !hadTable &&
      !db.inTransaction &&
      tableExists(db, MIGRATIONS_TABLE) &&
      appliedMigrations(db).length === 0
    ) {
      db.exec(`DROP TABLE ${MIGRATIONS_TABLE}`);
    }
    const message = cause instanceof Error ? cause.message : String(cause);
    throw new AuditStoreError('MIGRATION_FAILED', `audit: migration failed, database unchanged: ${message}`, {
      cause,
    });
  }
  const after = appliedMigrations(db).length;
  return { applied: after - before.length, schema: schemaNumber(after) };
}

/** Formats a migration count as the tag number of the last migration (`0003` for four). */
export function schemaNumber(count: number): string {
  return String(Math.max(0, count - 1)).padStart(4, '0');
}

// --- internal ---

function tableExists(db: Database.Database, name: string): boolean {
  return db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== undefined;
}

function appliedMigrations(db: Database.Database): { hash: string; createdAt: number }[] {
  const rows = db.prepare(`SELECT hash, created_at FROM ${MIGRATIONS_TABLE}`).all() as {
    hash: string;
    created_at: number | string | null;
  }[];
  return rows.map((r) => ({ hash: r.hash, createdAt: Number(r.created_at ?? 0) }));
}
