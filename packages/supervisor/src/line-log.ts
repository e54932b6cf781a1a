import { closeSync, writeSync } from 'node:fs';
import { openLogFile } from './spawn.ts';

/** Options of `createLineLog`. */
export type LineLogOptions = {
  /** Clock for the line prefix. @default Date.now */
  now?: () => number;
  /** Permission bits when the file is created. @default 0o600 */
  mode?: number;
  /** Called when a line cannot be written (the line is then lost, never thrown). */
  onError?: (error: unknown) => void;
};

/**
 * Returns a function appending `<ISO time> <line>\n` to `path` (append/create/no-follow, one `write` per line so
 * concurrent writers never interleave within a line).
 *
 * @example
 * ```ts
 * const log = createLineLog(join(dataDir, 'watchdog.log'));
 * log('failure 1/3: connect ECONNREFUSED');
 * ```
 */
export function createLineLog(path: string, options: LineLogOptions = {}): (line: string) => void {
  const now = options.now ?? Date.now;
  const mode = options.mode ?? 0o600;
  return (line) => {
    const text = `${new Date(now()).toISOString()} ${line.replace(/[\r\n]+/g, ' ')}\n`;
    try {
      const fd = openLogFile(path, mode);
      try {
        writeSync(fd, text);
      } finally {
        closeSync(fd);
      }
    } catch (error) {
      options.onError?.(error);
    }
  };
}
