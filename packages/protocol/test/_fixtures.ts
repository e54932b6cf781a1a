import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// --- test-only helper: loads the recorded OpenClaw 2026.9.6 frames; not a test file ---

/** The folder of recorded frames, resolved relative to this file (`shared/` is a sibling of the repo). */
export const FIXTURE_DIR = new URL('../../../../shared/fixtures/openclaw-2026.9.6/', import.meta.url);

/** One line of a recording. */
export type FixtureLine =
  | { ts: number; conn: string; dir: 'recv'; frame: Record<string, unknown> }
  | { ts: number; conn: string; dir: 'send'; frame: Record<string, unknown> }
  | { ts: number; conn: string; dir: 'note'; note: string }
  | { ts: number; conn: string; dir: 'close'; code: number; reason: string };

/** Throws a clear error when the fixture folder is missing, so fixture tests fail rather than skip. */
export function requireFixtureDir(): string {
  const dir = fileURLToPath(FIXTURE_DIR);
  if (!existsSync(dir)) {
    throw new Error(
      `OpenClaw fixtures not found at ${dir}. Clone the repo with shared/ as a sibling of the repo root ` +
        '(shared/fixtures/openclaw-2026.9.6/*.jsonl); these tests never skip.',
    );
  }
  return dir;
}

/** Lists every `*.jsonl` recording, sorted. */
export function listFixtureFiles(): string[] {
  const files = readdirSync(requireFixtureDir())
    .filter((name) => name.endsWith('.jsonl'))
    .sort();
  if (files.length === 0) throw new Error(`no *.jsonl fixtures in ${fileURLToPath(FIXTURE_DIR)}`);
  return files;
}

/** Reads one recording as parsed lines. */
export function loadFixture(name: string): FixtureLine[] {
  requireFixtureDir();
  const text = readFileSync(new URL(name, FIXTURE_DIR), 'utf8');
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as FixtureLine);
}

/** Returns the received event frames of one connection, in order, as `{name, payload}`. */
export function recvEvents(
  lines: FixtureLine[],
  conn?: string,
): { name: string; payload: unknown; ts: number }[] {
  const out: { name: string; payload: unknown; ts: number }[] = [];
  for (const line of lines) {
    if (line.dir !== 'recv' || (conn !== undefined && line.conn !== conn)) continue;
    if (line.frame.type === 'event')
      out.push({ name: String(line.frame.event), payload: line.frame.payload, ts: line.ts });
  }
  return out;
}

/** Returns the `payload` of the first successful `res` to a sent request of `method`. */
export function findResult(lines: FixtureLine[], method: string, conn = 'observer'): unknown {
  const ids = new Set<unknown>();
  for (const line of lines) {
    if (line.conn !== conn) continue;
    if (line.dir === 'send' && line.frame.method === method) ids.add(line.frame.id);
    if (
      line.dir === 'recv' &&
      line.frame.type === 'res' &&
      ids.has(line.frame.id) &&
      line.frame.ok === true
    ) {
      return line.frame.payload;
    }
  }
  throw new Error(`no successful ${method} result for ${conn}`);
}
