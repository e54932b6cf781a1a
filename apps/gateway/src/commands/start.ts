import { join } from 'node:path';
import { writePidFile } from '@defenseclaw/supervisor';
import { defineCommand } from 'citty';
import { CliError, EXIT_CODES } from '../cli-error.ts';
import { loadEnvFile } from '../config/env-file.ts';
import { loadConfig } from '../config/load.ts';
import { ensureDataDir } from '../config/paths.ts';
import type { Config } from '../config/schema.ts';
import {
  apiSettingsOf,
  bindMessage,
  ensureWatchdog,
  findDaemonByStatus,
  healthSummary,
  launchDaemon,
  listenerAddress,
  listenersOf,
  type SpawnedBy,
  sweepOrphans,
  tryBind,
} from './_daemon.ts';
import { type GlobalFlags, globalArgs } from './_global-args.ts';
import {
  checkPidFile,
  type LifecycleContext,
  lifecycleContext,
  parseTimeout,
  refuseUnknown,
  refuseWindows,
  takeLifecycleLock,
} from './_lifecycle.ts';
import { createOutput, type Output } from './_output.ts';

/** Flags of `start`. */
export type StartFlags = GlobalFlags & { timeout?: string | undefined; watchdog?: boolean | undefined };

/** `start`: detach the daemon, write the PID file, wait for readiness, start the watchdog (spec 20 §2.3). */
export default defineCommand({
  meta: { name: 'start', description: 'Start the sidecar as a background daemon and wait until it is ready' },
  args: {
    ...globalArgs,
    timeout: { type: 'string', description: 'Seconds to wait for readiness (default 30)', valueHint: 's' },
    watchdog: {
      type: 'boolean',
      description: 'Start the watchdog when gateway.watchdog.enabled (default)',
      negativeDescription: 'Do not start the watchdog',
    },
  },
  async run({ args }) {
    await startCommand(args);
  },
});

/**
 * Runs `start`: validates config and `.env` (exit 3, nothing spawned), takes the lifecycle lock (exit 6), then
 * `startLocked`.
 */
export async function startCommand(flags: StartFlags): Promise<void> {
  refuseWindows('start');
  const timeoutMs = parseTimeout(flags.timeout, 30);
  const out = createOutput(flags);
  const { ctx, config } = loadForLifecycle(flags, out);
  const lock = await takeLifecycleLock(ctx, 'start');
  try {
    await startLocked(ctx, config, out, { by: 'start', timeoutMs, noWatchdog: flags.watchdog === false });
  } finally {
    lock.release();
  }
}

/** Resolves the context, prepares the data dir, loads `.env` and validates config (throws ConfigError → 3). */
export function loadForLifecycle(flags: GlobalFlags, out: Output): { ctx: LifecycleContext; config: Config } {
  process.umask(0o077);
  let ctx = lifecycleContext(flags);
  const { warnings } = ensureDataDir(ctx.dataDir);
  for (const warning of warnings) out.err(warning);
  // Re-resolve now that the directory exists, so the realpath markers are right.
  ctx = lifecycleContext(flags);
  loadEnvFile(join(ctx.dataDir, '.env'));
  const loaded = loadConfig({ dataDir: ctx.dataDir, configPath: ctx.configPath });
  for (const warning of loaded.warnings) out.err(warning);
  return { ctx, config: loaded.config };
}

/**
 * Steps 3–10 of `start` under a held lock: an already-running daemon is reported (exit 0, watchdog ensured); a
 * stale PID file is cleaned; orphans are stopped; listeners are pre-checked (exit 4); then the daemon is spawned and
 * its readiness awaited (exit 3/4/5 on failure) and the watchdog started.
 */
export async function startLocked(
  ctx: LifecycleContext,
  config: Config,
  out: Output,
  options: { by: SpawnedBy; timeoutMs: number; noWatchdog?: boolean },
): Promise<void> {
  const note = (line: string) => out.err(line);
  const existing = await checkPidFile(ctx, 'daemon', note);
  if (existing.status === 'ours') {
    await alreadyRunning(ctx, config, out, existing.pid, options.noWatchdog);
    return;
  }
  if (existing.status === 'unknown') throw refuseUnknown(ctx, options.by, existing.pid);
  await sweepOrphans(ctx, note);

  const api = apiSettingsOf(config);
  for (const listener of listenersOf(config)) {
    const code = await tryBind(listener);
    if (code !== 'EADDRINUSE') continue;
    if (listener.key === 'gateway.api_port') {
      const pid = await findDaemonByStatus(ctx, api);
      if (pid !== undefined) {
        writePidFile(ctx.pidFile, pid);
        note('PID file was missing; restored');
        await alreadyRunning(ctx, config, out, pid, options.noWatchdog);
        return;
      }
    }
    throw new CliError(EXIT_CODES.BIND, bindMessage(ctx, listenerAddress(listener), listener.key));
  }

  const result = await launchDaemon(ctx, config, {
    by: options.by,
    timeoutMs: options.timeoutMs,
    onSpawn: () => out.write('Starting gateway sidecar daemon... '),
  });
  if (!result.ok) {
    out.out('FAILED');
    throw new CliError(result.exitCode, result.message);
  }
  out.out(`OK (PID ${result.pid})`);
  for (const line of healthSummary(ctx, result.health)) out.out(line);
  await ensureWatchdog(ctx, config, out, { noWatchdog: options.noWatchdog, note });
}

// --- internal ---

async function alreadyRunning(
  ctx: LifecycleContext,
  config: Config,
  out: Output,
  pid: number,
  noWatchdog: boolean | undefined,
): Promise<void> {
  out.out(`Gateway sidecar is already running (PID ${pid})`);
  out.out("Use 'defenseclaw-gateway restart' to reload config");
  if (config.gateway.watchdog.enabled && noWatchdog !== true) {
    await ensureWatchdog(ctx, config, out, { note: (line) => out.err(line) });
  }
}
