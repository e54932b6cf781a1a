import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createTestHome, isRunning, portIsFree, waitFor } from './_lifecycle-helpers.ts';

const linux = process.platform === 'linux';

function sessionOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[3]);
}

describe('start, status, restart, stop', { skip: linux ? false : 'process fixtures are Linux-only' }, () => {
  it('runs a detached daemon through its whole lifecycle', async (t) => {
    const home = await createTestHome(t);

    const started = await home.cli(['start']);
    assert.equal(started.code, 0, started.stderr);
    const pid = Number(/^Starting gateway sidecar daemon\.\.\. OK \(PID (\d+)\)$/m.exec(started.stdout)?.[1]);
    assert.ok(pid > 0, started.stdout);
    assert.match(readFileSync(join(home.dir, 'gateway.pid'), 'utf8'), /^[1-9][0-9]*\n$/);
    assert.equal(home.daemonPid(), pid);
    assert.equal(spawnSync('ps', ['-p', String(pid)]).status, 0);
    assert.equal(sessionOf(pid), pid, 'the daemon leads its own session');
    const summary = /^ {2}Health: (.*)$/m.exec(started.stdout)?.[1] ?? '';
    const words = Object.fromEntries(summary.split(', ').map((pair) => pair.split(':') as [string, string]));
    for (const key of [
      'gateway',
      'watcher',
      'guardrail',
      'api',
      'telemetry',
      'splunk',
      'sandbox',
      'audit',
      'policy',
    ]) {
      assert.ok(key in words, `${key} in ${summary}`);
    }
    assert.equal(words.api, 'ok');
    assert.equal(words.audit, 'ok');
    assert.equal(words.policy, 'ok');
    assert.equal(words.gateway, 'off', 'gateway.connect: false');
    assert.equal(words.sandbox, 'off');
    assert.match(started.stdout, /^ {2}Watchdog: disabled \(enable with gateway\.watchdog\.enabled\)$/m);
    const health = await home.health();
    assert.deepEqual(Object.keys(health ?? {}).slice(0, 7), [
      'gateway',
      'watcher',
      'guardrail',
      'api',
      'telemetry',
      'splunk',
      'sandbox',
    ]);
    const log = readFileSync(join(home.dir, 'gateway.log'), 'utf8');
    assert.match(log, /^==== start \S+ by start ====$/m);
    assert.match(log, /API listening on/);

    const status = await home.cli(['status']);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, new RegExp(`^DefenseClaw gateway sidecar — running \\(PID ${pid}, up `, 'm'));
    for (const key of [
      'gateway',
      'watcher',
      'guardrail',
      'api',
      'telemetry',
      'splunk',
      'sandbox',
      'audit',
      'policy',
    ]) {
      assert.match(status.stdout, new RegExp(`^ {2}${key} +\\w+ +\\d{4}-`, 'm'));
    }
    if (/ · supervisor /.test(status.stdout)) assert.match(status.stdout, / · supervisor detached$/m);
    const json = await home.cli(['status', '--json']);
    assert.equal(json.code, 0);
    const doc = JSON.parse(json.stdout) as { health: Record<string, { state: string }> };
    assert.equal(doc.health.api?.state, 'running');

    const again = await home.cli(['start']);
    assert.equal(again.code, 0);
    assert.equal(
      again.stdout,
      `Gateway sidecar is already running (PID ${pid})\nUse 'defenseclaw-gateway restart' to reload config\n`,
    );
    assert.deepEqual(home.markedProcesses(), [pid]);

    // An invalid config: restart exits 3 and leaves the old daemon serving.
    const configFile = join(home.dir, 'config.yaml');
    const goodConfig = readFileSync(configFile, 'utf8');
    writeFileSync(configFile, `${goodConfig}  api_prot: 1\n`);
    const bad = await home.cli(['restart']);
    assert.equal(bad.code, 3);
    assert.match(
      bad.stderr,
      /gateway\.api_prot \(line \d+\): unknown key — did you mean gateway\.api_port\?/,
    );
    assert.equal(home.daemonPid(), pid);
    assert.equal((await home.health())?.api?.state, 'running');
    writeFileSync(configFile, goodConfig);

    const restarted = await home.cli(['restart']);
    assert.equal(restarted.code, 0, restarted.stderr);
    assert.match(
      restarted.stdout,
      new RegExp(`^Stopping gateway sidecar \\(PID ${pid}\\)\\.\\.\\. OK$`, 'm'),
    );
    const newPid = home.daemonPid();
    assert.ok(newPid !== undefined && newPid !== pid);
    assert.match(restarted.stdout, new RegExp(`OK \\(PID ${newPid}\\)`));
    assert.equal(isRunning(pid), false);
    assert.match(readFileSync(join(home.dir, 'gateway.log'), 'utf8'), /^==== start \S+ by restart ====$/m);

    // A daemon that cannot react (SIGSTOP) is SIGKILLed after --timeout, and the output says so.
    process.kill(newPid, 'SIGSTOP');
    const stopped = await home.cli(['stop', '--timeout', '1']);
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.equal(
      stopped.stdout,
      `Stopping gateway sidecar (PID ${newPid})... OK (did not exit within 1s; sent SIGKILL)\n`,
    );
    assert.equal(existsSync(join(home.dir, 'gateway.pid')), false);
    assert.equal(isRunning(newPid), false);
    assert.ok(await waitFor(() => portIsFree(home.port), 5000));

    const after = await home.cli(['status']);
    assert.equal(after.code, 1);
    assert.equal(after.stdout, 'Gateway sidecar is not running\nStart it with: defenseclaw-gateway start\n');
    const json2 = await home.cli(['status', '--json']);
    assert.equal(json2.code, 1);
    assert.deepEqual(JSON.parse(json2.stdout), { running: false, pid: null, reason: 'not running' });

    const stopAgain = await home.cli(['stop']);
    assert.equal(stopAgain.code, 0);
    assert.equal(stopAgain.stdout, 'Gateway sidecar is not running\n');
  });

  it('stops a cooperative daemon with SIGTERM; the daemon removes its own PID file', async (t) => {
    const home = await createTestHome(t);
    assert.equal((await home.cli(['start'])).code, 0);
    const pid = home.daemonPid()!;
    const stopped = await home.cli(['stop']);
    assert.equal(stopped.stdout, `Stopping gateway sidecar (PID ${pid})... OK\n`);
    assert.equal(isRunning(pid), false);
    assert.equal(existsSync(join(home.dir, 'gateway.pid')), false);
    assert.match(readFileSync(join(home.dir, 'gateway.log'), 'utf8'), /SIGTERM received; shutting down/);
  });
});

