import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { acquireLock, readLockHolder } from '../src/index.ts';
import { spawnNode, tempDir } from './_helpers.ts';

const LOCK_MODULE = fileURLToPath(new URL('../src/lock.ts', import.meta.url));

describe('acquireLock', () => {
  it('creates the lock with our PID and removes it on release', async (t) => {
    const file = join(tempDir(t), 'lifecycle.lock');
    const got = await acquireLock(file, { timeoutMs: 100 });
    assert.ok(got.success);
    assert.equal(readFileSync(file, 'utf8'), `${process.pid}\n`);
    assert.equal(readLockHolder(file), process.pid);
    got.lock.release();
    assert.equal(existsSync(file), false);
    got.lock.release();
  });

  it('waits for a live holder and gives up after the timeout, naming it', async (t) => {
    const file = join(tempDir(t), 'lifecycle.lock');
    const holder = spawnNode(t, 'setInterval(() => {}, 1000)');
    writeFileSync(file, `${holder.pid}\n`);
    const got = await acquireLock(file, { timeoutMs: 300, pollMs: 20 });
    assert.deepEqual(got, { success: false, holderPid: holder.pid, reason: 'timeout' });
    assert.equal(readFileSync(file, 'utf8'), `${holder.pid}\n`);
  });

  it('takes over a lock whose holder is dead, or that the staleness check rejects', async (t) => {
    const dir = tempDir(t);
    const dead = spawnNode(t, 'process.exit(0)');
    await new Promise((resolve) => dead.once('exit', resolve));
    const file = join(dir, 'a.lock');
    writeFileSync(file, `${dead.pid}\n`);
    const got = await acquireLock(file, { timeoutMs: 100 });
    assert.ok(got.success);
    assert.equal(got.tookOverFrom, dead.pid);
    got.lock.release();

    const live = spawnNode(t, 'setInterval(() => {}, 1000)');
    const other = join(dir, 'b.lock');
    writeFileSync(other, `${live.pid}\n`);
    const taken = await acquireLock(other, { timeoutMs: 100, isHolderStale: (pid) => pid === live.pid });
    assert.ok(taken.success);
    taken.lock.release();
  });

  it('treats an old unparsable lock as abandoned but waits on a fresh one', async (t) => {
    const file = join(tempDir(t), 'lifecycle.lock');
    writeFileSync(file, '');
    const fresh = await acquireLock(file, { timeoutMs: 100, pollMs: 20 });
    assert.equal(fresh.success, false);
    const old = new Date(Date.now() - 60_000);
    utimesSync(file, old, old);
    const got = await acquireLock(file, { timeoutMs: 100 });
    assert.ok(got.success);
    got.lock.release();
  });

  it('lets exactly one of many concurrent processes in at a time', async (t) => {
    const dir = tempDir(t);
    const file = join(dir, 'lifecycle.lock');
    const inside = join(dir, 'inside');
    const script = `
      const { acquireLock } = await import(${JSON.stringify(LOCK_MODULE)});
      const fs = await import('node:fs');
      const got = await acquireLock(${JSON.stringify(file)}, { timeoutMs: 20000, pollMs: 10 });
      if (!got.success) process.exit(2);
      // Exclusive create fails if another holder is inside at the same time.
      try { fs.writeFileSync(${JSON.stringify(inside)}, String(process.pid), { flag: 'wx' }); } catch { process.exit(3); }
      await new Promise((r) => setTimeout(r, 30));
      fs.rmSync(${JSON.stringify(inside)});
      got.lock.release();
    `;
    const children = Array.from({ length: 4 }, () =>
      spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: 'inherit' }),
    );
    t.after(() => {
      for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    });
    const codes = await Promise.all(
      children.map(
        (child) => new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code))),
      ),
    );
    assert.deepEqual(codes, [0, 0, 0, 0]);
    assert.equal(existsSync(file), false);
  });
});
