import { basename, isAbsolute, resolve } from 'node:path';
import {
  acquireLock,
  type HeldLock,
  type IdentityMatcher,
  isAlive,
  type ProcessIdentity,
  readPidFile,
  readProcessIdentity,
  removePidFileIf,
  type Verification,
  verifyProcess,
} from '@defenseclaw/supervisor';
import { CliError, EXIT_CODES } from '../cli-error.ts';
import { type LifecycleContext, lifecycleContext } from './_context.ts';

export { type LifecycleContext, lifecycleContext };

/** How long a lifecycle command waits for `lifecycle.lock` (spec 20 §2.10). */
export const LOCK_TIMEOUT_MS = 15_000;

/** The two kinds of process the lifecycle commands manage. */
export type Role = 'daemon' | 'watchdog';

/** The markers a process of `role` for this data dir carries (spec 20 §2.10). */
export function roleMatcher(ctx: LifecycleContext, role: Role): IdentityMatcher {
  const command = role === 'daemon' ? 'run' : '_watchdog';
  return {
    env:
      role === 'daemon'
        ? { DEFENSECLAW_DAEMON: '1', DEFENSECLAW_DATA_DIR: ctx.realDataDir }
        : { DEFENSECLAW_WATCHDOG: '1', DEFENSECLAW_DATA_DIR: ctx.realDataDir },
    argv: (argv) => hasCommand(argv, command),
  };
}

/** Tells whether an argv runs `defenseclaw-gateway <command>` (an element named `defenseclaw-gateway*`, then it). */
export function hasCommand(argv: readonly string[], command: string): boolean {
  for (let i = 0; i + 1 < argv.length; i++) {
    if (basename(argv[i]!).startsWith('defenseclaw-gateway') && argv[i + 1] === command) return true;
  }
  return false;
}

/** The environment of a spawned daemon or watchdog: ours plus absolute paths and the identity markers. */
export function childEnv(
  ctx: LifecycleContext,
  role: Role,
  extra: Record<string, string> = {},
  base: NodeJS.ProcessEnv = process.env,
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base };
  // A watchdog restarting the daemon must not hand its own marker (or a stale reason) down, and vice versa.
  delete env.DEFENSECLAW_DAEMON;
  delete env.DEFENSECLAW_WATCHDOG;
  delete env.DEFENSECLAW_RESTART_REASON;
  delete env.DEFENSECLAW_SUPERVISOR;
  return {
    ...env,
    DEFENSECLAW_HOME: ctx.dataDir,
    DEFENSECLAW_CONFIG: ctx.configPath,
    DEFENSECLAW_DATA_DIR: ctx.realDataDir,
    // DEFENSECLAW_SUPERVISOR tells the daemon to report `runtime.supervisor: detached` on /status.
    ...(role === 'daemon'
      ? { DEFENSECLAW_DAEMON: '1', DEFENSECLAW_SUPERVISOR: 'detached' }
      : { DEFENSECLAW_WATCHDOG: '1' }),
    ...extra,
  };
}

/** The command line that re-runs this CLI: same Node binary, `execArgv` and absolute entry script. */
export function selfCommand(args: readonly string[]): { command: string; args: string[] } {
  const entry = process.argv[1];
  if (entry === undefined) throw new CliError(EXIT_CODES.RUNTIME, 'cannot tell which script to re-run');
  return {
    command: process.execPath,
    args: [...process.execArgv, isAbsolute(entry) ? entry : resolve(entry), ...args],
  };
}

/** The state of one PID file after stale and invalid content has been cleaned. */
export type PidFileCheck =
  | { status: 'none' }
  | { status: 'ours'; pid: number; identity: ProcessIdentity }
  | { status: 'unknown'; pid: number; reason: string };

/**
 * Reads and verifies a PID file. Invalid content and PIDs that are dead or foreign are removed
 * (compare-and-delete) with the one-line note of spec 20 §2.10 passed to `note`.
 */
