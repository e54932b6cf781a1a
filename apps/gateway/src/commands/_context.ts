import { realpathSync } from 'node:fs';
import { join } from 'node:path';
import { displayPath, resolveConfigPath, resolveDataDir } from '../config/paths.ts';
import type { GlobalFlags } from './_global-args.ts';

// Kept apart from _lifecycle.ts (which loads @defenseclaw/supervisor) so `status` can resolve paths cheaply.

/** Where a data dir keeps its lifecycle files, and how its processes are recognised. */
export type LifecycleContext = {
  /** The absolute data dir as configured. */
  dataDir: string;
  /** The data dir's real path, carried in `DEFENSECLAW_DATA_DIR` by our processes. */
  realDataDir: string;
  /** The absolute config path. */
  configPath: string;
  pidFile: string;
  logFile: string;
  watchdogPidFile: string;
  watchdogLogFile: string;
  watchdogStateFile: string;
  lockFile: string;
  /** Shows a path as the CLI prints it (`~/…`). */
  show(path: string): string;
};

/** Resolves the data dir, config path and lifecycle file paths from the global flags and environment. */
export function lifecycleContext(flags: GlobalFlags, env: NodeJS.ProcessEnv = process.env): LifecycleContext {
  const dataDir = resolveDataDir({ home: flags.home, env });
  const configPath = resolveConfigPath({ config: flags.config, dataDir, env });
  let realDataDir = dataDir;
  try {
    realDataDir = realpathSync(dataDir);
  } catch {
    // Not created yet: nothing of ours can run there.
  }
  return {
    dataDir,
    realDataDir,
    configPath,
    pidFile: join(dataDir, 'gateway.pid'),
    logFile: join(dataDir, 'gateway.log'),
    watchdogPidFile: join(dataDir, 'watchdog.pid'),
    watchdogLogFile: join(dataDir, 'watchdog.log'),
    watchdogStateFile: join(dataDir, 'watchdog.state'),
    lockFile: join(dataDir, 'lifecycle.lock'),
    show: (path) => displayPath(path),
  };
}
