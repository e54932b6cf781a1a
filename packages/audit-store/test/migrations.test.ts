import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { getInternals as getDb } from '../src/_internal.ts';
import { isAuditStoreError, openAuditStore } from '../src/index.ts';
import { count, record, tempDir } from './_helpers.ts';

const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url));
const MIGRATIONS = join(PACKAGE_DIR, 'drizzle');
const journal = () =>
  JSON.parse(readFileSync(join(MIGRATIONS, 'meta/_journal.json'), 'utf8')) as {
    entries: { idx: number; when: number; tag: string; version: string; breakpoints: boolean }[];
  };

/** Copies the real migrations and appends extra SQL migrations after them. */
function migrationsWith(dir: string, extra: string[]): string {
  const folder = join(dir, 'migrations');
  cpSync(MIGRATIONS, folder, { recursive: true });
  const j = journal();
  const last = j.entries.at(-1)!;
  extra.forEach((sql, i) => {
    const idx = last.idx + 1 + i;
    const tag = `${String(idx).padStart(4, '0')}_extra`;
    writeFileSync(join(folder, `${tag}.sql`), sql);
    j.entries.push({ ...last, idx, tag, when: last.when + 1000 * (i + 1) });
  });
  writeFileSync(join(folder, 'meta/_journal.json'), JSON.stringify(j, null, 2));
  return folder;
}

const tables = (db: Database.Database) =>
  (
    db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as {
      name: string;
    }[]
  ).map((r) => r.name);

