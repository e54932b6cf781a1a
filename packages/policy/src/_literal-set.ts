// Literal presence for one text in one pass over every prefilter literal (→ rules) and every necessary literal of
// every bounded pattern (→ anchors): an RE2.Set (native) for ordinary texts, a hand-written Aho–Corasick index
// (`LiteralIndex`) for large ones and whenever RE2 reports it ran out of DFA memory. Anchor positions (for literal-anchored regex scanning of
// large texts) come from a second, small Aho–Corasick automaton over the (≤ 6-char) anchor literals only.
import RE2 from 're2';
import { foldString, type LiteralHits, LiteralIndex } from './prefilter.ts';

type Re2Set = { match(input: string | Buffer): number[] };
const Re2SetCtor = (RE2 as unknown as { Set: new (patterns: string[], flags?: string) => Re2Set }).Set;

/** Occurrences of one literal: a count (> cap when capped) and up to `cap` start offsets. */
export type Occurrence = { count: number; starts: readonly number[]; length: number };

/** Per-literal occurrences in one text. */
export type Occurrences = {
  readonly cap: number;
  /** Literal `id`'s occurrences; the count may stop at `limit + 1` ("more than limit"; default: `cap`). */
  get(id: number, limit?: number): Occurrence;
};

const NO_OCCURRENCE: Occurrence = { count: 0, starts: [], length: 0 };

/** Texts at least this long are matched by the automaton instead of the RE2 set (see `LiteralSet.match`). */
export const AUTOMATON_MIN_CHARS = 64 * 1024;

/** Occurrence offsets recorded per literal for literal-anchored region scanning of a text this long. */
export function occurrenceCap(length: number): number {
  return Math.min(4096, Math.ceil(length / 256));
}

function escapeRe2(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');
}

/** Literal presence and (on demand) positions over one generation's literals. */
export class LiteralSet {
  /** Number of distinct (folded) literals. */
  readonly size: number;
  readonly #ids: Map<string, number>;
  readonly #literals: string[];
  readonly #rulesOf: number[][];
  readonly #set: Re2Set | undefined;
  readonly #fallback: LiteralIndex;
  /** The last automaton pass of `match` (large texts), for `largeOccurrences`. */
  #lastScan: { text: string; hits: LiteralHits } | undefined;
  /** Aho–Corasick over the anchor literals only (short), for occurrence positions in large texts. */
  #anchorIndex: LiteralIndex | undefined;
  readonly #anchorIds: number[];
  /** Set id → anchor-index id (−1 when the literal is not an anchor). */
  readonly #toAnchor: Int32Array;
  readonly #present: Uint32Array;
  #stamp = 0;

