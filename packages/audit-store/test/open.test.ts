import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { getInternals } from '../src/_internal.ts';
import { isAuditStoreError, META_KEYS, openAuditStore } from '../src/index.ts';
import { count, record, tempDir } from './_helpers.ts';

const pragma = (db: Database.Database, name: string) => db.pragma(name, { simple: true });

describe('openAuditStore', () => {
  for (const synchronous of ['normal', 'full'] as const) {
    it(`sets and reads back every pragma on a real file (synchronous ${synchronous})`, async (t) => {
      const path = join(tempDir(t), 'audit.db');
      const store = openAuditStore({ path, synchronous });
      t.after(() => store.close());
      const { db } = getInternals(store);
      assert.equal(pragma(db, 'journal_mode'), 'wal');
      assert.equal(pragma(db, 'synchronous'), synchronous === 'full' ? 2 : 1);
      assert.equal(pragma(db, 'busy_timeout'), 5000);
      assert.equal(pragma(db, 'foreign_keys'), 1);
      assert.equal(pragma(db, 'temp_store'), 2);
      assert.equal(pragma(db, 'cache_size'), -16000);
      assert.equal(pragma(db, 'journal_size_limit'), 67108864);
      assert.equal(pragma(db, 'auto_vacuum'), 2);
      assert.equal(store.stats.synchronous, synchronous);
      // A second connection sees the persistent ones in the file itself.
      const other = new Database(path, { readonly: true });
      t.after(() => other.close());
      assert.equal(pragma(other, 'journal_mode'), 'wal');
      assert.equal(pragma(other, 'auto_vacuum'), 2);
    });
  }

  it('creates the database file with mode 0600', async (t) => {
    const path = join(tempDir(t), 'audit.db');
    const store = openAuditStore({ path });
    await store.enqueue(record());
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(statSync(`${path}-wal`).mode & 0o777, 0o600);
    await store.close();
  });

  it('refuses a symlinked database path and a symlinked -wal file', (t) => {
    const dir = tempDir(t);
    const real = join(dir, 'real.db');
    openAuditStore({ path: real }).close();
    const link = join(dir, 'audit.db');
    symlinkSync(real, link);
    assert.throws(
      () => openAuditStore({ path: link }),
      (err: unknown) => isAuditStoreError(err, 'SYMLINK_REFUSED'),
    );
    const dangling = join(dir, 'dangling.db');
    symlinkSync(join(dir, 'nowhere.db'), dangling);
    assert.throws(
      () => openAuditStore({ path: dangling }),
      (err: unknown) => isAuditStoreError(err, 'SYMLINK_REFUSED'),
    );
    const other = join(dir, 'other.db');
    symlinkSync(join(dir, 'elsewhere'), `${other}-wal`);
    assert.throws(
      () => openAuditStore({ path: other }),
      (err: unknown) => isAuditStoreError(err, 'SYMLINK_REFUSED'),
    );
  });

  it('refuses a file that is not a database, and a database it did not create', (t) => {
    const dir = tempDir(t);
    const junk = join(dir, 'junk.db');
    writeFileSync(junk, 'this is not sqlite, not even close; '.repeat(200));
    assert.throws(
      () => openAuditStore({ path: junk }),
      (err: unknown) => isAuditStoreError(err, 'OPEN_FAILED'),
    );
    const foreign = join(dir, 'foreign.db');
    const db = new Database(foreign);
    db.exec('CREATE TABLE t (x)');
    db.close();
    assert.throws(
      () => openAuditStore({ path: foreign }),
      (err: unknown) => isAuditStoreError(err, 'PRAGMA_MISMATCH') && /auto_vacuum/.test(err.message),
    );
  });

  it('rejects out-of-range options', () => {
    assert.throws(
      () => openAuditStore({ path: ':memory:', queueSize: 0 }),
      (err: unknown) => isAuditStoreError(err, 'INVALID_ARGUMENT'),
    );
    assert.throws(
      () => openAuditStore({ path: ':memory:', synchronous: 'off' as 'full' }),
      (err: unknown) => isAuditStoreError(err, 'INVALID_ARGUMENT'),
    );
  });

  it('reports first, clean and unclean previous shutdowns and keeps its identity', async (t) => {
    const path = join(tempDir(t), 'audit.db');
    const first = openAuditStore({ path, version: '1.2.3' });
    assert.equal(first.previousShutdown, 'first');
    assert.equal(first.meta.createdByVersion, '1.2.3');
    assert.match(first.meta.instanceId, /^[0-9a-f-]{36}$/);
    const id = first.meta.instanceId;
    assert.equal(first.meta.get(META_KEYS.cleanShutdown), '0');
    await first.close();

    const second = openAuditStore({ path, version: '9.9.9' });
    assert.equal(second.previousShutdown, 'clean');
    assert.equal(second.meta.instanceId, id);
    assert.equal(second.meta.createdByVersion, '1.2.3');
    second.meta.set('cursor.splunk', '42');
    assert.equal(second.meta.get('cursor.splunk'), '42');
    await second.close();

    // A process killed with SIGKILL right after a synchronous commit.
    const script = `
      import { openAuditStore } from ${JSON.stringify(fileURLToPath(new URL('../src/index.ts', import.meta.url)))};
      const store = openAuditStore({ path: ${JSON.stringify(path)} });
      const receipt = store.writeNow({ event: { ts: 1, kind: 'exec.approval', source: 'ws' } });
      process.stdout.write(String(receipt.eventId));
      process.kill(process.pid, 'SIGKILL');`;
    let out = '';
    try {
      execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        cwd: fileURLToPath(new URL('..', import.meta.url)),
        encoding: 'utf8',
      });
    } catch (err) {
      out = String((err as { stdout?: string }).stdout);
      assert.equal((err as { signal?: string }).signal, 'SIGKILL');
    }
    const third = openAuditStore({ path });
    t.after(() => third.close());
    assert.equal(third.previousShutdown, 'unclean');
    assert.equal(third.meta.get('cursor.splunk'), '42');
    const acknowledged = Number(out);
    assert.ok(acknowledged > 0);
    assert.equal(third.queries.getEvent(acknowledged)?.kind, 'exec.approval');
    assert.equal(count(getInternals(third).db, 'events'), 1);
  });
});
