// Block/allow lists (spec 30 §A3.4): compiled once per `setLists`, consulted before rules.
import { compileGlob, type Glob } from './_glob.ts';
import type { ListEntry, ListSnapshot } from './types.ts';

/** A compiled list entry. */
export type CompiledListEntry = ListEntry & { glob: Glob };

/** A compiled, immutable list snapshot. */
export type CompiledLists = { readonly entries: readonly CompiledListEntry[]; readonly size: number };

/** Compiles a snapshot (or a bare entry array); entries with bad globs are skipped. */
export function compileLists(snapshot: ListSnapshot | readonly ListEntry[] | undefined): CompiledLists {
  const list = Array.isArray(snapshot) ? snapshot : ((snapshot as ListSnapshot | undefined)?.entries ?? []);
  const entries: CompiledListEntry[] = [];
  for (const e of list as readonly ListEntry[]) {
    if (!e || typeof e.pattern !== 'string' || e.pattern === '') continue;
    if (e.action !== 'block' && e.action !== 'allow') continue;
    if (e.kind !== 'tool' && e.kind !== 'skill' && e.kind !== 'mcp' && e.kind !== 'command') continue;
    let glob: Glob;
    try {
      glob = compileGlob(e.pattern, 'name');
    } catch {
      continue;
    }
    entries.push(Object.freeze({ ...e, glob }));
  }
  return Object.freeze({ entries: Object.freeze(entries), size: entries.length });
}

const KIND_RANK = { mcp: 0, tool: 1, skill: 2, command: 3 } as const;

/** Returns the active entries (not expired, global or for this connector). */
export function activeEntries(
  lists: CompiledLists,
  nowMs: number,
  connector: string | undefined,
): CompiledListEntry[] {
  const out: CompiledListEntry[] = [];
  for (const e of lists.entries) {
    if (e.expiresAt !== undefined && e.expiresAt !== null && e.expiresAt <= nowMs) continue;
    if (e.connector !== undefined && e.connector !== null && e.connector !== connector) continue;
    out.push(e);
  }
  return out;
}

/**
 * Picks the winning entry among matches: block beats allow; then connector-scoped beats global; then MCP beats
 * tool beats skill beats command.
 */
export function pickWinner(matches: readonly CompiledListEntry[]): CompiledListEntry | undefined {
  let best: CompiledListEntry | undefined;
  for (const m of matches) {
    if (!best || compare(m, best) < 0) best = m;
  }
  return best;
}

function compare(a: CompiledListEntry, b: CompiledListEntry): number {
  const action = (a.action === 'block' ? 0 : 1) - (b.action === 'block' ? 0 : 1);
  if (action !== 0) return action;
  const scope = (a.connector ? 0 : 1) - (b.connector ? 0 : 1);
  if (scope !== 0) return scope;
  return KIND_RANK[a.kind] - KIND_RANK[b.kind];
}