  /** Builds the set over anchor literals and `[literal, rule]` prefilter pairs. */
  constructor(anchors: Iterable<string>, rulePairs: readonly (readonly [string, number])[]) {
    this.#ids = new Map();
    this.#literals = [];
    this.#rulesOf = [];
    const add = (l: string): number | undefined => {
      const f = foldString(l);
      if (f.length === 0) return undefined;
      let id = this.#ids.get(f);
      if (id === undefined) {
        id = this.#literals.length;
        this.#ids.set(f, id);
        this.#literals.push(f);
        this.#rulesOf.push([]);
      }
      return id;
    };
    const anchorIds: number[] = [];
    const isAnchor = new Set<number>();
    for (const a of anchors) {
      const id = add(a);
      if (id !== undefined && !isAnchor.has(id)) {
        isAnchor.add(id);
        anchorIds.push(id);
      }
    }
    for (const [l, rule] of rulePairs) {
      const id = add(l);
      if (id !== undefined && !this.#rulesOf[id]!.includes(rule)) this.#rulesOf[id]!.push(rule);
    }
    this.size = this.#literals.length;
    let set: Re2Set | undefined;
    if (this.size > 0) {
      try {
        set = new Re2SetCtor(this.#literals.map(escapeRe2), 'iu');
      } catch {
        set = undefined;
      }
    }
    this.#set = set;
    // Built now rather than on the first large text (~15 ms for the bundled pack): no latency spike later.
    this.#fallback = new LiteralIndex(this.#literals);
    // The anchor automaton is built on first use (non-ASCII texts ≥ 32 KiB); its ids follow `anchorIds`' order.
    this.#anchorIds = anchorIds;
    this.#toAnchor = new Int32Array(this.size).fill(-1);
    anchorIds.forEach((id, k) => {
      this.#toAnchor[id] = k;
    });
    this.#present = new Uint32Array(this.size);
  }

  /** Returns the id of a literal, or undefined. */
  idOf(literal: string): number | undefined {
    return this.#ids.get(foldString(literal));
  }

  /**
   * Finds which literals occur in `text` (bytes may be given to save a conversion), marks `marks[rule] = stamp` for
   * rules whose prefilter literals occur, and returns a presence stamp: literal `id` is present iff
   * `present[id] === result`.
   */
  scan(
    text: string,
    bytes: Buffer | undefined,
    marks: Uint32Array | undefined,
    stamp: number,
  ): { present: Uint32Array; token: number } {
    return this.apply(this.match(text, bytes), marks, stamp);
  }

  /** Returns the ids of the literals that occur in `text` (a fresh array, safe to keep). */
  match(text: string, bytes?: Buffer): readonly number[] {
    // RE2's set DFA is the fastest on ordinary text, but on large high-entropy text (base64, minified code) the
    // states for "which literals matched so far" multiply until its cache thrashes: 1 MiB of base64 took ~150 ms
    // against ~6 ms for the automaton, whose cost does not depend on the text. Large texts take the automaton,
    // which records occurrence offsets in the same pass (see `largeOccurrences`).
    if (this.#set && text.length < AUTOMATON_MIN_CHARS) {
      try {
        return this.#set.match(bytes ?? text);
      } catch {
        // fall through to the automaton
      }
    }
    const hits = this.#fallback.scan(text, occurrenceCap(text.length));
    this.#lastScan = { text, hits };
    const found: number[] = [];
    for (let i = 0; i < hits.counts.length; i++) if (hits.counts[i]! > 0) found.push(i);
    return found;
  }

  /**
   * Occurrences of every literal in `text`, from the automaton pass `match` made over it (texts of at least
   * AUTOMATON_MIN_CHARS), capped at `occurrenceCap`; undefined when the last such pass was over another text.
   * Read them before the next `match`.
   */
  largeOccurrences(text: string): Occurrences | undefined {
    const last = this.#lastScan;
    if (last === undefined || last.text !== text) return undefined;
    const { counts, positions, cap } = last.hits;
    const literals = this.#literals;
    return {
      cap,
      get: (id) => ({ count: counts[id]!, starts: positions[id]!, length: literals[id]!.length }),
    };
  }

  /** Marks literal ids (from `match`) present and their rules in `marks`; returns the presence stamp (see `scan`). */
  apply(
    ids: readonly number[],
    marks: Uint32Array | undefined,
    stamp: number,
  ): { present: Uint32Array; token: number } {
    if (++this.#stamp >= 0xffffffff) {
      this.#present.fill(0);
      this.#stamp = 1;
    }
    const token = this.#stamp;
    const present = this.#present;
    for (const id of ids) {
      present[id] = token;
      if (marks) for (const r of this.#rulesOf[id]!) marks[r] = stamp;
    }
    return { present, token };
  }

  /**
   * Scans `text` once for every anchor literal, recording up to `cap` start offsets each; read the result with
   * `occurrences` before the next call.
   */
  scanAnchors(text: string, cap: number): LiteralHits {
    this.#anchorIndex ??= new LiteralIndex(this.#anchorIds.map((id) => this.#literals[id]!));
    return this.#anchorIndex.scan(text, cap);
  }

  /**
   * Occurrences of literals in an ASCII-only text, found lazily per literal with native `indexOf` on its lower-cased
   * copy (exact: on ASCII text the fold is ASCII lower-casing and offsets are unchanged). Only literals the last
   * `scan` of the same text reported present are searched; each search stops after `cap + 1` occurrences.
   */
  asciiOccurrences(text: string, present: Uint32Array, token: number, cap: number): Occurrences {
    const literals = this.#literals;
    const toAnchor = this.#toAnchor;
    let lower: string | undefined;
    // Per literal: the occurrences found so far and where the search resumes (−1: all found).
    const memo = new Map<number, { occ: Occurrence & { starts: number[] }; from: number }>();
    // Searching literal by literal wins when few anchor literals occur; on text where many occur (base64, hex
    // dumps: every short literal somewhere) one automaton pass over all of them is cheaper. `indexOf` reads about
    // 20 characters in the time the automaton reads one, so the searches stop once they have read the text 24
    // times over (1 MiB of prose and code: ~11; of base64: ~66), and the automaton answers the rest.
    const budget = text.length * 24;
    let scanned = 0;
    let all: Occurrences | undefined;
    const self = this;
    return {
      cap,
      get(id: number, limit = cap): Occurrence {
        if (toAnchor[id]! < 0) return NO_OCCURRENCE;
        const lit = literals[id]!;
        if (present[id] !== token) return { count: 0, starts: [], length: lit.length };
        if (all) return all.get(id, limit);
        if (scanned > budget) {
          all = self.anchorOccurrences(text, cap);
          return all.get(id, limit);
        }
        let entry = memo.get(id);
        if (!entry) {
          entry = { occ: { count: 0, starts: [], length: lit.length }, from: 0 };
          memo.set(id, entry);
        }
        const occ = entry.occ;
        // Search on until more than `limit` are known (count > limit means "more than limit") or none are left.
        if (entry.from >= 0 && occ.count <= limit) {
          lower ??= text.toLowerCase();
          const from = entry.from;
          let i = lower.indexOf(lit, from);
          while (i >= 0) {
            occ.count++;
            if (occ.count <= cap) occ.starts.push(i);
            if (occ.count > limit) break;
            i = lower.indexOf(lit, i + 1);
          }
          entry.from = i < 0 ? -1 : i + 1;
          scanned += (i < 0 ? text.length : i) - from;
        }
        return occ;
      },
    };
  }

  /** Occurrences of the anchor literals in any text, from one Aho–Corasick pass (see `scanAnchors`). */
  anchorOccurrences(text: string, cap: number): Occurrences {
    const hits = this.scanAnchors(text, cap);
    return { cap, get: (id) => this.occurrences(hits, id) };
  }

  /** Returns the occurrence count and start offsets of literal `id` in `hits` (count 0 for non-anchors). */
  occurrences(hits: LiteralHits, id: number): Occurrence {
    const a = this.#toAnchor[id]!;
    if (a < 0) return NO_OCCURRENCE;
    return { count: hits.counts[a]!, starts: hits.positions[a]!, length: this.#literals[id]!.length };
  }
}
