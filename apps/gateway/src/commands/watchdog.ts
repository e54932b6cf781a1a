import { statSync } from 'node:fs';
import { join } from 'node:path';
import {
  createHealthProbe,
  createLineLog,
  createWatchdog,
  type RestartResult,
  readPidFile,
  removePidFileIf,
  stopProcess,
  type WatchdogSettings,
  type WatchdogTarget,
  writeJsonFileAtomic,
  writePidFile,
} from '@defenseclaw/supervisor';
import { defineCommand } from 'citty';
import { CliError, EXIT_CODES } from '../cli-error.ts';
import { isConfigError } from '../config/config-error.ts';
import { loadEnvFile } from '../config/env-file.ts';
import { loadConfig } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import { type ApiSettings, apiAddress } from './_api-client.ts';
import { apiSettingsOf, launchDaemon } from './_daemon.ts';
import { type GlobalFlags, globalArgs } from './_global-args.ts';
import {
  checkPidFile,
  type LifecycleContext,
  lifecycleContext,
  takeLifecycleLock,
  verifyRole,
} from './_lifecycle.ts';

/** How long a watchdog restart waits for readiness (spec 20 §3). */
export const WATCHDOG_READY_TIMEOUT_MS = 30_000;

/** How long a watchdog restart waits for the lifecycle lock before abandoning the cycle. */
export const WATCHDOG_LOCK_TIMEOUT_MS = 5000;

/** `_watchdog` (hidden): the watchdog process that `start` spawns when `gateway.watchdog.enabled` (spec 20 §3). */
export default defineCommand({
  meta: { name: '_watchdog', description: 'Watchdog process (spawned by start)', hidden: true },
  args: { ...globalArgs },
  async run({ args }) {
    await watchdogCommand(args);
  },
});

/**
 * Runs the watchdog loop until `gateway.pid` disappears (an intended stop) or SIGTERM/SIGINT: writes its own
 * `watchdog.pid`, logs each decision to `watchdog.log`, persists `watchdog.state`, re-reads config.yaml when it
 * changes, and restarts the daemon under the lifecycle lock.
 */
