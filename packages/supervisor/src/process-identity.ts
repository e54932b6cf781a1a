import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { errorCode } from './_fs.ts';

const execFileAsync = promisify(execFile);

/** What identifies one process across PID reuse: its PID, start time and command line. */
export type ProcessIdentity = {
  readonly pid: number;
  /** Start time as the OS reports it (`/proc/<pid>/stat` field 22 on Linux, `ps -o lstart=` on macOS). */
  readonly startTime: string | undefined;
  /** The command line, arguments joined by a space. */
  readonly command: string | undefined;
};

/** What a process must carry to be "ours": environment markers and an argv shape. */
export type IdentityMatcher = {
  /** Environment variables that must all be present with exactly these values. */
  env: Readonly<Record<string, string>>;
  /** Tells whether the argument vector is the expected program and subcommand. */
  argv: (argv: readonly string[]) => boolean;
};

/** The outcome of verifying a PID against a matcher (spec 20 §2.10). */
export type Verification =
  | { status: 'dead'; pid: number }
  | { status: 'foreign'; pid: number; reason: string }
  | { status: 'ours'; pid: number; identity: ProcessIdentity }
  | { status: 'unknown'; pid: number; reason: string };

/** Options of `verifyProcess`. */
export type VerifyOptions = {
  /** The platform whose process table is read. @default process.platform */
  platform?: NodeJS.Platform;
  /** Root of the proc filesystem (tests). @default '/proc' */
  procRoot?: string;
  /**
   * A last proof tried when the process table cannot decide (hidepid, `ps` failing), e.g. asking the daemon's API
   * for its PID and data dir. Resolves true when it proves the process is ours.
   */
  extraProof?: (pid: number) => Promise<boolean>;
};

/**
 * Tells whether `pid` is alive: signal 0 succeeds (EPERM counts as alive) and, where the OS shows it, the process
 * is not a zombie waiting to be reaped.
 */
export function isAlive(pid: number, options: Pick<VerifyOptions, 'platform' | 'procRoot'> = {}): boolean {
  if (!Number.isInteger(pid) || pid < 1) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    if (errorCode(error) !== 'EPERM') return false;
  }
  if ((options.platform ?? process.platform) === 'linux') {
    // Unreadable (hidepid, or it exited just now): signal 0 succeeded, so call it alive.
    const stat = readProcStat(options.procRoot ?? '/proc', pid);
    return stat === undefined || (stat.state !== 'Z' && stat.state !== 'X');
  }
  return true;
}

/**
 * Reads a process's identity (start time and command line); undefined when it is not running.
 *
 * @example
 * ```ts
 * const before = await readProcessIdentity(pid);
 * // … later, before signalling:
 * if (await isSameProcess(before)) process.kill(pid, 'SIGTERM');
 * ```
 */
export async function readProcessIdentity(
  pid: number,
  options: Pick<VerifyOptions, 'platform' | 'procRoot'> = {},
): Promise<ProcessIdentity | undefined> {
  if (!isAlive(pid, options)) return undefined;
  const platform = options.platform ?? process.platform;
  if (platform === 'linux') {
    const root = options.procRoot ?? '/proc';
    const stat = readProcStat(root, pid);
    const argv = readProcArgv(root, pid);
    if (stat === undefined && argv === undefined && !signalZero(pid)) return undefined;
    return { pid, startTime: stat?.startTime, command: argv?.join(' ') };
  }
  if (platform === 'darwin' || platform === 'freebsd') {
    const out = await psFields(pid, ['lstart', 'command']);
    if (out === undefined) return undefined;
    // `lstart` is a fixed 24-character date ("Mon Nov 22 03:11:22 2026"); the command follows.
    return { pid, startTime: out.slice(0, 24).trim(), command: out.slice(24).trim() };
  }
  return { pid, startTime: undefined, command: undefined };
}

/**
 * Tells whether the process a recorded identity describes still runs under the same PID: alive, same start time
 * and same command line. Call it right before every signal so a reused PID is never signalled.
 */
export async function isSameProcess(
  identity: ProcessIdentity,
  options: Pick<VerifyOptions, 'platform' | 'procRoot'> = {},
): Promise<boolean> {
  const now = await readProcessIdentity(identity.pid, options);
  if (now === undefined) return false;
  if (identity.startTime !== undefined && now.startTime !== identity.startTime) return false;
  if (identity.command !== undefined && now.command !== identity.command) return false;
  return true;
}

/**
 * Verifies that `pid` is a process of ours for `matcher`, first conclusive step wins (spec 20 §2.10): PID ≤ 1 or
 * our own → foreign; not running (or a zombie) → dead; signal 0 refused → foreign; environment and argv from
 * `/proc` (Linux) or `ps -E` (macOS) with the markers → ours, readable without them → foreign; otherwise
 * `extraProof`, else unknown. Only `ours` may be signalled.
 *
 * @example
 * ```ts
 * const v = await verifyProcess(pid, { env: { DEFENSECLAW_DAEMON: '1' }, argv: (a) => a.includes('run') });
 * if (v.status === 'ours') await stopProcess(v.identity);
 * ```
 */
