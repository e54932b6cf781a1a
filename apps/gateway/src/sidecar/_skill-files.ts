// --- internal: how the watcher finds skills and plugins on disk and reads what it scans (spec 20 §8.2–§8.3) ---
//
// A skill is a directory holding `SKILL.md` (a plugin: `openclaw.plugin.json`). Discovery walks a root like
// OpenClaw does (a marker ends the descent below it, at most 6 levels deep). The scan input is the marker file plus
// the bundled scripts, read with explicit caps; nothing here ever follows a FIFO, a device or a directory symlink
// loop, and nothing blocks on a slow file beyond one bounded read.
import { createHash } from 'node:crypto';
import { constants, type Dirent, existsSync, statSync } from 'node:fs';
import { open, readdir, realpath, stat } from 'node:fs/promises';
import { basename, extname, join, relative, sep } from 'node:path';
import { parse as parseYaml } from 'yaml';

/** The marker file of a skill. */
export const SKILL_MARKER = 'SKILL.md';

/** The marker file of a native OpenClaw plugin. */
export const PLUGIN_MARKER = 'openclaw.plugin.json';

/** The caps of one skill's scan input (spec 20 §8.3). */
export const SKILL_LIMITS = {
  /** Bytes read from one file; the rest is not scanned. */
  maxFileBytes: 1024 * 1024,
  /** Files scanned per skill. */
  maxFiles: 200,
  /** Bytes scanned per skill. */
  maxTotalBytes: 10 * 1024 * 1024,
  /** Directory entries looked at per skill before the walk stops (bounds a hostile tree). */
  maxWalkEntries: 10_000,
  /** How deep the walk goes below the skill dir. */
  maxDepth: 16,
  /** Bytes sniffed for a NUL (binary) and a shebang. */
  sniffBytes: 8192,
} as const;

/** The shape of `SKILL_LIMITS`. */
export type SkillLimits = Record<keyof typeof SKILL_LIMITS, number>;

/** How deep discovery looks below a root for marker files (OpenClaw's own limit). */
export const DISCOVERY_MAX_DEPTH = 6;

/** Tells whether a file name has a script extension. */
function isScriptName(path: string): boolean {
  return SCRIPT_EXTENSIONS.has(extname(path).toLowerCase());
}

/** Directories never walked into. */
const SKIPPED_DIRS: ReadonlySet<string> = new Set(['node_modules', '.git']);

/** File extensions that count as bundled scripts (spec 20 §8.3). */
const SCRIPT_EXTENSIONS: ReadonlySet<string> = new Set([
  '.sh',
  '.bash',
  '.zsh',
  '.py',
  '.js',
  '.mjs',
  '.cjs',
  '.ts',
  '.rb',
  '.pl',
  '.ps1',
]);

/** One file of the scan input, path relative to the skill dir (POSIX separators). */
export type SkillFile = {
  path: string;
  text: string;
  /** The file's size on disk. */
  bytes: number;
  /** Only the first `maxFileBytes` (or what was left of the skill budget) were read. */
  cut: boolean;
};

/** Why a skill's scan input is incomplete. */
export type TruncationReason = 'file_bytes' | 'file_count' | 'total_bytes' | 'walk_entries';

/** The scan input of one skill or plugin. */
export type CollectedSkill = {
  files: SkillFile[];
  /** Bytes of text scanned. */
  scannedBytes: number;
  /** SHA-256 (hex) over every scanned path and text and the truncation facts: equal hash, equal input. */
  hash: string;
  /** Set when a cap was hit. */
  truncated: { reasons: TruncationReason[]; filesCut: number; filesOmitted: number } | undefined;
  /** Files left out because they are not scan input. */
  skipped: { binary: number; unreadable: number; special: number };
  /** What the marker file says about the skill's identity. */
  identity: { name?: string; skillKey?: string };
};

/** Options of `collectSkillFiles`. */
export type CollectOptions = {
  /** The marker file, always scanned first. @default SKILL_MARKER */
  marker?: string;
  /** Overrides of `SKILL_LIMITS` (tests). */
  limits?: Partial<SkillLimits>;
};