export async function watchdogCommand(flags: GlobalFlags): Promise<void> {
  process.umask(0o077);
  const ctx = lifecycleContext(flags);
  const log = createLineLog(ctx.watchdogLogFile);
  const existing = await checkPidFile(ctx, 'watchdog', log);
  if (existing.status !== 'none' && existing.pid !== process.pid) {
    throw new CliError(EXIT_CODES.OK, `watchdog already running (PID ${existing.pid})`);
  }
  loadEnvFile(join(ctx.dataDir, '.env'));
  let config = loadConfig({ dataDir: ctx.dataDir, configPath: ctx.configPath }).config;
  let configStamp = stamp(ctx.configPath);
  writePidFile(ctx.watchdogPidFile, process.pid);

  const controller = new AbortController();
  const onSignal = () => controller.abort(new Error('signal'));
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  let api = apiSettingsOf(config);
  let probe = makeProbe(api, config);
  const dog = createWatchdog({
    ...settingsOf(config),
    log,
    onState: (state) => {
      try {
        writeJsonFileAtomic(ctx.watchdogStateFile, state);
      } catch {
        // The state file is informational; the log line already says what happened.
      }
    },
    checkTarget: async () => {
      // Re-read config.yaml when it changed (W keys apply within one interval).
      const now = stamp(ctx.configPath);
      if (now !== configStamp) {
        configStamp = now;
        try {
          config = loadConfig({ dataDir: ctx.dataDir, configPath: ctx.configPath }).config;
          dog.reconfigure(settingsOf(config));
          api = apiSettingsOf(config);
          probe = makeProbe(api, config);
          log('config.yaml changed; watchdog settings reloaded');
        } catch (error) {
          log(`config.yaml changed but is invalid; keeping the previous settings: ${firstLine(error)}`);
        }
      }
      return checkTarget(ctx);
    },
    probe: (signal) => probe(signal),
    restart: ({ reason, previousPid, signal }) => restartDaemon(ctx, config, reason, previousPid, signal),
  });
  log(
    `watchdog started (PID ${process.pid}): polling ${apiAddress(api)} every ${config.gateway.watchdog.interval_s}s; restart after ${config.gateway.watchdog.failures} failures; at most ${config.gateway.watchdog.max_restarts} restarts per ${config.gateway.watchdog.restart_window_s}s`,
  );
  try {
    const exit = await dog.run(controller.signal);
    if (exit.reason === 'aborted') log('watchdog stopped by signal');
  } finally {
    removePidFileIf(ctx.watchdogPidFile, process.pid);
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
}

// --- internal ---

function settingsOf(config: Config): WatchdogSettings {
  const w = config.gateway.watchdog;
  return {
    intervalMs: w.interval_s * 1000,
    failures: w.failures,
    gatewayErrorGraceMs: w.gateway_error_grace_s * 1000,
    maxRestarts: w.max_restarts,
    restartWindowMs: w.restart_window_s * 1000,
  };
}

function makeProbe(api: ApiSettings, config: Config) {
  const host = api.host.includes(':') && !api.host.startsWith('[') ? `[${api.host}]` : api.host;
  return createHealthProbe({
    url: `http://${host}:${api.port}/health`,
    timeoutMs: Math.min(5000, config.gateway.watchdog.interval_s * 1000),
  });
}

async function checkTarget(ctx: LifecycleContext): Promise<WatchdogTarget> {
  const content = readPidFile(ctx.pidFile);
  if (content.kind === 'absent') return { state: 'absent' };
  if (content.kind === 'invalid')
    return { state: 'dead', pid: undefined, reason: 'gateway.pid is not a process id' };
  const verdict = await verifyRole(ctx, 'daemon', content.pid);
  if (verdict.status === 'dead')
    return { state: 'dead', pid: content.pid, reason: `PID ${content.pid} is not running` };
  if (verdict.status === 'foreign') {
    return {
      state: 'dead',
      pid: content.pid,
      reason: `PID ${content.pid} is not a defenseclaw-gateway daemon`,
    };
  }
  // Unknown identity: let the health probe decide; it is never signalled.
  return { state: 'alive', pid: content.pid };
}

async function restartDaemon(
  ctx: LifecycleContext,
  config: Config,
  reason: string,
  previousPid: number | undefined,
  signal: AbortSignal,
): Promise<RestartResult> {
  let lock: Awaited<ReturnType<typeof takeLifecycleLock>>;
  try {
    lock = await takeLifecycleLock(ctx, 'watchdog', WATCHDOG_LOCK_TIMEOUT_MS);
  } catch (error) {
    return { ok: 'skipped', reason: firstLine(error) };
  }
  try {
    const current = readPidFile(ctx.pidFile);
    // `stop` removed the PID file while we waited: the stop was intended, the next poll exits.
    if (current.kind === 'absent')
      return { ok: 'skipped', reason: 'gateway.pid removed while waiting for the lock' };
    if (current.kind === 'pid') {
      if (previousPid !== undefined && current.pid !== previousPid) {
        const verdict = await verifyRole(ctx, 'daemon', current.pid);
        if (verdict.status === 'ours') {
          return { ok: 'skipped', reason: `another daemon (PID ${current.pid}) was started meanwhile` };
        }
      }
      const verdict = await verifyRole(ctx, 'daemon', current.pid);
      if (verdict.status === 'ours') await stopProcess(verdict.identity, { termTimeoutMs: 10_000 });
      if (verdict.status === 'unknown') {
        return { ok: false, reason: `refusing to signal PID ${current.pid}: cannot verify its identity` };
      }
      removePidFileIf(ctx.pidFile, current.pid);
    } else {
      removePidFileIf(ctx.pidFile, undefined);
    }
    const result = await launchDaemon(ctx, config, {
      by: 'watchdog',
      timeoutMs: WATCHDOG_READY_TIMEOUT_MS,
      restartReason: reason,
      signal,
    });
    if (result.ok) return { ok: true, pid: result.pid, readyMs: result.readyMs };
    return { ok: false, reason: result.message.split('\n').join(' | ') };
  } catch (error) {
    return { ok: false, reason: firstLine(error) };
  } finally {
    lock.release();
  }
}

function stamp(path: string): string {
  try {
    const s = statSync(path);
    return `${s.mtimeMs}:${s.size}`;
  } catch {
    return 'absent';
  }
}

function firstLine(error: unknown): string {
  if (isConfigError(error)) return error.message.split('\n').slice(1).join('; ').trim();
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]!;
}
