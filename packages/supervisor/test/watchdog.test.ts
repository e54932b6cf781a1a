import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  createWatchdog,
  type HealthOutcome,
  type RestartResult,
  type WatchdogOptions,
  type WatchdogState,
  type WatchdogTarget,
} from '../src/index.ts';

const SETTINGS = {
  intervalMs: 10_000,
  failures: 3,
  gatewayErrorGraceMs: 120_000,
  maxRestarts: 5,
  restartWindowMs: 600_000,
};

type Script = {
  target?: (poll: number) => WatchdogTarget;
  health?: (poll: number) => HealthOutcome;
  restart?: (n: number) => RestartResult;
  polls: number;
};

// A virtual clock: sleep advances it at once, so a 10-minute scenario runs in milliseconds.
async function simulate(script: Script, extra: Partial<WatchdogOptions> = {}) {
  let clock = Date.parse('2026-05-01T10:00:00.000Z');
  const lines: string[] = [];
  const states: WatchdogState[] = [];
  const restarts: { at: number; reason: string; previousPid: number | undefined }[] = [];
  const sleeps: number[] = [];
  let polls = 0;
  const controller = new AbortController();
  const dog = createWatchdog({
    ...SETTINGS,
    jitter: 0,
    now: () => clock,
    sleep: async (ms, signal) => {
      if (signal.aborted) throw signal.reason;
      sleeps.push(ms);
      clock += ms;
    },
    checkTarget: async () => {
      polls += 1;
      if (polls > script.polls) controller.abort(new Error('end of script'));
      return script.target?.(polls) ?? { state: 'alive', pid: 100 };
    },
    probe: async () => script.health?.(polls) ?? { kind: 'healthy' },
    restart: async ({ reason, previousPid }) => {
      restarts.push({ at: clock, reason, previousPid });
      return script.restart?.(restarts.length) ?? { ok: true, pid: 200 + restarts.length, readyMs: 1200 };
    },
    log: (line) => lines.push(line),
    onState: (state) => states.push(state),
    ...extra,
  });
  const exit = await dog.run(controller.signal);
  return {
    exit,
    lines,
    states,
    restarts,
    sleeps,
    state: dog.state,
    start: Date.parse('2026-05-01T10:00:00.000Z'),
  };
}

const refused: HealthOutcome = { kind: 'unhealthy', reason: 'connect ECONNREFUSED' };