export async function checkPidFile(
  ctx: LifecycleContext,
  role: Role,
  note: (line: string) => void,
  extraProof?: (pid: number) => Promise<boolean>,
): Promise<PidFileCheck> {
  const file = role === 'daemon' ? ctx.pidFile : ctx.watchdogPidFile;
  const content = readPidFile(file);
  if (content.kind === 'absent') return { status: 'none' };
  if (content.kind === 'invalid') {
    if (removePidFileIf(file, undefined)) {
      note(`Removed invalid PID file ${ctx.show(file)} (content is not a process id)`);
    }
    return { status: 'none' };
  }
  const verdict = await verifyRole(ctx, role, content.pid, extraProof);
  if (verdict.status === 'ours') return { status: 'ours', pid: content.pid, identity: verdict.identity };
  if (verdict.status === 'unknown') return { status: 'unknown', pid: content.pid, reason: verdict.reason };
  if (removePidFileIf(file, content.pid)) {
    note(
      verdict.status === 'dead'
        ? `Removed stale PID file ${ctx.show(file)} (PID ${content.pid} is not running)`
        : `Removed stale PID file ${ctx.show(file)} (PID ${content.pid} is not a defenseclaw-gateway ${role === 'daemon' ? 'daemon' : 'watchdog'})`,
    );
  }
  return { status: 'none' };
}

/** Verifies that `pid` is our daemon or watchdog for this data dir. */
export function verifyRole(
  ctx: LifecycleContext,
  role: Role,
  pid: number,
  extraProof?: (pid: number) => Promise<boolean>,
): Promise<Verification> {
  return verifyProcess(pid, roleMatcher(ctx, role), extraProof === undefined ? {} : { extraProof });
}

/** The refusal of spec 20 §2.10 for a PID whose identity cannot be verified (exit 6). */
export function refuseUnknown(
  ctx: LifecycleContext,
  command: string,
  pid: number,
  role: Role = 'daemon',
): CliError {
  const file = role === 'daemon' ? ctx.pidFile : ctx.watchdogPidFile;
  return new CliError(
    EXIT_CODES.REFUSED,
    `${command}: refusing to signal PID ${pid}: cannot verify it is the defenseclaw-gateway ${role} for ${ctx.show(ctx.dataDir)}\n` +
      `Stop it manually, then remove ${ctx.show(file)}`,
  );
}

/**
 * Takes `lifecycle.lock`, waiting up to 15 s for another lifecycle command; a holder that died or is not a
 * defenseclaw-gateway process is taken over.
 *
 * @throws CliError exit 6 `another lifecycle command is running (PID N)` after the wait.
 */
export async function takeLifecycleLock(
  ctx: LifecycleContext,
  command: string,
  timeoutMs = LOCK_TIMEOUT_MS,
): Promise<HeldLock> {
  const got = await acquireLock(ctx.lockFile, {
    timeoutMs,
    isHolderStale: async (pid) => !isAlive(pid) || !(await isOurCli(pid)),
  });
  if (got.success) return got.lock;
  throw new CliError(
    EXIT_CODES.REFUSED,
    `${command}: another lifecycle command is running${got.holderPid === undefined ? '' : ` (PID ${got.holderPid})`}`,
  );
}

/** Exits 2 on Windows, where the lifecycle commands are not supported (spec 20 preamble). */
export function refuseWindows(command: string): void {
  if (process.platform === 'win32') {
    throw new CliError(
      EXIT_CODES.USAGE,
      `${command} is not supported on Windows; use 'run' in the foreground`,
    );
  }
}

/** Parses `--timeout <seconds>` (a positive number), or returns the default; milliseconds. */
export function parseTimeout(value: string | undefined, defaultSeconds: number): number {
  if (value === undefined || value === '') return defaultSeconds * 1000;
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 3600) {
    throw new CliError(
      EXIT_CODES.USAGE,
      `--timeout must be a number of seconds between 0 and 3600; got ${value}`,
    );
  }
  return Math.round(seconds * 1000);
}

// --- internal ---

async function isOurCli(pid: number): Promise<boolean> {
  const identity = await readProcessIdentity(pid);
  // Without a readable command line, keep waiting rather than break a live holder's lock.
  if (identity?.command === undefined) return true;
  return identity.command.includes('defenseclaw-gateway');
}
