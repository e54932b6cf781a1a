import { removePidFileIf, stopProcess } from '@defenseclaw/supervisor';
import { defineCommand } from 'citty';
import { CliError, EXIT_CODES } from '../cli-error.ts';
import { readApiSettings } from './_api-client.ts';
import { fetchRuntime, sameDataDir } from './_daemon.ts';
import { type GlobalFlags, globalArgs } from './_global-args.ts';
import {
  checkPidFile,
  type LifecycleContext,
  lifecycleContext,
  parseTimeout,
  refuseUnknown,
  refuseWindows,
  takeLifecycleLock,
  verifyRole,
} from './_lifecycle.ts';
import { createOutput, type Output } from './_output.ts';

/** How long the watchdog gets after SIGTERM before SIGKILL. */
export const WATCHDOG_STOP_TIMEOUT_MS = 5000;

/** Flags of `stop`. */
export type StopFlags = GlobalFlags & { timeout?: string | undefined };

/** `stop`: stop the watchdog, then the daemon (SIGTERM, SIGKILL after `--timeout`) (spec 20 §2.4). */
export default defineCommand({
  meta: {
    name: 'stop',
    description: 'Stop the watchdog and the daemon (SIGTERM, then SIGKILL after --timeout)',
  },
  args: {
    ...globalArgs,
    timeout: {
      type: 'string',
      description: 'Seconds to wait after SIGTERM before SIGKILL (default 10)',
      valueHint: 's',
    },
  },
  async run({ args }) {
    await stopCommand(args);
  },
});

/** Runs `stop`. */
export async function stopCommand(flags: StopFlags): Promise<void> {
  refuseWindows('stop');
  const timeoutMs = parseTimeout(flags.timeout, 10);
  const out = createOutput(flags);
  const ctx = lifecycleContext(flags);
  await stopWatchdog(ctx, out, 'stop');
  const lock = await takeLifecycleLock(ctx, 'stop');
  try {
    const outcome = await stopDaemon(ctx, out, { timeoutMs, command: 'stop' });
    if (outcome === 'not_running') out.out('Gateway sidecar is not running');
  } finally {
    lock.release();
  }
}

/**
 * Stops the watchdog first (verify `watchdog.pid`, SIGTERM, 5 s, SIGKILL, remove the file), so it cannot restart
 * the daemon being stopped. A stale file is removed with a note; an unverifiable PID is refused (exit 6).
 */
export async function stopWatchdog(ctx: LifecycleContext, out: Output, command: string): Promise<void> {
  const found = await checkPidFile(ctx, 'watchdog', (line) => out.err(line));
  if (found.status === 'none') return;
  if (found.status === 'unknown') throw refuseUnknown(ctx, command, found.pid, 'watchdog');
  const result = await stopProcess(found.identity, { termTimeoutMs: WATCHDOG_STOP_TIMEOUT_MS });
  if (result.outcome === 'survived') {
    throw new CliError(
      EXIT_CODES.SURVIVED,
      `${command}: watchdog process ${found.pid} did not exit after SIGKILL`,
    );
  }
  removePidFileIf(ctx.watchdogPidFile, found.pid);
  out.out(`Watchdog stopped (PID ${found.pid})`);
}

/**
 * Finds and stops the daemon under a held lock: `gateway.pid` when it verifies, else the PID `GET /status` reports
 * for this data dir. Prints `Stopping gateway sidecar (PID N)... OK`; exit 6 for an unverifiable PID, 7 when it
 * survives SIGKILL, 1 for a daemon under systemd/launchd.
 */
export async function stopDaemon(
  ctx: LifecycleContext,
  out: Output,
  options: { timeoutMs: number; command: string },
): Promise<'stopped' | 'not_running'> {
  const found = await checkPidFile(ctx, 'daemon', (line) => out.err(line));
  if (found.status === 'unknown') throw refuseUnknown(ctx, options.command, found.pid);
  let target = found.status === 'ours' ? found : undefined;
  if (target === undefined) {
    const api = await readApiSettings(ctx.configPath);
    const runtime = await fetchRuntime(ctx, api);
    if (runtime !== undefined && sameDataDir(ctx, runtime.dataDir)) {
      if (runtime.supervisor === 'systemd' || runtime.supervisor === 'launchd') {
        throw new CliError(EXIT_CODES.RUNTIME, supervisedMessage(runtime.supervisor, runtime.pid));
      }
      const verdict = await verifyRole(ctx, 'daemon', runtime.pid, async (pid) => pid === runtime.pid);
      if (verdict.status === 'ours')
        target = { status: 'ours', pid: runtime.pid, identity: verdict.identity };
    }
  }
  if (target === undefined) return 'not_running';

  out.write(`Stopping gateway sidecar (PID ${target.pid})... `);
  const result = await stopProcess(target.identity, { termTimeoutMs: options.timeoutMs });
  if (result.outcome === 'survived') {
    out.out('FAILED');
    throw new CliError(
      EXIT_CODES.SURVIVED,
      `${options.command}: process ${target.pid} did not exit after SIGKILL`,
    );
  }
  removePidFileIf(ctx.pidFile, target.pid);
  out.out(
    result.outcome === 'killed'
      ? `OK (did not exit within ${Math.round(options.timeoutMs / 1000)}s; sent SIGKILL)`
      : 'OK',
  );
  return 'stopped';
}

// --- internal ---

function supervisedMessage(supervisor: string, pid: number): string {
  const user = process.env.SUDO_USER ?? process.env.USER ?? 'USER';
  return supervisor === 'systemd'
    ? `Gateway sidecar is managed by systemd (PID ${pid}); use: sudo systemctl stop defenseclaw-gateway@${user}.service`
    : `Gateway sidecar is managed by launchd (PID ${pid}); use: launchctl unload ~/Library/LaunchAgents/ai.defenseclaw.gateway.plist`;
}
