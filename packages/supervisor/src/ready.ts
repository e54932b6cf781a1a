import { sleep } from './_fs.ts';
import type { ChildExit } from './spawn.ts';

/** One readiness probe result: ready with a value, or not yet (with what was seen), or failed for good. */
export type ProbeResult<T> = { ready: true; value: T } | { ready: false; detail: string; fatal?: boolean };

/** Options of `waitForReady`. */
export type WaitForReadyOptions<T> = {
  /** Asks once whether the process is ready; the signal aborts one slow probe. */
  probe: (signal: AbortSignal) => Promise<ProbeResult<T>>;
  /** Give up after this long. */
  timeoutMs: number;
  /** Pause between probes. @default 100 */
  intervalMs?: number;
  /** Longest a single probe may take. @default 1000 */
  probeTimeoutMs?: number;
  /** Resolves when the process exits: readiness then fails at once. */
  exited?: Promise<ChildExit>;
  /** Cancels the wait. */
  signal?: AbortSignal;
};

/** How a readiness wait ended. */
export type ReadyOutcome<T> =
  | { status: 'ready'; value: T; elapsedMs: number }
  | { status: 'exited'; exit: ChildExit; lastDetail: string | undefined }
  | { status: 'timeout'; lastDetail: string | undefined }
  | { status: 'failed'; detail: string }
  | { status: 'aborted'; lastDetail: string | undefined };

/**
 * Polls `probe` every `intervalMs` (each probe bounded by `probeTimeoutMs`) until it reports ready, reports a fatal
 * failure, the process exits, the deadline passes or the signal aborts.
 *
 * @example
 * ```ts
 * const outcome = await waitForReady({ probe: checkHealth, timeoutMs: 30_000, exited: child.exited });
 * ```
 */
export async function waitForReady<T>(options: WaitForReadyOptions<T>): Promise<ReadyOutcome<T>> {
  const started = performance.now();
  const deadline = started + options.timeoutMs;
  const intervalMs = options.intervalMs ?? 100;
  const probeTimeoutMs = options.probeTimeoutMs ?? 1000;
  let exit: ChildExit | undefined;
  void options.exited?.then((value) => {
    exit = value;
  });
  let lastDetail: string | undefined;
  for (;;) {
    if (options.signal?.aborted) return { status: 'aborted', lastDetail };
    if (exit !== undefined) return { status: 'exited', exit, lastDetail };
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new Error('probe timed out')), probeTimeoutMs);
    let result: ProbeResult<T>;
    try {
      result = await options.probe(controller.signal);
    } catch (error) {
      result = { ready: false, detail: error instanceof Error ? error.message : String(error) };
    } finally {
      clearTimeout(timer);
    }
    if (result.ready) return { status: 'ready', value: result.value, elapsedMs: performance.now() - started };
    lastDetail = result.detail;
    if (result.fatal === true) return { status: 'failed', detail: result.detail };
    // Let a pending 'exit' event land before deciding the child is still starting.
    await new Promise((resolve) => setImmediate(resolve));
    if (exit !== undefined) return { status: 'exited', exit, lastDetail };
    const left = deadline - performance.now();
    if (left <= 0) return { status: 'timeout', lastDetail };
    try {
      await sleep(Math.min(intervalMs, left), options.signal);
    } catch {
      return { status: 'aborted', lastDetail };
    }
  }
}
