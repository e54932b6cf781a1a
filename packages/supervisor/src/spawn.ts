import { type ChildProcess, spawn } from 'node:child_process';
import {
  closeSync,
  constants,
  existsSync,
  lstatSync,
  openSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { errorCode } from './_fs.ts';
import { SupervisorError } from './errors.ts';

/** How a detached child ended, as far as the spawning process saw it. */
export type ChildExit = { code: number | null; signal: NodeJS.Signals | null };

/** Options of `spawnDetached`. */
export type SpawnDetachedOptions = {
  /** The executable, e.g. `process.execPath`. */
  command: string;
  /** Its arguments. */
  args: readonly string[];
  /** Working directory of the child. */
  cwd: string;
  /** The child's whole environment. */
  env: NodeJS.ProcessEnv;
  /** File receiving the child's stdout and stderr, opened append/create/no-follow. */
  logFile: string;
  /** Permission bits when the log file is created. @default 0o600 */
  logMode?: number;
  /** A line appended to the log just before the spawn (e.g. `==== start <ISO> by start ====`). */
  marker?: string;
};

/** A spawned detached child. */
export type DetachedChild = {
  readonly pid: number;
  /**
   * Resolves when the child exits while this process still runs; never resolves otherwise (the child is
   * unref'd, so it does not keep this process alive).
   */
  readonly exited: Promise<ChildExit>;
};

/**
 * Spawns a daemon in a new session (`detached: true`, so it is a session leader and survives this process and its
 * terminal), stdin on the null device, stdout and stderr appended to `logFile`; the child is unref'd and the
 * parent's copy of the log descriptor closed.
 *
 * @throws SupervisorError `NOT_A_FILE` when the log path is a symlink, `FILE_FAILED` when it cannot be opened,
 * `SPAWN_FAILED` when the child cannot start.
 * @example
 * ```ts
 * const child = await spawnDetached({ command: process.execPath, args: [bin, 'run'], cwd: dataDir, env, logFile });
 * writePidFile(pidFile, child.pid);
 * ```
 */
export async function spawnDetached(options: SpawnDetachedOptions): Promise<DetachedChild> {
  const fd = openLogFile(options.logFile, options.logMode ?? 0o600);
  let child: ChildProcess;
  try {
    if (options.marker !== undefined) writeSync(fd, `${options.marker}\n`);
    child = spawn(options.command, [...options.args], {
      cwd: options.cwd,
      env: options.env,
      detached: true,
      stdio: ['ignore', fd, fd],
    });
  } catch (error) {
    closeSync(fd);
    throw new SupervisorError('SPAWN_FAILED', `cannot spawn ${options.command}: ${errorCode(error)}`, {
      cause: error,
    });
  }
  closeSync(fd);
  const exited = new Promise<ChildExit>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  // A spawn failure (ENOENT, bad cwd) is reported asynchronously, before or instead of 'spawn'.
  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error) => {
      child.off('spawn', onSpawn);
      reject(
        new SupervisorError('SPAWN_FAILED', `cannot spawn ${options.command}: ${errorCode(error)}`, {
          cause: error,
        }),
      );
    };
    const onSpawn = () => {
      child.off('error', onError);
      resolve();
    };
    child.once('error', onError);
    child.once('spawn', onSpawn);
  });
  if (child.pid === undefined) throw new SupervisorError('SPAWN_FAILED', `no PID for ${options.command}`);
  child.unref();
  return { pid: child.pid, exited };
}

/**
 * Opens a log file for appending (created with `mode`, never following a symlink) and returns the descriptor.
 *
 * @throws SupervisorError `NOT_A_FILE` for a symlink or non-regular file, `FILE_FAILED` otherwise.
 */
export function openLogFile(path: string, mode = 0o600): number {
  try {
    return openSync(
      path,
      constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW,
      mode,
    );
  } catch (error) {
    const code = errorCode(error);
    if (code === 'ELOOP' || code === 'EISDIR') {
      throw new SupervisorError('NOT_A_FILE', `${path} is not a regular file (${code})`, { cause: error });
    }
    throw new SupervisorError('FILE_FAILED', `cannot open ${path}: ${code}`, { cause: error });
  }
}

/** Options of `rotateLog`. */
export type RotateLogOptions = {
  /** Rotate once the file is larger than this. @default 10 MiB */
  maxBytes?: number;
  /** How many rotated files (`.1` … `.N`) to keep. @default 3 */
  keep?: number;
};

/**
 * Rotates `path` to `path.1` (shifting `.1`→`.2`… and dropping the oldest) when it is larger than `maxBytes`.
 * Call it only before a spawn: a running daemon keeps writing to the descriptor it holds. Returns whether it
 * rotated.
 */
export function rotateLog(path: string, options: RotateLogOptions = {}): boolean {
  const maxBytes = options.maxBytes ?? 10 * 1024 * 1024;
  const keep = options.keep ?? 3;
  let size: number;
  try {
    const stat = lstatSync(path);
    if (!stat.isFile()) return false;
    size = stat.size;
  } catch {
    return false;
  }
  if (size <= maxBytes) return false;
  rmSync(`${path}.${keep}`, { force: true });
  for (let i = keep - 1; i >= 1; i--) {
    if (existsSync(`${path}.${i}`)) renameSync(`${path}.${i}`, `${path}.${i + 1}`);
  }
  renameSync(path, `${path}.1`);
  return true;
}