/**
 * Reads the scan input of the skill (or plugin) in `dir`: the marker file, nested `SKILL.md` files and bundled
 * scripts (by extension, shebang or executable bit), skipping `node_modules`, `.git`, binaries (a NUL in the first
 * 8 KiB) and anything that is not a regular file, within the caps of `SKILL_LIMITS`.
 *
 * @throws the fs error when `dir` itself or its marker cannot be read (the caller fails open).
 */
export async function collectSkillFiles(dir: string, options: CollectOptions = {}): Promise<CollectedSkill> {
  const marker = options.marker ?? SKILL_MARKER;
  const limits: SkillLimits = { ...SKILL_LIMITS, ...options.limits };
  const reasons = new Set<TruncationReason>();
  const skipped = { binary: 0, unreadable: 0, special: 0 };
  const candidates = await walkSkill(dir, marker, limits, reasons, skipped);

  const files: SkillFile[] = [];
  let scannedBytes = 0;
  let filesCut = 0;
  let filesOmitted = 0;
  for (const candidate of candidates) {
    const isMarker = candidate.rel === marker;
    // Markdown the agent reads is scanned even with a NUL in it: a NUL must not hide an injection from the scan.
    const markdown = isMarker || basename(candidate.rel) === SKILL_MARKER;
    const byName = markdown || isScriptName(candidate.rel);
    const full = files.length >= limits.maxFiles || scannedBytes >= limits.maxTotalBytes;
    let read: ReadFile;
    try {
      read = await readCandidate(join(dir, candidate.rel), {
        maxBytes: full ? 0 : Math.min(limits.maxFileBytes, limits.maxTotalBytes - scannedBytes),
        byName,
        textAnyway: markdown,
        sniffBytes: limits.sniffBytes,
      });
    } catch (error) {
      // The marker must be readable: an unreadable SKILL.md is a scan error, not an empty skill.
      if (isMarker) throw error;
      skipped.unreadable += 1;
      continue;
    }
    if (read.kind === 'special') {
      if (isMarker) throw Object.assign(new Error(`${marker} is not a regular file`), { code: 'EINVAL' });
      skipped.special += 1;
      continue;
    }
    if (read.kind === 'binary') {
      skipped.binary += 1;
      continue;
    }
    if (read.kind === 'other') continue;
    if (full) {
      reasons.add(files.length >= limits.maxFiles ? 'file_count' : 'total_bytes');
      filesOmitted += 1;
      continue;
    }
    const cut = read.size > read.bytesRead;
    if (cut) {
      filesCut += 1;
      reasons.add(read.bytesRead >= limits.maxFileBytes ? 'file_bytes' : 'total_bytes');
    }
    scannedBytes += read.bytesRead;
    files.push({ path: candidate.rel, text: read.text, bytes: read.size, cut });
  }

  const truncated = reasons.size === 0 ? undefined : { reasons: [...reasons].sort(), filesCut, filesOmitted };
  const hash = createHash('sha256');
  for (const file of files) {
    hash.update(`${file.path}\u0000${file.bytes}\u0000${file.cut ? 1 : 0}\u0000`);
    hash.update(file.text);
    hash.update('\u0000');
  }
  if (truncated !== undefined) hash.update(`truncated:${JSON.stringify(truncated)}`);
  const markerFile = files[0]?.path === marker ? files[0] : undefined;
  return {
    files,
    scannedBytes,
    hash: hash.digest('hex'),
    truncated,
    skipped,
    identity: markerFile === undefined ? {} : identityOf(marker, markerFile.text),
  };
}

/**
 * Lists the skill (or plugin) dirs under `root`: every directory holding `marker`, the root itself included, at
 * most `DISCOVERY_MAX_DEPTH` levels down; a marker ends the descent below it, and symlinked directories are followed
 * once each. A missing or unreadable root yields `[]`.
 */
