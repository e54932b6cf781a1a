import { chmodSync, lstatSync, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve, sep } from 'node:path';
import { ConfigError } from './config-error.ts';

/** Options for resolving the data dir. */
export type DataDirOptions = {
  /** The `--home` flag, which wins over the environment. */
  home?: string | undefined;
  /** Environment to read `DEFENSECLAW_HOME` from. @default process.env */
  env?: NodeJS.ProcessEnv;
  /** The user's home directory, for `~` expansion. @default os.homedir() */
  homeDir?: string;
};

/** Expands a leading `~` to the home directory and resolves a relative path against `baseDir`. */
export function expandPath(path: string, baseDir: string, homeDir: string = homedir()): string {
  if (path === '~') return homeDir;
  if (path.startsWith('~/')) return join(homeDir, path.slice(2));
  return isAbsolute(path) ? resolve(path) : resolve(baseDir, path);
}

/** Resolves the data dir: `--home` > `DEFENSECLAW_HOME` > `~/.defenseclaw`, always absolute. */
export function resolveDataDir(options: DataDirOptions = {}): string {
  const env = options.env ?? process.env;
  const homeDir = options.homeDir ?? homedir();
  const chosen = nonEmpty(options.home) ?? nonEmpty(env.DEFENSECLAW_HOME) ?? '~/.defenseclaw';
  return expandPath(chosen, process.cwd(), homeDir);
}

/** Resolves the config file: `--config` > `DEFENSECLAW_CONFIG` > `<data dir>/config.yaml`, always absolute. */
export function resolveConfigPath(options: {
  config?: string | undefined;
  dataDir: string;
  env?: NodeJS.ProcessEnv;
  homeDir?: string;
}): string {
  const env = options.env ?? process.env;
  const chosen = nonEmpty(options.config) ?? nonEmpty(env.DEFENSECLAW_CONFIG);
  if (chosen === undefined) return join(options.dataDir, 'config.yaml');
  return expandPath(chosen, process.cwd(), options.homeDir ?? homedir());
}

/** Shows a path under the home directory as `~/…`, as the CLI prints paths. */
export function displayPath(path: string, homeDir: string = homedir()): string {
  if (path === homeDir) return '~';
  return path.startsWith(homeDir + sep) ? `~/${path.slice(homeDir.length + 1)}` : path;
}

/**
 * Creates the data dir with mode 0700 when missing, tightens a looser mode (returning a warning), and refuses a
 * directory owned by another user or a non-directory with a `ConfigError`.
 */
export function ensureDataDir(dir: string, homeDir: string = homedir()): { warnings: string[] } {
  const warnings: string[] = [];
  const shown = displayPath(dir, homeDir);
  let stat: ReturnType<typeof lstatSync>;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    stat = lstatSync(dir);
  } catch (error) {
    throw new ConfigError(shown, [
      {
        message: `cannot create data dir ${shown}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
      },
    ]);
  }
  if (!stat.isDirectory()) {
    throw new ConfigError(shown, [{ message: `${shown} is not a directory` }]);
  }
  if (typeof process.getuid === 'function' && stat.uid !== process.getuid()) {
    throw new ConfigError(shown, [
      { message: `${shown} is owned by uid ${stat.uid}, not by the current user (uid ${process.getuid()})` },
    ]);
  }
  const mode = stat.mode & 0o777;
  if ((mode & 0o077) !== 0) {
    chmodSync(dir, 0o700);
    warnings.push(`data dir ${shown} had mode ${formatMode(mode)}; tightened to 0700`);
  }
  return { warnings };
}

/** Formats a permission mode as four octal digits, e.g. `0644`. */
export function formatMode(mode: number): string {
  return `0${(mode & 0o777).toString(8).padStart(3, '0')}`;
}

// --- internal ---

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}
