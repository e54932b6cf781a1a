import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  findMarkedProcesses,
  type IdentityMatcher,
  isAlive,
  isSameProcess,
  readProcessIdentity,
  verifyProcess,
} from '../src/index.ts';
import { running, spawnNode, tempDir, waitUntil } from './_helpers.ts';

const linux = process.platform === 'linux';
const HOLD = 'setInterval(() => {}, 1000)';

function matcher(dataDir: string): IdentityMatcher {
  return {
    env: { DC_TEST_DAEMON: '1', DC_TEST_DATA_DIR: dataDir },
    argv: (argv) => argv.includes('fixture-daemon'),
  };
}

describe('verifyProcess', { skip: linux ? false : 'process-table fixtures are Linux-only' }, () => {
  it('calls a process with our markers and argv ours, with its identity', async (t) => {
    const dir = tempDir(t);
    const child = spawnNode(t, HOLD, { DC_TEST_DAEMON: '1', DC_TEST_DATA_DIR: dir }, ['fixture-daemon']);
    const v = await verifyProcess(child.pid, matcher(dir));
    assert.equal(v.status, 'ours');
    assert.ok(v.status === 'ours' && v.identity.startTime !== undefined);
    assert.ok(v.status === 'ours' && v.identity.command?.includes('fixture-daemon'));
  });

  it('calls an unrelated live process foreign (so it is never signalled)', async (t) => {
    const dir = tempDir(t);
    const child = spawnNode(t, HOLD);
    const v = await verifyProcess(child.pid, matcher(dir));
    assert.equal(v.status, 'foreign');
    assert.ok(running(child.pid));
  });

  it('calls a daemon of another data dir foreign', async (t) => {
    const dir = tempDir(t);
    const other = tempDir(t);
    const child = spawnNode(t, HOLD, { DC_TEST_DAEMON: '1', DC_TEST_DATA_DIR: other }, ['fixture-daemon']);
    assert.equal((await verifyProcess(child.pid, matcher(dir))).status, 'foreign');
  });

  it('calls an exited process dead, and PID 1 or our own PID foreign', async (t) => {
    const dir = tempDir(t);
    const child = spawnNode(t, 'process.exit(0)');
    await new Promise((resolve) => child.once('exit', resolve));
    assert.equal((await verifyProcess(child.pid, matcher(dir))).status, 'dead');
    assert.equal((await verifyProcess(1, matcher(dir))).status, 'foreign');
    assert.equal((await verifyProcess(process.pid, matcher(dir))).status, 'foreign');
  });

  it('falls back to extraProof, then unknown, when the process table cannot decide', async (t) => {
    const dir = tempDir(t);
    const child = spawnNode(t, HOLD);
    const procRoot = tempDir(t); // an empty proc root: nothing readable
    const unknown = await verifyProcess(child.pid, matcher(dir), { procRoot });
    assert.equal(unknown.status, 'unknown');
    const proven = await verifyProcess(child.pid, matcher(dir), { procRoot, extraProof: async () => true });
    assert.equal(proven.status, 'ours');
  });
});

describe('isSameProcess', { skip: linux ? false : 'Linux-only' }, () => {
  it('holds while the process runs and fails once it exits or when the start time differs', async (t) => {
    const child = spawnNode(t, HOLD);
    const identity = await readProcessIdentity(child.pid);
    assert.ok(identity !== undefined);
    assert.equal(await isSameProcess(identity), true);
    assert.equal(await isSameProcess({ ...identity, startTime: '1' }), false);
    child.kill('SIGKILL');
    await waitUntil(() => !running(child.pid));
    assert.equal(await isSameProcess(identity), false);
    assert.equal(isAlive(child.pid), false);
  });
});

describe('findMarkedProcesses', { skip: linux ? false : 'Linux-only' }, () => {
  it('finds the processes that carry the markers and nothing else', async (t) => {
    const dir = tempDir(t);
    const marked = spawnNode(t, HOLD, { DC_TEST_DAEMON: '1', DC_TEST_DATA_DIR: dir }, ['fixture-daemon']);
    const plain = spawnNode(t, HOLD);
    await waitUntil(() => findMarkedProcesses(matcher(dir)).includes(marked.pid));
    const found = findMarkedProcesses(matcher(dir));
    assert.deepEqual(found, [marked.pid]);
    assert.ok(!found.includes(plain.pid));
  });
});
