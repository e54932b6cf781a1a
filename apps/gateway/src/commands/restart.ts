import { defineCommand } from 'citty';
import { type GlobalFlags, globalArgs } from './_global-args.ts';
import { parseTimeout, refuseWindows, takeLifecycleLock } from './_lifecycle.ts';
import { createOutput } from './_output.ts';
import { loadForLifecycle, startLocked } from './start.ts';
import { stopDaemon, stopWatchdog } from './stop.ts';

/** How long `restart` gives the old daemon after SIGTERM before SIGKILL. */
export const RESTART_STOP_TIMEOUT_MS = 10_000;

/** Flags of `restart`. */
export type RestartFlags = GlobalFlags & { timeout?: string | undefined };

/** `restart`: validate config first, then stop watchdog and daemon and start again under one lock (spec 20 §2.4). */
export default defineCommand({
  meta: { name: 'restart', description: 'Validate config, stop the daemon and start it again' },
  args: {
    ...globalArgs,
    timeout: { type: 'string', description: 'Seconds to wait for readiness (default 30)', valueHint: 's' },
  },
  async run({ args }) {
    await restartCommand(args);
  },
});

/**
 * Runs `restart`: an invalid config exits 3 with the daemon untouched; a failed stop (6, 7) starts nothing;
 * otherwise the start steps run under the same lock.
 */
export async function restartCommand(flags: RestartFlags): Promise<void> {
  refuseWindows('restart');
  const timeoutMs = parseTimeout(flags.timeout, 30);
  const out = createOutput(flags);
  const { ctx, config } = loadForLifecycle(flags, out);
  await stopWatchdog(ctx, out, 'restart');
  const lock = await takeLifecycleLock(ctx, 'restart');
  try {
    const stopped = await stopDaemon(ctx, out, { timeoutMs: RESTART_STOP_TIMEOUT_MS, command: 'restart' });
    if (stopped === 'not_running') out.out('Gateway sidecar was not running; starting it');
    await startLocked(ctx, config, out, { by: 'restart', timeoutMs });
  } finally {
    lock.release();
  }
}