describe('migrations', () => {
  it('brings a fresh database to the latest schema with every table and index', (t) => {
    const store = openAuditStore({ path: ':memory:' });
    t.after(() => store.close());
    const entries = journal().entries;
    assert.equal(store.schema, entries.at(-1)!.tag.slice(0, 4));
    const { db } = getDb(store);
    assert.deepEqual(
      tables(db).filter((n) => !n.startsWith('sqlite_')),
      ['__drizzle_migrations', 'actions', 'alerts', 'events', 'findings', 'meta', 'verdicts'],
    );
    assert.equal(count(db, '__drizzle_migrations'), entries.length);
    const indexes = (
      db.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL").all() as {
        name: string;
        sql: string;
      }[]
    ).map((r) => r.name);
    for (const name of [
      'alerts_open_id_idx',
      'alerts_severity_rank_id_idx',
      'alerts_tool_id_idx',
      'alerts_session_key_id_idx',
      'alerts_ts_idx',
      'events_kind_id_idx',
      'events_session_key_id_idx',
      'events_tool_id_idx',
      'events_ts_idx',
      'events_dedupe_key_unique',
      'verdicts_event_id_lane_unique',
      'findings_verdict_id_idx',
      'findings_rule_id_idx',
      'actions_target_unique',
    ]) {
      assert.ok(indexes.includes(name), `missing index ${name}`);
    }
    const partial = db.prepare("SELECT sql FROM sqlite_master WHERE name = 'alerts_open_id_idx'").get() as {
      sql: string;
    };
    assert.match(partial.sql, /WHERE acked_at IS NULL/);
  });

  it('upgrades an earlier database, applying only the new migrations and keeping its rows', async (t) => {
    const dir = tempDir(t);
    const path = join(dir, 'audit.db');
    const first = openAuditStore({ path });
    await first.enqueue(record());
    await first.close();

    const folder = migrationsWith(dir, ['CREATE INDEX `events_run_id_idx` ON `events` (`run_id`);']);
    const second = openAuditStore({ path, migrationsFolder: folder });
    t.after(() => second.close());
    assert.equal(second.schema, String(journal().entries.length).padStart(4, '0'));
    const { db } = getDb(second);
    assert.equal(count(db, 'events'), 1);
    assert.ok(db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'events_run_id_idx'").get());
  });

  it('refuses a database written by a newer build with the exact message', async (t) => {
    const dir = tempDir(t);
    const path = join(dir, 'audit.db');
    // This build knows four migrations (0000–0003); the database carries six (0000–0005).
    const folder = migrationsWith(dir, [
      'CREATE TABLE x1 (a);',
      'CREATE TABLE x2 (a);',
      'CREATE TABLE x3 (a);',
    ]);
    const store = openAuditStore({ path, migrationsFolder: folder });
    await store.close();
    const raw = new Database(path);
    const latest = journal().entries.at(-1)!.when + 10_000;
    raw
      .prepare('INSERT INTO __drizzle_migrations (hash, created_at) VALUES (?, ?), (?, ?)')
      .run('a', latest, 'b', latest + 1);
    raw.close();

    assert.throws(
      () => openAuditStore({ path, migrationsFolder: folder }),
      (err: unknown) =>
        isAuditStoreError(err, 'SCHEMA_TOO_NEW') &&
        err.message === 'audit.db was created by a newer defenseclaw-gateway (schema 0005 > 0003)',
    );
    // The refusal wrote nothing.
    const after = new Database(path, { readonly: true });
    t.after(() => after.close());
    assert.equal(count(after, '__drizzle_migrations'), 6);
    assert.equal(
      (after.prepare('SELECT value FROM meta WHERE key = ?').get('clean_shutdown') as { value: string })
        .value,
      '1',
    );
  });

  it('leaves an existing database unchanged when a migration fails', async (t) => {
    const dir = tempDir(t);
    const path = join(dir, 'audit.db');
    const store = openAuditStore({ path });
    await store.enqueue(record());
    await store.close();
    const before = new Database(path, { readonly: true });
    const schemaBefore = before.prepare('SELECT type, name, sql FROM sqlite_master ORDER BY name').all();
    before.close();

    const folder = migrationsWith(dir, [
      'CREATE TABLE `half_done` (`a` integer);\n--> statement-breakpoint\nINSERT INTO `no_such_table` VALUES (1);',
    ]);
    assert.throws(
      () => openAuditStore({ path, migrationsFolder: folder }),
      (err: unknown) => isAuditStoreError(err, 'MIGRATION_FAILED') && /database unchanged/.test(err.message),
    );
    const after = new Database(path, { readonly: true });
    t.after(() => after.close());
    assert.deepEqual(
      after.prepare('SELECT type, name, sql FROM sqlite_master ORDER BY name').all(),
      schemaBefore,
    );
    assert.equal(count(after, '__drizzle_migrations'), journal().entries.length);
    assert.equal(count(after, 'events'), 1);
    // And the good build still opens it.
    const again = openAuditStore({ path });
    assert.equal(again.previousShutdown, 'clean');
    await again.close();
  });

  it('leaves no tables behind when the first migration of a fresh database fails', (t) => {
    const dir = tempDir(t);
    const path = join(dir, 'audit.db');
    const folder = join(dir, 'broken');
    mkdirSync(join(folder, 'meta'), { recursive: true });
    writeFileSync(
      join(folder, '0000_broken.sql'),
      'CREATE TABLE `a` (`x` integer);\n--> statement-breakpoint\nSELEC nonsense;',
    );
    writeFileSync(
      join(folder, 'meta/_journal.json'),
      JSON.stringify({
        version: '7',
        dialect: 'sqlite',
        entries: [{ idx: 0, version: '6', when: 1, tag: '0000_broken', breakpoints: true }],
      }),
    );
    assert.throws(
      () => openAuditStore({ path, migrationsFolder: folder }),
      (err: unknown) => isAuditStoreError(err, 'MIGRATION_FAILED'),
    );
    const db = new Database(path, { readonly: true });
    t.after(() => db.close());
    assert.deepEqual(tables(db), []);
  });

  it('has committed migrations that match the schema (drizzle-kit generate emits nothing)', (t) => {
    const dir = tempDir(t);
    cpSync(join(PACKAGE_DIR, 'drizzle'), join(dir, 'drizzle'), { recursive: true });
    mkdirSync(join(dir, 'src'));
    cpSync(join(PACKAGE_DIR, 'src/schema.ts'), join(dir, 'src/schema.ts'));
    cpSync(join(PACKAGE_DIR, 'drizzle.config.ts'), join(dir, 'drizzle.config.ts'));
    symlinkSync(join(PACKAGE_DIR, 'node_modules'), join(dir, 'node_modules'));
    const before = listFiles(join(dir, 'drizzle'));
    const output = execFileSync(
      process.execPath,
      [join(PACKAGE_DIR, 'node_modules/drizzle-kit/bin.cjs'), 'generate'],
      {
        cwd: dir,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    assert.match(output, /No schema changes/);
    assert.deepEqual(listFiles(join(dir, 'drizzle')), before);
  });
});

function listFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort();
}
