import type { Logger } from '@defenseclaw/protocol';
import { isCliError } from '../cli-error.ts';
import { isConfigError } from '../config/config-error.ts';
import { diffConfig, needsRestart } from '../config/diff.ts';
import { loadEnvFile } from '../config/env-file.ts';
import { loadConfig } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import { type LoadedPolicy, loadSidecarPolicy } from './policy-setup.ts';

/** What started a reload. */
export type ReloadTrigger = 'sighup' | 'api' | 'cli';

/** The outcome of one reload (spec 20 §4.4); the failure message names files, lines and keys, never values. */
export type ReloadOutcome =
  | {
      success: true;
      at: string;
      trigger: ReloadTrigger;
      /** The config generation after the swap. */
      configGeneration: number;
      /** The policy generation now active. */
      generation: { id: string; digest: string };
      /** Changed key paths that took effect. */
      applied: string[];
      /** Changed key paths that keep their old values until a restart. */
      restartRequired: string[];
    }
  | {
      success: false;
      at: string;
      trigger: ReloadTrigger;
      code: 'reload_in_progress' | 'invalid_config' | 'invalid_policy' | 'internal';
      error: string;
    };

/** Options of `createReloader`. */
export type ReloaderOptions = {
  dataDir: string;
  configPath: string;
  /** `<data dir>/.env`. */
  envFile: string;
  /** The environment the sidecar reads; `.env` values land here. */
  env: NodeJS.ProcessEnv;
  /** Variables that came from `.env` at start (they may be rotated there; others are never overwritten). */
  envFileVars: Iterable<string>;
  /** The running configuration. */
  current(): Config;
  /** Swaps in the new configuration (restart-only keys already reverted) and the compiled generation. */
  apply(next: Config, policy: LoadedPolicy, applied: readonly string[]): void;
  logger?: Logger;
};

/** Serialised hot reload of `.env`, `config.yaml` and the rule packs; all-or-nothing. */
export type Reloader = {
  /** Runs one reload; a call while another runs answers `reload_in_progress` at once. */
  reload(trigger: ReloadTrigger): Promise<ReloadOutcome>;
  /** The last outcome, for `/status.config.last_reload`. */
  readonly last: ReloadOutcome | undefined;
  /** Bumped by every successful reload (1 at start). */
  readonly configGeneration: number;
  /** When the running config was loaded (ISO-8601). */
  readonly loadedAt: string;
};

/**
 * Creates the reloader behind SIGHUP and `POST /policy/reload` (spec 20 §4.4): (1) re-read `.env` and `config.yaml`
 * and validate, (2) diff against the running config, (3) compile a candidate generation on the side, (4) swap,
 * keeping restart-only keys at their running values and reporting them. On any failure nothing changes.
 *
 * @example
 * ```ts
 * const reloader = createReloader({ dataDir, configPath, envFile, env: process.env, envFileVars, current, apply });
 * process.on('SIGHUP', () => void reloader.reload('sighup'));
 * ```
 */
export function createReloader(options: ReloaderOptions): Reloader {
  const fromFile = new Set(options.envFileVars);
  let running = false;
  let last: ReloadOutcome | undefined;
  let configGeneration = 1;
  let loadedAt = new Date().toISOString();

  const run = async (trigger: ReloadTrigger): Promise<ReloadOutcome> => {
    const at = new Date().toISOString();
    const fail = (code: 'invalid_config' | 'invalid_policy' | 'internal', error: string): ReloadOutcome => ({
      success: false,
      at,
      trigger,
      code,
      error,
    });
    let candidate: Config;
    try {
      rereadEnvFile(options.envFile, options.env, fromFile);
      candidate = loadConfig({
        dataDir: options.dataDir,
        configPath: options.configPath,
        env: options.env,
      }).config;
    } catch (error) {
      return fail(isConfigError(error) ? 'invalid_config' : 'internal', messageOf(error));
    }
    const running = options.current();
    const changed = diffConfig(running, candidate);
    const restartRequired = changed.filter(needsRestart);
    const applied = changed.filter((path) => !needsRestart(path));
    const next = keepRunningValues(candidate, running, restartRequired);
    let loaded: LoadedPolicy;
    try {
      loaded = await loadSidecarPolicy(next, options.logger);
    } catch (error) {
      return fail(isCliError(error) ? 'invalid_policy' : 'internal', messageOf(error));
    }
    try {
      options.apply(next, loaded, applied);
    } catch (error) {
      return fail('internal', messageOf(error));
    }
    configGeneration += 1;
    loadedAt = at;
    return {
      success: true,
      at,
      trigger,
      configGeneration,
      generation: { id: loaded.policy.generation.id, digest: loaded.policy.generation.digest },
      applied,
      restartRequired,
    };
  };

  return {
    async reload(trigger) {
      if (running) {
        return {
          success: false,
          at: new Date().toISOString(),
          trigger,
          code: 'reload_in_progress',
          error: 'a reload is already in progress',
        };
      }
      running = true;
      try {
        last = await run(trigger);
        return last;
      } finally {
        running = false;
      }
    },
    get last() {
      return last;
    },
    get configGeneration() {
      return configGeneration;
    },
    get loadedAt() {
      return loadedAt;
    },
  };
}

// --- internal ---

/** Re-reads `.env`: variables it set before may be rotated; variables set elsewhere are never overwritten. */
function rereadEnvFile(file: string, env: NodeJS.ProcessEnv, fromFile: Set<string>): void {
  // Validated like at start (regular file, owner, 0600, size, syntax); throws ConfigError otherwise.
  const scratch: NodeJS.ProcessEnv = {};
  loadEnvFile(file, scratch);
  for (const [key, value] of Object.entries(scratch)) {
    if (env[key] === undefined || fromFile.has(key)) {
      env[key] = value;
      fromFile.add(key);
    }
  }
}

function keepRunningValues(candidate: Config, running: Config, paths: readonly string[]): Config {
  const next = structuredClone(candidate);
  for (const path of paths) {
    const segments = path.split('.');
    let target = next as unknown as Record<string, unknown>;
    let source = running as unknown as Record<string, unknown>;
    for (const segment of segments.slice(0, -1)) {
      target = target[segment] as Record<string, unknown>;
      source = source[segment] as Record<string, unknown>;
    }
    const leaf = segments.at(-1)!;
    target[leaf] = structuredClone(source[leaf]);
  }
  return next;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
