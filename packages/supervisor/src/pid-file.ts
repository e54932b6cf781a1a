import { lstatSync, readFileSync, rmSync } from 'node:fs';
import { errorCode, writeFileAtomic } from './_fs.ts';
import { SupervisorError } from './errors.ts';

/** The largest PID accepted in a PID file (Linux `pid_max` ceiling, 2^22). */
export const MAX_PID = 4_194_304;

/** The largest PID file accepted, in bytes. */
export const MAX_PID_FILE_BYTES = 32;

/** What a PID file holds: nothing, a process id, or content that is not a process id. */
export type PidFileContent =
  | { kind: 'absent' }
  | { kind: 'pid'; pid: number }
  | { kind: 'invalid'; reason: string };

/** Options of `writePidFile`. */
export type WritePidFileOptions = {
  /** Permission bits of the file. @default 0o644 */
  mode?: number;
};

/**
 * Parses PID file text: a positive decimal ≤ `MAX_PID` with an optional trailing newline, at most
 * `MAX_PID_FILE_BYTES` bytes; anything else is `invalid`.
 */
export function parsePid(text: string): PidFileContent {
  if (Buffer.byteLength(text) > MAX_PID_FILE_BYTES) return { kind: 'invalid', reason: 'too long' };
  const match = /^([1-9][0-9]{0,6})\n?$/.exec(text);
  if (match === null) return { kind: 'invalid', reason: 'content is not a process id' };
  const pid = Number(match[1]);
  if (pid > MAX_PID) return { kind: 'invalid', reason: 'content is not a process id' };
  return { kind: 'pid', pid };
}

/**
 * Reads a PID file; a symlink or non-regular file is `invalid` (it is never followed).
 *
 * @throws SupervisorError `FILE_FAILED` when the file exists but cannot be read.
 */
export function readPidFile(path: string): PidFileContent {
  let size: number;
  try {
    const stat = lstatSync(path);
    if (!stat.isFile()) return { kind: 'invalid', reason: 'not a regular file' };
    size = stat.size;
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return { kind: 'absent' };
    throw new SupervisorError('FILE_FAILED', `cannot read ${path}: ${errorCode(error)}`, { cause: error });
  }
  if (size > MAX_PID_FILE_BYTES) return { kind: 'invalid', reason: 'too long' };
  try {
    return parsePid(readFileSync(path, 'utf8'));
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return { kind: 'absent' };
    throw new SupervisorError('FILE_FAILED', `cannot read ${path}: ${errorCode(error)}`, { cause: error });
  }
}

/**
 * Writes `<pid>\n` atomically (temp file, fsync, rename, fsync of the directory), so a reader sees the old
 * content or the new one, never a partial file.
 *
 * @example
 * ```ts
 * writePidFile(join(dataDir, 'gateway.pid'), child.pid);
 * ```
 */
export function writePidFile(path: string, pid: number, options: WritePidFileOptions = {}): void {
  if (!Number.isInteger(pid) || pid < 1 || pid > MAX_PID) {
    throw new SupervisorError('INVALID_ARGUMENT', `not a process id: ${pid}`);
  }
  writeFileAtomic(path, `${pid}\n`, options.mode ?? 0o644);
}

/**
 * Compare-and-delete: removes the PID file only if it still holds `pid` (or, with `pid` undefined, only if it is
 * still invalid), so a file rewritten by someone else in between is kept. Returns whether it removed the file.
 */
export function removePidFileIf(path: string, pid: number | undefined): boolean {
  const current = readPidFile(path);
  const matches =
    pid === undefined ? current.kind === 'invalid' : current.kind === 'pid' && current.pid === pid;
  if (!matches) return false;
  try {
    rmSync(path, { force: true });
  } catch (error) {
    throw new SupervisorError('FILE_FAILED', `cannot remove ${path}: ${errorCode(error)}`, { cause: error });
  }
  return true;
}