export async function verifyProcess(
  pid: number,
  matcher: IdentityMatcher,
  options: VerifyOptions = {},
): Promise<Verification> {
  if (!Number.isInteger(pid) || pid <= 1 || pid === process.pid) {
    return { status: 'foreign', pid, reason: pid === process.pid ? 'our own PID' : 'not a user process' };
  }
  try {
    process.kill(pid, 0);
  } catch (error) {
    if (errorCode(error) === 'ESRCH') return { status: 'dead', pid };
    if (errorCode(error) === 'EPERM') return { status: 'foreign', pid, reason: 'owned by another user' };
  }
  if (!isAlive(pid, options)) return { status: 'dead', pid };
  const platform = options.platform ?? process.platform;
  const identity = await readProcessIdentity(pid, options);
  if (identity === undefined) return { status: 'dead', pid };

  let undecided = 'process table unreadable';
  if (platform === 'linux') {
    const root = options.procRoot ?? '/proc';
    const env = readProcEnv(root, pid);
    const argv = readProcArgv(root, pid);
    if (env !== undefined && argv !== undefined) {
      return matchesMarkers(env, argv, matcher)
        ? { status: 'ours', pid, identity }
        : { status: 'foreign', pid, reason: 'not carrying our markers' };
    }
  } else if (platform === 'darwin' || platform === 'freebsd') {
    const text = await psFields(pid, ['command'], true);
    if (text !== undefined) {
      if (psTextMatches(text, matcher)) return { status: 'ours', pid, identity };
      undecided = 'markers not visible to ps';
    }
  } else {
    undecided = `process identity is not supported on ${platform}`;
  }
  if (options.extraProof !== undefined && (await options.extraProof(pid).catch(() => false))) {
    return { status: 'ours', pid, identity };
  }
  // On macOS `ps -E` shows the environment of our own processes only, so no markers there means "not ours".
  if (undecided === 'markers not visible to ps') {
    return { status: 'foreign', pid, reason: 'not carrying our markers' };
  }
  return { status: 'unknown', pid, reason: undecided };
}

/**
 * Lists live processes carrying `matcher`'s markers (Linux only: scans `/proc`; empty elsewhere), excluding the
 * caller. Used to find orphans no PID file names.
 */
export function findMarkedProcesses(
  matcher: IdentityMatcher,
  options: Pick<VerifyOptions, 'platform' | 'procRoot'> = {},
): number[] {
  if ((options.platform ?? process.platform) !== 'linux') return [];
  const root = options.procRoot ?? '/proc';
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return [];
  }
  const found: number[] = [];
  for (const name of names) {
    if (!/^[0-9]+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid) continue;
    const env = readProcEnv(root, pid);
    if (env === undefined) continue;
    const argv = readProcArgv(root, pid);
    if (argv === undefined || !matchesMarkers(env, argv, matcher)) continue;
    if (isAlive(pid, options)) found.push(pid);
  }
  return found.sort((a, b) => a - b);
}

// --- internal ---

function matchesMarkers(env: Map<string, string>, argv: readonly string[], matcher: IdentityMatcher) {
  for (const [key, value] of Object.entries(matcher.env)) {
    if (env.get(key) !== value) return false;
  }
  return matcher.argv(argv);
}

// `ps -E` prints the command line followed by the environment, space-separated, so markers are matched as words.
function psTextMatches(text: string, matcher: IdentityMatcher): boolean {
  const padded = ` ${text} `;
  for (const [key, value] of Object.entries(matcher.env)) {
    if (!padded.includes(` ${key}=${value} `)) return false;
  }
  return matcher.argv(text.split(/\s+/));
}

function signalZero(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errorCode(error) === 'EPERM';
  }
}

function readProcStat(root: string, pid: number): { state: string; startTime: string } | undefined {
  let text: string;
  try {
    text = readFileSync(`${root}/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may itself contain spaces and parentheses.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const state = rest[0];
  const startTime = rest[19];
  if (state === undefined || startTime === undefined) return undefined;
  return { state, startTime };
}

function readProcArgv(root: string, pid: number): string[] | undefined {
  try {
    const raw = readFileSync(`${root}/${pid}/cmdline`, 'utf8');
    const parts = raw.split('\0');
    if (parts.at(-1) === '') parts.pop();
    return parts;
  } catch {
    return undefined;
  }
}

function readProcEnv(root: string, pid: number): Map<string, string> | undefined {
  let raw: string;
  try {
    raw = readFileSync(`${root}/${pid}/environ`, 'utf8');
  } catch {
    return undefined;
  }
  const env = new Map<string, string>();
  for (const entry of raw.split('\0')) {
    const eq = entry.indexOf('=');
    if (eq > 0) env.set(entry.slice(0, eq), entry.slice(eq + 1));
  }
  return env;
}

async function psFields(pid: number, fields: string[], withEnv = false): Promise<string | undefined> {
  try {
    const args = [
      ...(withEnv ? ['-E'] : []),
      '-ww',
      '-o',
      fields.map((f) => `${f}=`).join(','),
      '-p',
      String(pid),
    ];
    const { stdout } = await execFileAsync('ps', args, { timeout: 2000, maxBuffer: 1024 * 1024 });
    const text = stdout.trim();
    return text === '' ? undefined : text;
  } catch {
    return undefined;
  }
}
