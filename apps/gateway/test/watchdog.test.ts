import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createTestHome, isRunning, waitFor } from './_lifecycle-helpers.ts';

const linux = process.platform === 'linux';
const WATCHDOG = 'gateway:\n  watchdog:\n    enabled: true\n    interval_s: 1\n    failures: 2\n';

// createTestHome writes `gateway:` first; the watchdog block is appended under it.
function watchdogConfig(): string {
  return WATCHDOG.replace('gateway:\n', '');
}

describe('watchdog', { skip: linux ? false : 'process fixtures are Linux-only' }, () => {
  it('restarts a daemon killed with SIGKILL and is stopped first by stop', async (t) => {
    const home = await createTestHome(t, watchdogConfig());
    const started = await home.cli(['start']);
    assert.equal(started.code, 0, started.stderr);
    const watchdogPid = Number(/^ {2}Watchdog: started \(PID (\d+)\)$/m.exec(started.stdout)?.[1]);
    assert.ok(watchdogPid > 0, started.stdout);
    assert.equal(home.watchdogPid(), watchdogPid);
    const first = home.daemonPid()!;

    process.kill(first, 'SIGKILL');
    const restarted = await waitFor(async () => {
      const pid = home.daemonPid();
      return pid !== undefined && pid !== first && (await home.health())?.api?.state === 'running';
    }, 20_000);
    assert.ok(restarted, readFileSync(join(home.dir, 'watchdog.log'), 'utf8'));
    const second = home.daemonPid()!;
    const log = readFileSync(join(home.dir, 'watchdog.log'), 'utf8');
    assert.match(log, new RegExp(`daemon not running: PID ${first} is not running`));
    assert.match(log, new RegExp(`restarting daemon \\(PID ${first}\\): PID ${first} is not running`));
    assert.match(
      await waitLog(home.dir, new RegExp(`restart ok: new PID ${second} ready in \\d+\\.\\ds`)),
      /restart ok/,
    );
    assert.match(readFileSync(join(home.dir, 'gateway.log'), 'utf8'), /^==== start \S+ by watchdog ====$/m);
    const state = JSON.parse(readFileSync(join(home.dir, 'watchdog.state'), 'utf8')) as {
      restarts: string[];
    };
    assert.equal(state.restarts.length, 1);

    const status = await home.cli(['status']);
    assert.match(
      status.stdout,
      new RegExp(`watchdog: running \\(PID ${watchdogPid}\\), 1 restarts in the last 10 min`),
    );

    const stopped = await home.cli(['stop']);
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.equal(
      stopped.stdout,
      `Watchdog stopped (PID ${watchdogPid})\nStopping gateway sidecar (PID ${second})... OK\n`,
    );
    assert.equal(existsSync(join(home.dir, 'watchdog.pid')), false);
    assert.equal(existsSync(join(home.dir, 'gateway.pid')), false);
    // Nothing comes back after an intended stop.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    assert.deepEqual(home.markedProcesses(), []);
  });

  it('exits when the daemon stops on its own, and restarts a hung daemon after the failed polls', async (t) => {
    const home = await createTestHome(t, watchdogConfig());
    assert.equal((await home.cli(['start'])).code, 0);
    const watchdogPid = home.watchdogPid()!;
    const first = home.daemonPid()!;

    // SIGSTOP: the process lives but /health times out → 2 failures → restart.
    process.kill(first, 'SIGSTOP');
    const replaced = await waitFor(async () => {
      const pid = home.daemonPid();
      return pid !== undefined && pid !== first && (await home.health())?.api?.state === 'running';
    }, 25_000);
    assert.ok(replaced, readFileSync(join(home.dir, 'watchdog.log'), 'utf8'));
    assert.equal(isRunning(first), false, 'the hung daemon was killed');
    const log = readFileSync(join(home.dir, 'watchdog.log'), 'utf8');
    assert.match(log, /failure 1\/2: timeout after 1000 ms/);
    assert.match(
      log,
      /restarting daemon \(PID \d+\): 2 consecutive health failures \(timeout after 1000 ms\)/,
    );

    // A clean SIGTERM removes gateway.pid: the watchdog reads an intended stop and exits.
    const second = home.daemonPid()!;
    process.kill(second, 'SIGTERM');
    assert.ok(await waitFor(() => !isRunning(watchdogPid), 10_000), 'the watchdog exited');
    assert.match(
      readFileSync(join(home.dir, 'watchdog.log'), 'utf8'),
      /gateway\.pid removed — daemon stopped intentionally; watchdog exiting/,
    );
    assert.equal(existsSync(join(home.dir, 'watchdog.pid')), false);
    assert.deepEqual(home.markedProcesses(), []);
  });
});

async function waitLog(dir: string, pattern: RegExp): Promise<string> {
  let text = '';
  await waitFor(() => {
    text = readFileSync(join(dir, 'watchdog.log'), 'utf8');
    return pattern.test(text);
  }, 5000);
  return text;
}
