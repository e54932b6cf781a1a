import { readdirSync, readFileSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LineCounter } from 'yaml';
import { type IssueSink, parseYamlTree } from './_pnode.ts';
import { PolicyError } from './errors.ts';
import { type RawPack, readPackTree } from './pack-schema.ts';
import type { PackSource } from './types.ts';

/** The largest pack file accepted, in bytes. */
export const MAX_PACK_BYTES = 1024 * 1024;
/** The most pack files one generation may load. */
export const MAX_PACK_FILES = 64;

const BUNDLED_DIR = fileURLToPath(new URL('../packs/default/', import.meta.url));

function isPackFile(name: string): boolean {
  return /\.ya?ml$/i.test(name) && !name.startsWith('.');
}

/** Reads the bundled default pack (`packages/policy/packs/default/*.yaml`, sorted by name), synchronously. */
export function loadBundledPacks(): PackSource[] {
  let names: string[];
  try {
    names = readdirSync(BUNDLED_DIR).filter(isPackFile).sort();
  } catch (cause) {
    throw new PolicyError('IO', `cannot read the bundled packs in ${BUNDLED_DIR}`, { cause });
  }
  return names.map((name) => {
    const path = join(BUNDLED_DIR, name);
    try {
      return { path, text: readFileSync(path, 'utf8'), bundled: true };
    } catch (cause) {
      throw new PolicyError('IO', `cannot read ${path}`, { cause });
    }
  });
}

/** Reads operator pack files: a `.yaml`/`.yml` file, or every such file directly in a directory (sorted). */
export async function readPackFiles(dirOrFile: string): Promise<PackSource[]> {
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(dirOrFile);
  } catch (cause) {
    throw new PolicyError('IO', `cannot read pack path ${dirOrFile}`, { cause });
  }
  const paths: string[] = [];
  if (info.isDirectory()) {
    let names: string[];
    try {
      names = await readdir(dirOrFile);
    } catch (cause) {
      throw new PolicyError('IO', `cannot list ${dirOrFile}`, { cause });
    }
    for (const name of names.filter(isPackFile).sort()) paths.push(join(dirOrFile, name));
  } else {
    paths.push(dirOrFile);
  }
  const out: PackSource[] = [];
  for (const path of paths) {
    try {
      out.push({ path, text: await readFile(path, 'utf8'), bundled: false });
    } catch (cause) {
      throw new PolicyError('IO', `cannot read ${path}`, { cause });
    }
  }
  return out;
}

/** Parses and validates one pack source, reporting problems to the sink. */
export function parsePackSource(source: PackSource, sink: IssueSink): RawPack | undefined {
  const bytes = Buffer.byteLength(source.text, 'utf8');
  if (bytes > MAX_PACK_BYTES) {
    sink.add('E_LIMIT', { file: source.path }, `file is ${bytes} bytes; the limit is ${MAX_PACK_BYTES}`);
    return undefined;
  }
  const tree = parseYamlTree(source.path, source.text, sink, new LineCounter());
  if (!tree) return undefined;
  return readPackTree(tree, source.path, source.bundled, sink);
}
