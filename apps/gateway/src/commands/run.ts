import { join } from 'node:path';
import { defineCommand } from 'citty';
import { CliError, EXIT_CODES } from '../cli-error.ts';
import { loadEnvFile } from '../config/env-file.ts';
import { loadConfig } from '../config/load.ts';
import { displayPath, ensureDataDir, resolveConfigPath, resolveDataDir } from '../config/paths.ts';
import { createAppLogger } from '../logger.ts';
import { isBindError } from '../sidecar/http.ts';
import { APP_VERSION } from '../version-info.ts';
import { type GlobalFlags, globalArgs, wantsColor } from './_global-args.ts';
import { loadModule } from './_load-module.ts';
import { daemonPidFileOnExit, refuseSecondDaemon } from './_run-pid.ts';

/** `run`: the foreground daemon (no detach, no PID file, logs on stderr). */
export default defineCommand({
  meta: { name: 'run', description: 'Run the sidecar in the foreground (logs to stderr; Ctrl-C stops it)' },
  args: { ...globalArgs },
  async run({ args }) {
    await runForeground(args);
  },
});

/**
 * Loads config, starts the sidecar and waits for SIGINT/SIGTERM, then shuts down gracefully; a second signal
 * exits 130 at once.
 *
 * @throws ConfigError (exit 3) for invalid config or `.env`; CliError with exit 4 when the API port is taken.
 */
export async function runForeground(flags: GlobalFlags): Promise<void> {
  // Everything the daemon creates (device.key, .env, logs) is private to the user.
  process.umask(0o077);
  const dataDir = resolveDataDir({ home: flags.home });
  const { warnings: dirWarnings } = ensureDataDir(dataDir);
  const envFile = join(dataDir, '.env');
  const fromEnvFile = loadEnvFile(envFile);
  const configPath = resolveConfigPath({ config: flags.config, dataDir });
  const loaded = loadConfig({ dataDir, configPath });
  // A second daemon for the same data dir would fight over the ports and the audit DB (spec 20 §2.6).
  await refuseSecondDaemon(dataDir);
  const { config } = loaded;

  const logger = createAppLogger({
    level: flags.verbose ? 'debug' : config.log.level,
    format: config.log.format,
    color: wantsColor(flags, process.stderr),
  });
  const log = logger.child('sidecar');
  // Set once the sidecar exists: an abrupt exit still flushes the audit queue for at most 1 s (spec 20 §2.6).
  let flushAudit: () => Promise<unknown> = () => Promise.resolve();
  const flushAndExit = (code: number) => {
    const timer = setTimeout(() => process.exit(code), 1000);
    timer.unref();
    void flushAudit()
      .catch(() => {})
      .finally(() => process.exit(code));
  };
  process.on('uncaughtException', (error) => {
    log.error('uncaught exception; exiting', { error: error.stack ?? error.message });
    flushAndExit(EXIT_CODES.RUNTIME);
  });
  process.on('unhandledRejection', (reason) => {
    log.error('unhandled rejection; exiting', {
      error: reason instanceof Error ? (reason.stack ?? reason.message) : String(reason),
    });
    flushAndExit(EXIT_CODES.RUNTIME);
  });

  log.info(`defenseclaw-gateway ${APP_VERSION} starting`, {
    pid: process.pid,
    data_dir: displayPath(dataDir),
    config: loaded.exists
      ? displayPath(configPath)
      : `${displayPath(configPath)} (absent: built-in defaults)`,
    ...(loaded.overrides.length > 0 ? { overrides: loaded.overrides.join(',') } : {}),
    ...(fromEnvFile.length > 0 ? { env_file_vars: fromEnvFile.length } : {}),
  });
  for (const warning of [...dirWarnings, ...loaded.warnings]) log.warn(warning);

  // Loaded here so that `--help` and `version` never load the gateway client.
  const { createSidecar } = await loadModule<typeof import('../sidecar/sidecar.ts')>(
    new URL('../sidecar/sidecar.ts', import.meta.url),
  );
  const sidecar = createSidecar(config, {
    logger,
    dataDir,
    clientVersion: APP_VERSION,
    configPath,
    envFileVars: fromEnvFile,
  });
  flushAudit = () => sidecar.store?.flush() ?? Promise.resolve();
  try {
    await sidecar.start();
  } catch (error) {
    await sidecar.close();
    if (isBindError(error)) {
      throw new CliError(
        error.code === 'EADDRINUSE' ? EXIT_CODES.BIND : EXIT_CODES.RUNTIME,
        `run: FAILED: ${error.message}`,
        {
          cause: error,
        },
      );
    }
    throw error;
  }

  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    let received = false;
    const onSignal = (name: NodeJS.Signals) => {
      if (received) {
        log.warn(`second ${name}; flushing the audit queue for at most 1 s, then exiting`);
        flushAndExit(130);
        return;
      }
      received = true;
      resolve(name);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    // SIGHUP: hot reload (spec 20 §4.4); the outcome is logged by the sidecar.
    process.on('SIGHUP', () => {
      if (!received) void sidecar.reload('sighup');
    });
  });
  log.info(`${signal} received; shutting down`);
  await sidecar.close();
  // A detached daemon removes its own PID file on a clean stop: the watchdog reads that as an intended stop.
  daemonPidFileOnExit(dataDir);
}
