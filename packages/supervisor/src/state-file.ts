import { readFileSync } from 'node:fs';
import { errorCode, writeFileAtomic } from './_fs.ts';
import { SupervisorError } from './errors.ts';

/**
 * Writes a JSON document atomically (temp file, fsync, rename, fsync of the directory), e.g. `watchdog.state`.
 *
 * @throws SupervisorError `FILE_FAILED` when it cannot be written.
 */
export function writeJsonFileAtomic(path: string, value: unknown, mode = 0o600): void {
  writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`, mode);
}

/**
 * Writes a text file atomically (temp file, fsync, rename, fsync of the directory), e.g. a unit file.
 *
 * @throws SupervisorError `FILE_FAILED` when it cannot be written.
 */
export function writeTextFileAtomic(path: string, text: string, mode = 0o644): void {
  writeFileAtomic(path, text, mode);
}

/** Reads a JSON document; undefined when the file is absent or not valid JSON. */
export function readJsonFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined;
    throw new SupervisorError('FILE_FAILED', `cannot read ${path}: ${errorCode(error)}`, { cause: error });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
