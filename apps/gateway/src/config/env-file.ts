import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fsyncSync,
  lstatSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { ConfigError, type ConfigIssue } from './config-error.ts';
import { displayPath, formatMode } from './paths.ts';

/** Largest `.env` accepted (spec 20 §4.2). */
export const MAX_ENV_FILE_BYTES = 64 * 1024;

const KEY_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
const LINE_RE = /^\s*(?:export\s+)?([^=\s]+)\s*=(.*)$/;

/** The outcome of parsing `.env` text: the variables, or the issues (line numbers only, never values). */
export type ParseEnvResult =
  | { success: true; vars: Map<string, string> }
  | { success: false; issues: ConfigIssue[] };

/** Parses `KEY=VALUE` lines with `#` comments and optional quotes, without any expansion. */
export function parseEnvText(text: string): ParseEnvResult {
  const vars = new Map<string, string>();
  const issues: ConfigIssue[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const match = LINE_RE.exec(raw);
    if (match === null) {
      issues.push({ line: index + 1, message: 'expected KEY=VALUE' });
      return;
    }
    const key = match[1]!;
    if (!KEY_RE.test(key)) {
      issues.push({ line: index + 1, message: `invalid variable name ${JSON.stringify(key)}` });
      return;
    }
    const value = unquote(match[2]!.trim());
    if (value === undefined) {
      issues.push({ line: index + 1, message: `unterminated quote in the value of ${key}` });
      return;
    }
    vars.set(key, value);
  });
  return issues.length > 0 ? { success: false, issues } : { success: true, vars };
}

/**
 * Reads `<data dir>/.env` and copies its variables into `env` without overriding set ones. An absent file is fine;
 * a symlink, a non-regular file, another owner, group/other permission bits, oversize or bad lines throw a
 * `ConfigError` that names the file, mode and line numbers but never a value.
 *
 * @returns the names of the variables it set.
 */
export function loadEnvFile(
  file: string,
  env: NodeJS.ProcessEnv = process.env,
  homeDir = homedir(),
): string[] {
  const shown = displayPath(file, homeDir);
  let stat: ReturnType<typeof lstatSync>;
  try {
    stat = lstatSync(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new ConfigError(shown, [
      { message: `cannot read ${shown}: ${(error as NodeJS.ErrnoException).code}` },
    ]);
  }
  if (stat.isSymbolicLink() || !stat.isFile()) {
    throw new ConfigError(shown, [
      { message: `${shown} is not a regular file; secrets files must be a regular file, not a symlink` },
    ]);
  }
  if (typeof process.getuid === 'function' && stat.uid !== process.getuid()) {
    throw new ConfigError(shown, [
      { message: `${shown} is owned by uid ${stat.uid}, not by the current user` },
    ]);
  }
  const mode = stat.mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new ConfigError(shown, [
      {
        message: `${shown} has mode ${formatMode(mode)}; secrets files must be 0600 (chmod 600 ${shown})`,
      },
    ]);
  }
  if (stat.size > MAX_ENV_FILE_BYTES) {
    throw new ConfigError(shown, [{ message: `${shown} is larger than ${MAX_ENV_FILE_BYTES} bytes` }]);
  }
  const parsed = parseEnvText(readFileSync(file, 'utf8'));
  if (!parsed.success) throw new ConfigError(shown, parsed.issues);
  const applied: string[] = [];
  for (const [key, value] of parsed.vars) {
    if (env[key] !== undefined) continue;
    env[key] = value;
    applied.push(key);
  }
  return applied;
}

/**
 * Sets one variable in a `.env` file, keeping every other line: written to a 0600 temp file in the same
 * directory, fsynced, then renamed over the original.
 */
export function writeEnvVar(file: string, key: string, value: string): void {
  if (!KEY_RE.test(key)) throw new TypeError(`invalid variable name ${JSON.stringify(key)}`);
  if (/[\r\n]/.test(value)) throw new TypeError(`the value of ${key} must be a single line`);
  let lines: string[] = [];
  try {
    lines = readFileSync(file, 'utf8').split(/\r?\n/);
    if (lines.at(-1) === '') lines.pop();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const entry = `${key}=${quote(value)}`;
  let replaced = false;
  lines = lines.flatMap((line) => {
    const match = LINE_RE.exec(line);
    if (match?.[1] !== key) return [line];
    if (replaced) return [];
    replaced = true;
    return [entry];
  });
  if (!replaced) lines.push(entry);
  const temp = join(dirname(file), `.${basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fd = openSync(temp, 'wx', 0o600);
  try {
    writeSync(fd, `${lines.join('\n')}\n`);
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    rmSync(temp, { force: true });
    throw error;
  }
  closeSync(fd);
  try {
    renameSync(temp, file);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
}

// --- internal ---

function unquote(value: string): string | undefined {
  const first = value[0];
  if (first === '"' || first === "'") {
    const end = value.indexOf(first, 1);
    if (end === -1) return undefined;
    return value.slice(1, end);
  }
  // An unquoted value ends at a ` #` comment.
  const comment = value.search(/\s#/);
  return (comment === -1 ? value : value.slice(0, comment)).trim();
}

function quote(value: string): string {
  if (/^[A-Za-z0-9_\-.:/+=~@,]*$/.test(value)) return value;
  if (!value.includes('"')) return `"${value}"`;
  if (!value.includes("'")) return `'${value}'`;
  throw new TypeError('a .env value cannot contain both quote characters');
}
