// Literal presence for one text in one native pass: an RE2.Set over every prefilter literal (→ rules) and every
// necessary literal of every bounded pattern (→ anchors). A hand-written Aho–Corasick index (`LiteralIndex`) is the
// fallback if RE2 ever reports it ran out of DFA memory. Anchor positions (for literal-anchored regex scanning of
// large texts) come from a second, small Aho–Corasick automaton over the (≤ 6-char) anchor literals only.
import RE2 from 're2';
import { foldString, type LiteralHits, LiteralIndex } from './prefilter.ts';

type Re2Set = { match(input: string | Buffer): number[] };
const Re2SetCtor = (RE2 as unknown as { Set: new (patterns: string[], flags?: string) => Re2Set }).Set;

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
  #fallback: LiteralIndex | undefined;
  /** Aho–Corasick over the anchor literals only (short), for occurrence positions in large texts. */
  readonly #anchorIndex: LiteralIndex;
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
    for (const a of anchors) {
      const id = add(a);
      if (id !== undefined && !anchorIds.includes(id)) anchorIds.push(id);
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
    this.#anchorIndex = new LiteralIndex(anchorIds.map((id) => this.#literals[id]!));
    this.#toAnchor = new Int32Array(this.size).fill(-1);
    for (const id of anchorIds) this.#toAnchor[id] = this.#anchorIndex.idOf(this.#literals[id]!)!;
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
    if (++this.#stamp >= 0xffffffff) {
      this.#present.fill(0);
      this.#stamp = 1;
    }
    const token = this.#stamp;
    const present = this.#present;
    let ids: Iterable<number> | undefined;
    if (this.#set) {
      try {
        ids = this.#set.match(bytes ?? text);
      } catch {
        ids = undefined;
      }
    }
    if (!ids) {
      this.#fallback ??= new LiteralIndex(this.#literals);
      const hits = this.#fallback.scan(text, 0);
      const found: number[] = [];
      for (let i = 0; i < hits.counts.length; i++) if (hits.counts[i]! > 0) found.push(i);
      ids = found;
    }
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
    return this.#anchorIndex.scan(text, cap);
  }

  /** Returns the occurrence count and start offsets of literal `id` in `hits` (count 0 for non-anchors). */
  occurrences(hits: LiteralHits, id: number): { count: number; starts: readonly number[]; length: number } {
    const a = this.#toAnchor[id]!;
    if (a < 0) return { count: 0, starts: [], length: 0 };
    return { count: hits.counts[a]!, starts: hits.positions[a]!, length: this.#literals[id]!.length };
  }
}