export async function discoverSkillDirs(
  root: string,
  marker: string = SKILL_MARKER,
  maxDepth: number = DISCOVERY_MAX_DEPTH,
): Promise<string[]> {
  const found: string[] = [];
  const seen = new Set<string>();
  const visit = async (dir: string, depth: number): Promise<void> => {
    let real: string;
    try {
      real = await realpath(dir);
    } catch {
      return;
    }
    if (seen.has(real)) return;
    seen.add(real);
    if (await isFile(join(dir, marker))) {
      found.push(dir);
      return;
    }
    if (depth >= maxDepth) return;
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      if (SKIPPED_DIRS.has(entry.name)) continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory() || (entry.isSymbolicLink() && (await isDir(path))))
        await visit(path, depth + 1);
    }
  };
  await visit(root, 0);
  return found;
}

/**
 * Finds the skill dir a changed path belongs to: the first directory from `root` down to the path that holds
 * `marker` (discovery stops there too). Synchronous: called from `fs.watch` callbacks, a handful of `stat`s.
 */
export function skillDirFor(
  root: string,
  changed: string,
  marker: string = SKILL_MARKER,
): string | undefined {
  const rel = relative(root, changed);
  if (rel.startsWith('..')) return undefined;
  const segments = rel === '' ? [] : rel.split(sep);
  let dir = root;
  for (let i = 0; i <= Math.min(segments.length, DISCOVERY_MAX_DEPTH); i++) {
    if (i > 0) {
      const segment = segments[i - 1]!;
      if (SKIPPED_DIRS.has(segment)) return undefined;
      dir = join(dir, segment);
    }
    if (fileExistsSync(join(dir, marker))) return dir;
  }
  return undefined;
}

/** Tells whether `path` is `dir` or lies below it. */
export function isWithin(dir: string, path: string): boolean {
  return path === dir || path.startsWith(dir.endsWith(sep) ? dir : dir + sep);
}

// --- internal ---

type Candidate = { rel: string };

type ReadFile =
  | { kind: 'text'; text: string; size: number; bytesRead: number }
  | { kind: 'binary' }
  | { kind: 'special' }
  | { kind: 'other' };

// Collects the relative paths worth reading, marker first, then in path order, within the walk caps.
async function walkSkill(
  dir: string,
  marker: string,
  limits: SkillLimits,
  reasons: Set<TruncationReason>,
  skipped: CollectedSkill['skipped'],
): Promise<Candidate[]> {
  const out: string[] = [];
  let entriesSeen = 0;
  const visit = async (abs: string, rel: string, depth: number): Promise<void> => {
    let entries: Dirent[];
    try {
      entries = await readdir(abs, { withFileTypes: true });
    } catch (error) {
      if (rel === '') throw error;
      skipped.unreadable += 1;
      return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      if (entriesSeen >= limits.maxWalkEntries) {
        reasons.add('walk_entries');
        return;
      }
      entriesSeen += 1;
      const childRel = rel === '' ? entry.name : `${rel}/${entry.name}`;
      if (entry.isDirectory()) {
        // Symlinked directories are not entered: no loops, and nothing outside the skill is read as part of it.
        if (SKIPPED_DIRS.has(entry.name)) continue;
        if (depth + 1 > limits.maxDepth) {
          reasons.add('walk_entries');
          continue;
        }
        await visit(join(abs, entry.name), childRel, depth + 1);
      } else if (entry.isFile() || entry.isSymbolicLink()) {
        out.push(childRel);
      } else {
        skipped.special += 1;
      }
    }
  };
  await visit(dir, '', 0);
  const rest = out.filter((rel) => rel !== marker);
  return [{ rel: marker }, ...rest.map((rel) => ({ rel }))];
}

