import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { openAuditStore } from '../src/index.ts';
import { record, tempDir } from './_helpers.ts';

/** Writes `n` records with ~1 KiB payloads and waits for their commit. */
async function fill(store: ReturnType<typeof openAuditStore>, n: number): Promise<void> {
  const note = 'x'.repeat(1000);
  await Promise.all(Array.from({ length: n }, (_, i) => store.enqueue(record({ payload: { i, note } }))));
}

/** Polls until `check` holds or `ms` pass; returns whether it held. */
async function until(check: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (check()) return true;
    await sleep(20);
  }
  return check();
}

describe('background checkpoints', () => {
  it('copies committed pages into the database file while the store stays open', async (t) => {
    const path = join(tempDir(t), 'audit.db');
    const store = openAuditStore({ path, checkpointIntervalMs: 20 });
    t.after(() => store.close());
    const before = statSync(path).size;
    await fill(store, 2000);
    // ~2 MiB of rows: far below the 40 MB at which a commit would checkpoint by itself.
    assert.ok(await until(() => statSync(path).size > before + 1_000_000, 5000), 'the database file grew');
    const { drained } = await store.close();
    assert.equal(drained, 0);
    // The worker's connection closed first: the main connection was the last and removed the WAL.
    assert.equal(existsSync(`${path}-wal`), false);
  });

  it('leaves pages in the WAL when disabled (commits checkpoint only past the backstop)', async (t) => {
    const path = join(tempDir(t), 'audit.db');
    const store = openAuditStore({ path, checkpointIntervalMs: 0 });
    t.after(() => store.close());
    const before = statSync(path).size;
    await fill(store, 2000);
    await sleep(300);
    assert.equal(statSync(path).size, before);
    assert.ok(statSync(`${path}-wal`).size > 1_000_000);
  });
});