describe('concurrent starts', { skip: linux ? false : 'Linux-only' }, () => {
  it('end with exactly one daemon', async (t) => {
    const home = await createTestHome(t);
    const [a, b] = await Promise.all([home.cli(['start']), home.cli(['start'])]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    const both = `${a.stdout}\n${b.stdout}`;
    const pid = home.daemonPid();
    assert.ok(pid !== undefined);
    assert.match(both, new RegExp(`OK \\(PID ${pid}\\)`));
    assert.match(both, new RegExp(`Gateway sidecar is already running \\(PID ${pid}\\)`));
    assert.deepEqual(home.markedProcesses(), [pid]);
    assert.equal((await home.cli(['stop'])).code, 0);
  });
});

describe('start refusals', { skip: linux ? false : 'Linux-only' }, () => {
  it('exits 4 naming the port and key when the API port is taken, spawning nothing', async (t) => {
    const home = await createTestHome(t);
    // A plain TCP server that is not ours: it hangs up on anyone who asks it for /status.
    const blocker = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => blocker.listen(home.port, '127.0.0.1', resolve));
    t.after(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
    const result = await home.cli(['start']);
    assert.equal(result.code, 4);
    assert.equal(
      result.stderr,
      `start: FAILED: bind: address already in use: 127.0.0.1:${home.port} (gateway.api_port)\n` +
        `Find the owner with 'lsof -i :${home.port}', or change gateway.api_port in ${join(home.dir, 'config.yaml')}\n`,
    );
    assert.equal(existsSync(join(home.dir, 'gateway.pid')), false);
    assert.deepEqual(home.markedProcesses(), []);
  });

  it('exits 4 naming guardrail.port when the proxy port is taken', async (t) => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise<void>((resolve) => probe.close(() => resolve())));
    const proxyPort = (probe.address() as { port: number }).port;
    const home = await createTestHome(t, `guardrail:\n  enabled: true\n  port: ${proxyPort}\n`);
    const result = await home.cli(['start']);
    assert.equal(result.code, 4, result.stderr);
    assert.match(
      result.stderr,
      new RegExp(
        `^start: FAILED: bind: address already in use: 127\\.0\\.0\\.1:${proxyPort} \\(guardrail\\.port\\)$`,
        'm',
      ),
    );
    assert.deepEqual(home.markedProcesses(), []);
  });

  it('exits 3 naming the key for an invalid config, spawning nothing', async (t) => {
    const home = await createTestHome(t, 'watchdog:\n  enabled: true\n');
    const result = await home.cli(['start']);
    assert.equal(result.code, 3);
    assert.match(result.stderr, /^config error: /);
    assert.match(result.stderr, /watchdog \(line \d+\): unknown key — did you mean gateway\.watchdog\?/);
    assert.equal(result.stdout, '');
    assert.equal(existsSync(join(home.dir, 'gateway.pid')), false);
    assert.deepEqual(home.markedProcesses(), []);
  });

  it('exits 3 for a .env readable by others', async (t) => {
    const home = await createTestHome(t);
    writeFileSync(join(home.dir, '.env'), 'DEFENSECLAW_API_TOKEN=abc\n', { mode: 0o644 });
    const result = await home.cli(['start']);
    assert.equal(result.code, 3);
    assert.match(result.stderr, /\.env has mode 0644; secrets files must be 0600/);
    assert.doesNotMatch(result.stderr, /abc/);
    assert.deepEqual(home.markedProcesses(), []);
  });
});

