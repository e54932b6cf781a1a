import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  isSupervisorError,
  readProcessIdentity,
  rotateLog,
  spawnDetached,
  stopProcess,
  waitForReady,
} from '../src/index.ts';
import { killQuietly, running, spawnNode, tempDir, waitUntil } from './_helpers.ts';

const linux = process.platform === 'linux';

function sessionOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[3]);
}

describe('spawnDetached', () => {
  it('starts a session leader whose output lands in the log after the marker', async (t) => {
    const dir = tempDir(t);
    const logFile = join(dir, 'gateway.log');
    const child = await spawnDetached({
      command: process.execPath,
      args: [
        '-e',
        'console.log("hello from " + process.pid); console.error("to stderr"); setInterval(() => {}, 1000)',
      ],
      cwd: dir,
      env: { ...process.env },
      logFile,
      marker: '==== start test ====',
    });
    t.after(() => killQuietly(child.pid));
    assert.ok(running(child.pid));
    await waitUntil(() => readFileSync(logFile, 'utf8').includes('to stderr'));
    const text = readFileSync(logFile, 'utf8');
    assert.match(text, new RegExp(`^==== start test ====\\nhello from ${child.pid}\\n`));
    assert.equal(statSync(logFile).mode & 0o777, 0o600);
    if (linux) assert.equal(sessionOf(child.pid), child.pid);
  });

  it('reports the exit code of a child that dies during startup', async (t) => {
    const dir = tempDir(t);
    const child = await spawnDetached({
      command: process.execPath,
      args: ['-e', 'process.exit(4)'],
      cwd: dir,
      env: { ...process.env },
      logFile: join(dir, 'x.log'),
    });
    const outcome = await waitForReady({
      probe: async () => ({ ready: false, detail: 'not yet' }),
      timeoutMs: 10_000,
      exited: child.exited,
    });
    assert.equal(outcome.status, 'exited');
    assert.ok(outcome.status === 'exited' && outcome.exit.code === 4);
  });

  it('refuses a symlinked log file and a missing program', async (t) => {
    const dir = tempDir(t);
    writeFileSync(join(dir, 'target'), '');
    symlinkSync(join(dir, 'target'), join(dir, 'link.log'));
    await assert.rejects(
      spawnDetached({
        command: process.execPath,
        args: [],
        cwd: dir,
        env: {},
        logFile: join(dir, 'link.log'),
      }),
      (e) => isSupervisorError(e, 'NOT_A_FILE'),
    );
    await assert.rejects(
      spawnDetached({ command: join(dir, 'nope'), args: [], cwd: dir, env: {}, logFile: join(dir, 'a.log') }),
      (e) => isSupervisorError(e, 'SPAWN_FAILED'),
    );
  });
});

describe('rotateLog', () => {
  it('shifts files past the size limit and keeps three', (t) => {
    const dir = tempDir(t);
    const file = join(dir, 'gateway.log');
    for (let i = 1; i <= 4; i++) {
      writeFileSync(file, `generation ${i} `.padEnd(50, '.'));
      assert.equal(rotateLog(file, { maxBytes: 10 }), true);
    }
    assert.equal(rotateLog(file, { maxBytes: 10 }), false);
    assert.match(readFileSync(`${file}.1`, 'utf8'), /generation 4/);
    assert.match(readFileSync(`${file}.3`, 'utf8'), /generation 2/);
    writeFileSync(file, 'small');
    assert.equal(rotateLog(file, { maxBytes: 10 }), false);
  });
});

describe('stopProcess', { skip: linux ? false : 'Linux-only fixtures' }, () => {
  it('stops a cooperative process with SIGTERM', async (t) => {
    const child = spawnNode(t, 'process.on("SIGTERM", () => process.exit(0)); setInterval(() => {}, 1000)');
    await new Promise((resolve) => setTimeout(resolve, 100));
    const identity = await readProcessIdentity(child.pid);
    assert.ok(identity !== undefined);
    const result = await stopProcess(identity, { termTimeoutMs: 5000 });
    assert.equal(result.outcome, 'exited');
    assert.equal(running(child.pid), false);
  });

  it('SIGKILLs a process that ignores SIGTERM after the timeout', async (t) => {
    const ready = join(tempDir(t), 'ready');
    const child = spawnNode(
      t,
      'process.on("SIGTERM", () => {}); require("fs").writeFileSync(process.argv[1], "1"); setInterval(() => {}, 1000)',
      {},
      [ready],
    );
    await waitUntil(() => existsSync(ready), 10_000, 'the SIGTERM handler');
    const identity = await readProcessIdentity(child.pid);
    assert.ok(identity !== undefined);
    const result = await stopProcess(identity, { termTimeoutMs: 300 });
    assert.equal(result.outcome, 'killed');
    assert.equal(running(child.pid), false);
  });

  it('never signals a PID whose identity changed, and reports a gone one', async (t) => {
    const child = spawnNode(t, 'setInterval(() => {}, 1000)');
    const identity = await readProcessIdentity(child.pid);
    assert.ok(identity !== undefined);
    const stranger = { ...identity, startTime: String(Number(identity.startTime) - 1) };
    assert.equal((await stopProcess(stranger, { termTimeoutMs: 100 })).outcome, 'identity_changed');
    assert.ok(running(child.pid));
    child.kill('SIGKILL');
    await waitUntil(() => !running(child.pid));
    assert.equal((await stopProcess(identity, { termTimeoutMs: 100 })).outcome, 'not_running');
  });
});