// Reads a candidate without blocking on FIFOs or devices (O_NONBLOCK, then a regular-file check on the opened
// descriptor, so a swapped path cannot slip a device in after the check). A file that is a script by neither name
// nor executable bit is only sniffed for a shebang; `maxBytes` 0 classifies without reading the body.
async function readCandidate(
  path: string,
  options: { maxBytes: number; byName: boolean; textAnyway: boolean; sniffBytes: number },
): Promise<ReadFile> {
  const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const info = await handle.stat();
    if (!info.isFile()) return { kind: 'special' };
    const readAt = async (want: number): Promise<Buffer> => {
      const buffer = Buffer.alloc(Math.max(0, Math.min(info.size, want)));
      let got = 0;
      while (got < buffer.length) {
        const { bytesRead } = await handle.read(buffer, got, buffer.length - got, got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      return buffer.subarray(0, got);
    };
    const sniff = await readAt(options.sniffBytes);
    if (!options.textAnyway && sniff.includes(0)) return { kind: 'binary' };
    const script = options.byName || (info.mode & 0o111) !== 0 || sniff.subarray(0, 2).toString() === '#!';
    if (!script) return { kind: 'other' };
    const data =
      options.maxBytes <= sniff.length ? sniff.subarray(0, options.maxBytes) : await readAt(options.maxBytes);
    return {
      kind: 'text',
      text: decodeUtf8(data, data.length < info.size),
      size: info.size,
      bytesRead: data.length,
    };
  } finally {
    await handle.close();
  }
}

// Decodes UTF-8; a read cut inside a multi-byte character drops the partial character instead of inventing one.
function decodeUtf8(data: Buffer, cut: boolean): string {
  let end = data.length;
  if (cut) {
    let back = 0;
    while (back < 3 && end - back > 0 && (data[end - back - 1]! & 0xc0) === 0x80) back += 1;
    const lead = data[end - back - 1];
    if (lead !== undefined && lead >= 0xc0) {
      const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
      if (back + 1 < need) end -= back + 1;
    }
  }
  return new TextDecoder('utf-8').decode(data.subarray(0, end));
}

// OpenClaw's key: `metadata.openclaw.skillKey`, else the frontmatter `name` (a plugin manifest: `id`, else `name`).
function identityOf(marker: string, text: string): CollectedSkill['identity'] {
  if (marker === PLUGIN_MARKER) {
    try {
      const manifest: unknown = JSON.parse(text);
      if (typeof manifest !== 'object' || manifest === null) return {};
      const m = manifest as Record<string, unknown>;
      const out: CollectedSkill['identity'] = {};
      const name = nonEmpty(m.name);
      const id = nonEmpty(m.id);
      if (name !== undefined) out.name = name;
      if (id !== undefined) out.skillKey = id;
      return out;
    } catch {
      return {};
    }
  }
  const frontmatter = readFrontmatter(text);
  if (frontmatter === undefined) return {};
  const out: CollectedSkill['identity'] = {};
  const name = nonEmpty(frontmatter.name);
  if (name !== undefined) out.name = name;
  let metadata = frontmatter.metadata;
  if (typeof metadata === 'string') {
    try {
      metadata = JSON.parse(metadata);
    } catch {
      metadata = undefined;
    }
  }
  const openclaw =
    typeof metadata === 'object' && metadata !== null
      ? (metadata as Record<string, unknown>).openclaw
      : undefined;
  const skillKey =
    typeof openclaw === 'object' && openclaw !== null
      ? nonEmpty((openclaw as Record<string, unknown>).skillKey)
      : undefined;
  if (skillKey !== undefined) out.skillKey = skillKey;
  return out;
}

// The YAML frontmatter block of a markdown file (`---` lines), parsed without aliases; undefined when absent or bad.
function readFrontmatter(text: string): Record<string, unknown> | undefined {
  const match = /^\uFEFF?---[ \t]*\r?\n([\s\S]{0,65536}?)\r?\n---[ \t]*(?:\r?\n|$)/.exec(text);
  if (match === null) return undefined;
  try {
    const value: unknown = parseYaml(match[1]!, { maxAliasCount: 0, prettyErrors: false });
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function nonEmpty(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

async function isDir(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

function fileExistsSync(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** Tells whether `path` exists as a directory (symlinks followed); synchronous, for the watch callbacks. */
export function dirExistsSync(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** Tells whether anything exists at `path`. */
export function pathExistsSync(path: string): boolean {
  return existsSync(path);
}
