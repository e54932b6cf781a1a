import { closeSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { errorCode, sleep } from './_fs.ts';
import { SupervisorError } from './errors.ts';
import { isAlive } from './process-identity.ts';

/** Options of `acquireLock`. */
export type AcquireLockOptions = {
  /** How long to wait for a live holder to release the lock. @default 15000 */
  timeoutMs?: number;
  /** How often a waiter looks again. @default 100 */
  pollMs?: number;
  /**
   * Tells whether a holder PID no longer holds the lock (dead, or not the kind of process that takes it).
   * @default a PID that is not alive (or a zombie)
   */
  isHolderStale?: (pid: number) => boolean | Promise<boolean>;
  /** How old an empty or unparsable lock file must be to count as abandoned. @default 2000 */
  abandonedAfterMs?: number;
  /** The PID written into the lock. @default process.pid */
  pid?: number;
  /** Gives up waiting when aborted. */
  signal?: AbortSignal;
};

/** A held lock. */
export type HeldLock = {
  /** The lock file. */
  readonly path: string;
  /** Releases the lock: deletes the file only if it still names this holder. Safe to call twice. */
  release(): void;
};

/** The outcome of `acquireLock`: the lock, or who held it when waiting gave up. */
export type AcquireLockResult =
  | { success: true; lock: HeldLock; tookOverFrom: number | undefined }
  | { success: false; holderPid: number | undefined; reason: 'timeout' | 'aborted' };

/**
 * Takes an exclusive lock file holding the holder's PID (created with `wx`, so exactly one creator wins). A lock
 * whose holder is stale is taken over: the stale file is removed under a short-lived `.takeover` guard after
 * re-reading it, so two waiters never both delete a fresh lock. Live holders are waited for, polling every
 * `pollMs`, until `timeoutMs`.
 *
 * @throws SupervisorError `FILE_FAILED` when the lock cannot be created for another reason than "it exists".
 * @example
 * ```ts
 * const got = await acquireLock(join(dataDir, 'lifecycle.lock'), { timeoutMs: 15_000 });
 * if (!got.success) fail(`another lifecycle command is running (PID ${got.holderPid})`);
 * try { … } finally { got.lock.release(); }
 * ```
 */
export async function acquireLock(
  path: string,
  options: AcquireLockOptions = {},
): Promise<AcquireLockResult> {
  const timeoutMs = options.timeoutMs ?? 15_000;
  const pollMs = options.pollMs ?? 100;
  const abandonedAfterMs = options.abandonedAfterMs ?? 2000;
  const pid = options.pid ?? process.pid;
  const isHolderStale = options.isHolderStale ?? ((holder: number) => !isAlive(holder));
  const content = `${pid}\n`;
  const deadline = Date.now() + timeoutMs;
  let tookOverFrom: number | undefined;

  for (;;) {
    if (tryCreate(path, content)) {
      let released = false;
      return {
        success: true,
        tookOverFrom,
        lock: {
          path,
          release() {
            if (released) return;
            released = true;
            if (readText(path) === content) rmSync(path, { force: true });
          },
        },
      };
    }
    const seen = readText(path);
    if (seen === undefined) continue; // released between our create and our read
    const holder = parseHolder(seen);
    let stale: boolean;
    if (holder === undefined) {
      stale = ageMs(path) > abandonedAfterMs;
    } else {
      stale = holder !== pid && (await isHolderStale(holder));
    }
    if (stale) {
      if (removeIfUnchanged(path, seen)) tookOverFrom = holder;
      continue;
    }
    if (options.signal?.aborted) return { success: false, holderPid: holder, reason: 'aborted' };
    if (Date.now() >= deadline) return { success: false, holderPid: holder, reason: 'timeout' };
    try {
      await sleep(Math.min(pollMs, Math.max(1, deadline - Date.now())), options.signal);
    } catch {
      return { success: false, holderPid: holder, reason: 'aborted' };
    }
  }
}

/** Reads the PID a lock file names; undefined when it is absent or unparsable. */
export function readLockHolder(path: string): number | undefined {
  const text = readText(path);
  return text === undefined ? undefined : parseHolder(text);
}

// --- internal ---

function tryCreate(path: string, content: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o600);
  } catch (error) {
    if (errorCode(error) === 'EEXIST') return false;
    throw new SupervisorError('FILE_FAILED', `cannot create ${path}: ${errorCode(error)}`, { cause: error });
  }
  try {
    writeSync(fd, content);
  } finally {
    closeSync(fd);
  }
  return true;
}

// Only the holder of `<lock>.takeover` may delete a stale lock, and only after re-reading it under the guard.
function removeIfUnchanged(path: string, seen: string): boolean {
  const guard = `${path}.takeover`;
  let fd: number;
  try {
    fd = openSync(guard, 'wx', 0o600);
  } catch (error) {
    if (errorCode(error) !== 'EEXIST') return false;
    // A guard left by a process that died mid-takeover is cleared after a few seconds.
    if (ageMs(guard) > 5000) rmSync(guard, { force: true });
    return false;
  }
  closeSync(fd);
  try {
    if (readText(path) !== seen) return false;
    rmSync(path, { force: true });
    return true;
  } finally {
    rmSync(guard, { force: true });
  }
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined;
    throw new SupervisorError('FILE_FAILED', `cannot read ${path}: ${errorCode(error)}`, { cause: error });
  }
}

function parseHolder(text: string): number | undefined {
  const match = /^([1-9][0-9]{0,9})\n?$/.exec(text);
  return match === null ? undefined : Number(match[1]);
}

function ageMs(path: string): number {
  try {
    return Date.now() - statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}
