import { sleep } from './_fs.ts';
import { isAlive, isSameProcess, type ProcessIdentity } from './process-identity.ts';

/** Options of `stopProcess`. */
export type StopProcessOptions = {
  /** How long to wait after SIGTERM before SIGKILL. @default 10000 */
  termTimeoutMs?: number;
  /** How long to wait after SIGKILL before reporting the process as surviving. @default 2000 */
  killWaitMs?: number;
  /** How often to check whether the process exited. @default 100 */
  pollMs?: number;
  /** The process-table reader's platform and proc root (tests). */
  platform?: NodeJS.Platform;
  procRoot?: string;
};

/** How `stopProcess` ended. */
export type StopOutcome =
  /** Exited after SIGTERM. */
  | { outcome: 'exited'; elapsedMs: number }
  /** Did not exit within `termTimeoutMs`; SIGKILL ended it. */
  | { outcome: 'killed'; elapsedMs: number }
  /** Still alive `killWaitMs` after SIGKILL. */
  | { outcome: 'survived'; elapsedMs: number }
  /** Was no longer running when asked to stop. */
  | { outcome: 'not_running'; elapsedMs: number }
  /** The PID now names a different process (start time or command line changed): nothing was signalled. */
  | { outcome: 'identity_changed'; elapsedMs: number };

/**
 * Stops a verified process: SIGTERM, wait up to `termTimeoutMs`, then SIGKILL and wait `killWaitMs`. The identity
 * (start time and command line) is re-checked right before each signal, so a PID reused by a stranger in the
 * meantime is never signalled.
 *
 * @example
 * ```ts
 * const { outcome } = await stopProcess(verified.identity, { termTimeoutMs: 10_000 });
 * ```
 */
export async function stopProcess(
  identity: ProcessIdentity,
  options: StopProcessOptions = {},
): Promise<StopOutcome> {
  const started = performance.now();
  const elapsed = () => performance.now() - started;
  const termTimeoutMs = options.termTimeoutMs ?? 10_000;
  const killWaitMs = options.killWaitMs ?? 2000;
  const pollMs = options.pollMs ?? 100;
  const table = { platform: options.platform, procRoot: options.procRoot };

  const first = await signalIfSame(identity, 'SIGTERM', table);
  if (first !== 'sent') return { outcome: first, elapsedMs: elapsed() };
  if (await waitGone(identity.pid, termTimeoutMs, pollMs, table))
    return { outcome: 'exited', elapsedMs: elapsed() };
  const second = await signalIfSame(identity, 'SIGKILL', table);
  if (second === 'not_running') return { outcome: 'exited', elapsedMs: elapsed() };
  if (second === 'identity_changed') return { outcome: 'identity_changed', elapsedMs: elapsed() };
  if (await waitGone(identity.pid, killWaitMs, pollMs, table))
    return { outcome: 'killed', elapsedMs: elapsed() };
  return { outcome: 'survived', elapsedMs: elapsed() };
}

/**
 * Sends `signal` to the process only if it is still the one `identity` describes; reports what happened.
 */
export async function signalIfSame(
  identity: ProcessIdentity,
  signal: NodeJS.Signals,
  table: { platform?: NodeJS.Platform | undefined; procRoot?: string | undefined } = {},
): Promise<'sent' | 'not_running' | 'identity_changed'> {
  const options = clean(table);
  if (!isAlive(identity.pid, options)) return 'not_running';
  if (!(await isSameProcess(identity, options))) {
    return isAlive(identity.pid, options) ? 'identity_changed' : 'not_running';
  }
  try {
    process.kill(identity.pid, signal);
    return 'sent';
  } catch {
    return 'not_running';
  }
}

// --- internal ---

async function waitGone(
  pid: number,
  timeoutMs: number,
  pollMs: number,
  table: { platform?: NodeJS.Platform | undefined; procRoot?: string | undefined },
): Promise<boolean> {
  const options = clean(table);
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (!isAlive(pid, options)) return true;
    const left = deadline - performance.now();
    if (left <= 0) return false;
    await sleep(Math.min(pollMs, left));
  }
}

function clean(table: { platform?: NodeJS.Platform | undefined; procRoot?: string | undefined }) {
  return {
    ...(table.platform === undefined ? {} : { platform: table.platform }),
    ...(table.procRoot === undefined ? {} : { procRoot: table.procRoot }),
  };
}
