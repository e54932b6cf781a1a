// Gates for the patterns a large text would make scan in full (no necessary literal, or literals too frequent in
// it to anchor on): one RE2.Set pass over the whole text tells which of them can match anywhere; the others are
// skipped. A set pass costs about what one pattern's pass costs, so two or more gated patterns already gain.
//
// Exact: a windowed scan only finds matches the whole text has (spans are bounded and the text around a window
// still counts as context), so a pattern the set does not report cannot be found by the scan either.
//
// Which patterns end up scanned in full depends on the text, so sets are built per combination and cached per
// policy. Building one costs about 1 ms per pattern, so a new combination is only built for a text large enough to
// repay it at once; smaller texts use a cached set that covers them. RE2 sets cannot bail out of a thrashing DFA,
// so a combination whose passes turn out slow is not used again.
import { performance } from 'node:perf_hooks';
import RE2 from 're2';
import type { PolicyInternal } from './_compiled.ts';
import { type Matcher, setSourceOf } from './regex.ts';
import type { ScanText } from './scan-text.ts';

type Re2Set = { match(input: string | Buffer): number[] };
const Re2SetCtor = (RE2 as unknown as { Set: new (patterns: string[], flags?: string) => Re2Set }).Set;

/** Texts at least this long (UTF-16 units) have the patterns they would scan in full gated by a cached set. */
export const GATE_MIN_CHARS = 16 * 1024;

/** Texts at least this long may build a set for a combination not seen before. */
export const GATE_BUILD_MIN_CHARS = 256 * 1024;

/** Sets kept per policy (the oldest is dropped first); each holds a DFA cache of up to a few MiB. */
const MAX_SETS = 8;

/** Patterns per set: more would mostly add RE2 compile time. */
const MAX_MEMBERS = 32;

/** A set pass slower than this (per byte) marks its combination as slow (a typical pass takes 1.5–2.5 ns). */
const SLOW_NS_PER_BYTE = 10;

type Entry = {
  matchers: readonly Matcher[];
  members: ReadonlySet<Matcher>;
  set: Re2Set | null;
  /** Passes run; the first builds RE2's DFA as it goes and is not timed. */
  runs: number;
  /** Consecutive slow passes. */
  slowRuns: number;
  /** Two passes in a row ran slow (or RE2 ran out of memory): the combination is not used again. */
  slow: boolean;
};

type Cache = { entries: Map<string, Entry>; passes: number };

const caches = new WeakMap<PolicyInternal, Cache>();
const ids = new WeakMap<Matcher, number>();
let nextId = 0;

/**
 * Returns which of `candidates` (two or more patterns the text would scan in full) may match in `text`, or
 * undefined when no set could be used: then every candidate is scanned as usual.
 */
export function gatePatterns(
  policy: PolicyInternal,
  candidates: readonly Matcher[],
  text: ScanText,
): ReadonlySet<Matcher> | undefined {
  if (candidates.length < 2 || candidates.length > MAX_MEMBERS) return undefined;
  let cache = caches.get(policy);
  if (!cache) {
    cache = { entries: new Map(), passes: 0 };
    caches.set(policy, cache);
  }
  const key = keyOf(candidates);
  let entry = cache.entries.get(key) ?? covering(cache, candidates);
  if (!entry) {
    if (text.text.length < GATE_BUILD_MIN_CHARS) return undefined;
    entry = build(candidates);
    if (cache.entries.size >= MAX_SETS) cache.entries.delete(cache.entries.keys().next().value as string);
    cache.entries.set(key, entry);
  }
  if (!entry.set || entry.slow) return undefined;
  let found: number[];
  cache.passes++;
  const t0 = performance.now();
  try {
    found = entry.set.match(text.buf);
  } catch {
    // RE2 ran out of DFA memory: never try this combination again.
    entry.slow = true;
    return undefined;
  }
  const ns = (performance.now() - t0) * 1e6;
  // A busy machine can stall one pass; a combination whose DFA thrashes is slow every time.
  if (entry.runs++ > 0) {
    entry.slowRuns = ns > SLOW_NS_PER_BYTE * text.buf.length ? entry.slowRuns + 1 : 0;
    if (entry.slowRuns >= 2) entry.slow = true;
  }
  const open = new Set<Matcher>();
  for (const i of found) open.add(entry.matchers[i]!);
  // Candidates the set does not cover (a covering set was used) stay open.
  for (const m of candidates) if (!entry.members.has(m)) open.add(m);
  return open;
}

// --- internal ---

function idOf(m: Matcher): number {
  let id = ids.get(m);
  if (id === undefined) {
    id = nextId++;
    ids.set(m, id);
  }
  return id;
}

function keyOf(matchers: readonly Matcher[]): string {
  return matchers
    .map(idOf)
    .sort((a, b) => a - b)
    .join(',');
}

/** A cached usable set that covers every candidate, if any. */
function covering(cache: Cache, candidates: readonly Matcher[]): Entry | undefined {
  for (const entry of cache.entries.values()) {
    if (!entry.set || entry.slow || entry.members.size < candidates.length) continue;
    let all = true;
    for (const m of candidates) {
      if (!entry.members.has(m)) {
        all = false;
        break;
      }
    }
    if (all) return entry;
  }
  return undefined;
}

function build(candidates: readonly Matcher[]): Entry {
  const matchers: Matcher[] = [];
  const sources: string[] = [];
  for (const m of candidates) {
    const source = setSourceOf(m);
    if (source === undefined) continue;
    matchers.push(m);
    sources.push(source);
  }
  const members = new Set(matchers);
  if (matchers.length < 2) return { matchers, members, set: null, runs: 0, slowRuns: 0, slow: false };
  try {
    return { matchers, members, set: new Re2SetCtor(sources, 'u'), runs: 0, slowRuns: 0, slow: false };
  } catch {
    return { matchers, members, set: null, runs: 0, slowRuns: 0, slow: false };
  }
}

/** How many gate sets a policy has built and how many gate passes ran (tests check the gate is exercised). */
export function gateStats(policy: PolicyInternal): { sets: number; passes: number } {
  const cache = caches.get(policy);
  return { sets: cache?.entries.size ?? 0, passes: cache?.passes ?? 0 };
}