describe('stale and hostile PID files', { skip: linux ? false : 'Linux-only' }, () => {
  it('cleans a dead PID and garbage with a one-line note', async (t) => {
    const home = await createTestHome(t);
    const dead = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
    const deadPid = Number(dead.stdout.trim());
    const pidFile = join(home.dir, 'gateway.pid');
    writeFileSync(pidFile, `${deadPid}\n`);
    const status = await home.cli(['status']);
    assert.equal(status.code, 1);
    assert.equal(status.stderr, `Removed stale PID file ${pidFile} (PID ${deadPid} is not running)\n`);
    assert.equal(existsSync(pidFile), false);

    writeFileSync(pidFile, 'not a pid\n');
    const started = await home.cli(['start']);
    assert.equal(started.code, 0, started.stderr);
    assert.equal(started.stderr, `Removed invalid PID file ${pidFile} (content is not a process id)\n`);
    assert.ok(home.daemonPid() !== undefined);
    assert.equal((await home.cli(['stop'])).code, 0);
  });

  it('never signals a live unrelated process named by the PID file', async (t) => {
    const home = await createTestHome(t);
    const stranger = spawn('sleep', ['300'], { stdio: 'ignore' });
    t.after(() => {
      stranger.kill('SIGKILL');
    });
    const pid = stranger.pid!;
    const pidFile = join(home.dir, 'gateway.pid');
    writeFileSync(pidFile, `${pid}\n`);
    const stopped = await home.cli(['stop']);
    assert.equal(stopped.code, 0);
    assert.equal(
      stopped.stderr,
      `Removed stale PID file ${pidFile} (PID ${pid} is not a defenseclaw-gateway daemon)\n`,
    );
    assert.equal(stopped.stdout, 'Gateway sidecar is not running\n');
    assert.equal(isRunning(pid), true, 'the stranger was not signalled');
    assert.equal(stranger.exitCode, null);
    assert.equal(stranger.signalCode, null);
  });
});