describe('createWatchdog', () => {
  it('polls quietly while healthy and exits when the PID file disappears', async () => {
    const run = await simulate({
      polls: 10,
      target: (n) => (n < 5 ? { state: 'alive', pid: 100 } : { state: 'absent' }),
    });
    assert.deepEqual(run.exit, { reason: 'pid_file_removed' });
    assert.deepEqual(run.lines, ['gateway.pid removed — daemon stopped intentionally; watchdog exiting']);
    assert.deepEqual(run.sleeps, [10_000, 10_000, 10_000, 10_000, 10_000]);
    assert.equal(run.restarts.length, 0);
  });

  it('restarts after the configured number of consecutive failures, logging each decision', async () => {
    const run = await simulate({
      polls: 6,
      health: (n) => (n >= 2 && n <= 4 ? refused : { kind: 'healthy' }),
    });
    assert.equal(run.restarts.length, 1);
    assert.equal(run.restarts[0]!.reason, 'watchdog: 3 consecutive health failures (connect ECONNREFUSED)');
    assert.equal(run.restarts[0]!.previousPid, 100);
    assert.deepEqual(run.lines, [
      'failure 1/3: connect ECONNREFUSED',
      'failure 2/3: connect ECONNREFUSED',
      'failure 3/3: connect ECONNREFUSED',
      'restarting daemon (PID 100): 3 consecutive health failures (connect ECONNREFUSED)',
      'restart ok: new PID 201 ready in 1.2s',
    ]);
    assert.equal(run.state.restarts.length, 1);
    assert.equal(run.state.consecutive_failures, 0);
    assert.ok(run.states.some((s) => s.state === 'restarting'));
  });

  it('resets the count on a healthy poll in between', async () => {
    const run = await simulate({
      polls: 8,
      health: (n) => (n === 2 || n === 3 || n === 5 || n === 6 ? refused : { kind: 'healthy' }),
    });
    assert.equal(run.restarts.length, 0);
    assert.ok(run.lines.includes('recovered after 2 failed polls'));
  });

  it('restarts a dead daemon at once', async () => {
    const run = await simulate({
      polls: 3,
      target: (n) =>
        n === 2
          ? { state: 'dead', pid: 100, reason: 'PID 100 is not running' }
          : { state: 'alive', pid: 100 },
    });
    assert.equal(run.restarts.length, 1);
    assert.equal(run.restarts[0]!.reason, 'watchdog: PID 100 is not running');
    assert.equal(run.restarts[0]!.at - run.start, 20_000);
  });

  it('backs off 0, 5, 15, 45 s between consecutive restarts', async () => {
    const run = await simulate({ polls: 8, target: () => ({ state: 'dead', pid: 100, reason: 'gone' }) });
    const gaps = run.restarts
      .slice(0, 4)
      .map((r, i) => r.at - (i === 0 ? run.start : run.restarts[i - 1]!.at));
    assert.deepEqual(gaps, [10_000, 15_000, 25_000, 55_000]);
    assert.ok(run.lines.includes('backing off 5s before restart 2'));
  });

  it('pauses after max_restarts in the window, keeps polling, and resumes when the window allows', async () => {
    const run = await simulate(
      {
        polls: 40,
        target: () => ({ state: 'dead', pid: 100, reason: 'gone' }),
        restart: () => ({ ok: false, reason: 'exited 3' }),
      },
      { maxRestarts: 2, restartWindowMs: 120_000, backoffMs: [0] },
    );
    const pause = run.lines.filter((l) =>
      l.startsWith('restart limit reached: 2 restarts in 120s; pausing restarts until '),
    );
    assert.ok(pause.length >= 1);
    assert.ok(run.lines.includes('restart failed: exited 3'));
    assert.ok(run.lines.includes('restart limit window passed; restarts enabled again'));
    // Never more than two restarts inside any 120 s window.
    for (const r of run.restarts) {
      assert.ok(run.restarts.filter((o) => o.at > r.at - 120_000 && o.at <= r.at).length <= 2);
    }
    assert.ok(run.states.some((s) => s.state === 'paused' && s.paused_until !== null));
  });

  it('counts an internal gateway error only after the grace period', async () => {
    const since = Date.parse('2026-05-01T10:00:00.000Z');
    const run = await simulate(
      {
        polls: 9,
        health: () => ({ kind: 'gateway_internal_error', sinceMs: since, reason: 'gateway: stalled' }),
      },
      { gatewayErrorGraceMs: 50_000 },
    );
    // Polls at 10…40 s are within the grace; 50, 60, 70 s are failures 1–3.
    assert.equal(run.restarts.length, 1);
    assert.equal(run.restarts[0]!.at - run.start, 70_000);
    assert.equal(run.lines[0], 'failure 1/3: gateway: stalled');
  });

  it('does not count a restart that was skipped', async () => {
    const run = await simulate({
      polls: 3,
      target: () => ({ state: 'dead', pid: 100, reason: 'gone' }),
      restart: () => ({ ok: 'skipped', reason: 'stop holds the lifecycle lock' }),
    });
    assert.equal(run.state.restarts.length, 0);
    assert.ok(run.lines.includes('restart skipped: stop holds the lifecycle lock'));
  });

  it('writes an hourly heartbeat and exits cleanly when aborted', async () => {
    const run = await simulate({ polls: 400 }, { heartbeatMs: 3_600_000 });
    assert.deepEqual(run.exit, { reason: 'aborted' });
    assert.equal(run.lines.filter((l) => l === 'heartbeat: healthy').length, 1);
  });
});
