// A hand-written, case-insensitive Aho–Corasick automaton (spec 30 §A6.2). One pass over a text marks the
// candidate rules (`Prefilter`) or records literal positions (`LiteralIndex`, used for exact literal-anchored regex
// scanning). ASCII transitions are a dense DFA over character classes with the "has output" bit folded into each
// entry; other code units fall back to per-state maps with failure links.

let foldTable: Uint16Array | undefined;

/**
 * Case-folds one UTF-16 code unit the way RE2's case-insensitive matching can reach it: lower(upper(c)) when both
 * are single units (so `ſ` → `s`, `K` (Kelvin) → `k`), ASCII on a fast path.
 */
export function foldUnit(c: number): number {
  if (c < 128) return c >= 65 && c <= 90 ? c + 32 : c;
  if (!foldTable) {
    foldTable = new Uint16Array(65536);
    for (let i = 0; i < 65536; i++) {
      const ch = String.fromCharCode(i);
      const upper = ch.toUpperCase();
      const lower = (upper.length === 1 ? upper : ch).toLowerCase();
      foldTable[i] = lower.length === 1 ? lower.charCodeAt(0) : i;
    }
  }
  return foldTable[c]!;
}

/** Case-folds a string unit by unit, the way the automaton reads text. */
export function foldString(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) out += String.fromCharCode(foldUnit(s.charCodeAt(i)));
  return out;
}

/** The compiled automaton shared by `Prefilter` and `LiteralIndex`. */
class Automaton {
  readonly states: number;
  readonly classes: Uint8Array;
  readonly width: number;
  readonly delta: Int32Array | Uint16Array;
  readonly wide: (Map<number, number> | undefined)[];
  readonly fail: Int32Array;
  readonly outStart: Int32Array;
  readonly outLen: Int32Array;
  /** Output literal ids per state (including those reached through failure links). */
  readonly out: Int32Array;
  readonly literalLength: Int32Array;

  constructor(literals: readonly string[]) {
    const folded = literals.map(foldString);
    // Character classes: every ASCII unit that appears in a literal gets its own class; the rest share class 0.
    const classes = new Uint8Array(128);
    let width = 1;
    for (const lit of folded) {
      for (let i = 0; i < lit.length; i++) {
        const c = lit.charCodeAt(i);
        if (c < 128 && classes[c] === 0) classes[c] = width++;
      }
    }
    // Upper-case ASCII reads as its lower-case class.
    for (let c = 65; c <= 90; c++) classes[c] = classes[c + 32]!;
    this.classes = classes;
    this.width = width;
    // 1. Trie (keys: class for ASCII, 128 + unit for others).
    const children: Map<number, number>[] = [new Map()];
    const outs: number[][] = [[]];
    const lengths = new Int32Array(folded.length);
    folded.forEach((lit, id) => {
      lengths[id] = lit.length;
      if (lit.length === 0) return;
      let s = 0;
      for (let i = 0; i < lit.length; i++) {
        const c = lit.charCodeAt(i);
        const key = c < 128 ? classes[c]! : 128 + c;
        let next = children[s]!.get(key);
        if (next === undefined) {
          next = children.length;
          children.push(new Map());
          outs.push([]);
          children[s]!.set(key, next);
        }
        s = next;
      }
      outs[s]!.push(id);
    });
    this.literalLength = lengths;
    const n = children.length;
    this.states = n;
    // 2. Failure links (BFS) and the dense DFA over classes.
    const fail = new Int32Array(n);
    const next = new Int32Array(n * width);
    const wide: (Map<number, number> | undefined)[] = new Array(n).fill(undefined);
    const order: number[] = [];
    for (let k = 1; k < width; k++) {
      const child = children[0]!.get(k);
      next[k] = child ?? 0;
      if (child !== undefined) order.push(child);
    }
    for (const [key, child] of children[0]!) {
      if (key >= 128) {
        order.push(child);
        const w = wide[0] ?? new Map<number, number>();
        wide[0] = w;
        w.set(key - 128, child);
      }
    }
    const wideStep = (state: number, c: number): number => {
      let s = state;
      for (;;) {
        const t = wide[s]?.get(c);
        if (t !== undefined) return t;
        if (s === 0) return 0;
        s = fail[s]!;
      }
    };
    for (let qi = 0; qi < order.length; qi++) {
      const s = order[qi]!;
      const f = fail[s]!;
      for (const r of outs[f]!) if (!outs[s]!.includes(r)) outs[s]!.push(r);
      for (let k = 1; k < width; k++) {
        const child = children[s]!.get(k);
        if (child !== undefined) {
          next[s * width + k] = child;
          fail[child] = next[f * width + k]!;
          order.push(child);
        } else {
          next[s * width + k] = next[f * width + k]!;
        }
      }
      for (const [key, child] of children[s]!) {
        if (key < 128) continue;
        const w = wide[s] ?? new Map<number, number>();
        wide[s] = w;
        w.set(key - 128, child);
        fail[child] = wideStep(f, key - 128);
        order.push(child);
      }
    }
    // 3. Renumber states breadth-first (shallow states, where text spends its time, share cache lines), encode the
    // output bit into every transition and flatten outputs.
    const rank = new Int32Array(n);
    const byRank = [0, ...order];
    byRank.forEach((state, r) => {
      rank[state] = r;
    });
    const delta = n * 2 + 1 < 65536 ? new Uint16Array(n * width) : new Int32Array(n * width);
    for (let r = 0; r < n; r++) {
      const s = byRank[r]!;
      for (let k = 0; k < width; k++) {
        const t = next[s * width + k]!;
        delta[r * width + k] = (rank[t]! << 1) | (outs[t]!.length > 0 ? 1 : 0);
      }
    }
    const outStart = new Int32Array(n);
    const outLen = new Int32Array(n);
    let total = 0;
    for (let s = 0; s < n; s++) total += outs[s]!.length;
    const out = new Int32Array(total);
    let k = 0;
    for (let r = 0; r < n; r++) {
      const s = byRank[r]!;
      outStart[r] = k;
      outLen[r] = outs[s]!.length;
      for (const x of outs[s]!) out[k++] = x;
    }
    const wideRanked: (Map<number, number> | undefined)[] = new Array(n).fill(undefined);
    const failRanked = new Int32Array(n);
    for (let r = 0; r < n; r++) {
      const s = byRank[r]!;
      failRanked[r] = rank[fail[s]!]!;
      const w = wide[s];
      if (w) wideRanked[r] = new Map([...w].map(([c, t]) => [c, rank[t]!]));
    }
    this.delta = delta;
    this.wide = wideRanked;
    this.fail = failRanked;
    this.outStart = outStart;
    this.outLen = outLen;
    this.out = out;
  }

  /** Follows a non-ASCII (folded) unit from `state`; returns the encoded transition. */
  wideStep(state: number, c: number): number {
    let s = state;
    for (;;) {
      const t = this.wide[s]?.get(c);
      if (t !== undefined) return (t << 1) | (this.outLen[t]! > 0 ? 1 : 0);
      if (s === 0) return 0;
      s = this.fail[s]!;
    }
  }
}

/** Prefilter literals longer than this enter the automaton by their prefix. */
const KEY_CHARS = 8;

/** Whether folded `full` occurs in `text` at `start` (case-folded comparison). */
function matchesAt(text: string, start: number, full: string): boolean {
  if (start + full.length > text.length) return false;
  for (let j = KEY_CHARS; j < full.length; j++) {
    if (foldUnit(text.charCodeAt(start + j)) !== full.charCodeAt(j)) return false;
  }
  return true;
}

/** Occurrences of indexed literals in one text: per literal, a count and (up to a cap) start offsets. */
export type LiteralHits = {
  readonly counts: Int32Array;
  readonly positions: readonly number[][];
  readonly cap: number;
};

/**
 * A case-insensitive literal index: one pass over a text counts every literal, records up to `cap` start offsets
 * each, and (optionally) marks the rules whose prefilter literals occur. The returned hits are a view into reused
 * buffers, valid until the next `scan`.
 */
export class LiteralIndex {
  /** Number of distinct literals. */
  readonly size: number;
  /** Number of automaton states. */
  readonly states: number;
  readonly #a: Automaton;
  readonly #ids: Map<string, number>;
  readonly #ruleStart: Int32Array;
  readonly #ruleLen: Int32Array;
  readonly #rules: Int32Array;
  readonly #counts: Int32Array;
  readonly #positions: number[][];
  readonly #touched: Int32Array;
  #touchedLen = 0;
  readonly #litStamp: Uint32Array;
  readonly #long: ({ full: string; rule: number }[] | undefined)[];
  /** Per automaton state: the `presence` pass that last read its outputs (allocated on first use). */
  #stateStamp: Uint32Array | undefined;
  #stamp = 0;

  /**
   * Builds the index over anchor literals and `[literal, rule]` prefilter pairs. Prefilter literals longer than
   * `KEY_CHARS` enter the automaton by their prefix and are verified in place on a hit, which keeps the automaton
   * (read once per character of every scanned text) small.
   */
  constructor(literals: Iterable<string>, rulePairs: readonly (readonly [string, number])[] = []) {
    this.#ids = new Map();
    const rulesOf: number[][] = [];
    const longOf: { full: string; rule: number }[][] = [];
    const add = (f: string): number => {
      let id = this.#ids.get(f);
      if (id === undefined) {
        id = this.#ids.size;
        this.#ids.set(f, id);
        rulesOf.push([]);
        longOf.push([]);
      }
      return id;
    };
    for (const l of literals) {
      const f = foldString(l);
      if (f.length > 0) add(f);
    }
    for (const [l, rule] of rulePairs) {
      const f = foldString(l);
      if (f.length === 0) continue;
      if (f.length <= KEY_CHARS) {
        const id = add(f);
        if (!rulesOf[id]!.includes(rule)) rulesOf[id]!.push(rule);
      } else {
        const id = add(f.slice(0, KEY_CHARS));
        if (!longOf[id]!.some((x) => x.full === f && x.rule === rule)) longOf[id]!.push({ full: f, rule });
      }
    }
    this.size = this.#ids.size;
    this.#a = new Automaton([...this.#ids.keys()]);
    this.states = this.#a.states;
    this.#ruleStart = new Int32Array(this.size);
    this.#ruleLen = new Int32Array(this.size);
    this.#rules = new Int32Array(rulesOf.reduce((n, r) => n + r.length, 0));
    let k = 0;
    rulesOf.forEach((rs, id) => {
      this.#ruleStart[id] = k;
      this.#ruleLen[id] = rs.length;
      for (const r of rs) this.#rules[k++] = r;
    });
    this.#long = longOf.map((l) => (l.length > 0 ? l : undefined));
    this.#counts = new Int32Array(this.size);
    this.#positions = Array.from({ length: this.size }, () => []);
    this.#touched = new Int32Array(this.size);
    this.#litStamp = new Uint32Array(this.size);
  }

  /** Returns the id of a literal, or undefined. */
  idOf(literal: string): number | undefined {
    return this.#ids.get(foldString(literal));
  }

  /** Returns the length of literal `id`. */
  lengthOf(id: number): number {
    return this.#a.literalLength[id]!;
  }

  /**
   * Scans `text` once for literal presence only and returns the ids of the literals that occur (each once, in
   * first-seen order). Prefilter literals entered by their prefix are reported by that prefix's id (unverified).
   * Cheaper than `scan`: an automaton state's outputs are read only on its first visit.
   */
  presence(text: string): number[] {
    const a = this.#a;
    const { delta, classes, width, outStart, outLen, out } = a;
    if (++this.#stamp >= 0xffffffff) {
      this.#litStamp.fill(0);
      this.#stateStamp?.fill(0);
      this.#stamp = 1;
    }
    const own = this.#stamp;
    const litStamp = this.#litStamp;
    this.#stateStamp ??= new Uint32Array(a.states);
    const stateStamp = this.#stateStamp;
    const found: number[] = [];
    let s = 0;
    for (let i = 0, n = text.length; i < n; i++) {
      const c = text.charCodeAt(i);
      const t = c < 128 ? delta[s * width + classes[c]!]! : a.wideStep(s, foldUnit(c));
      s = t >> 1;
      if ((t & 1) === 0 || stateStamp[s] === own) continue;
      stateStamp[s] = own;
      for (let j = outStart[s]!, end = j + outLen[s]!; j < end; j++) {
        const lit = out[j]!;
        if (litStamp[lit] !== own) {
          litStamp[lit] = own;
          found.push(lit);
        }
      }
    }
    return found;
  }

  /**
   * Scans `text` once: counts every literal, records up to `cap` start offsets each, and sets
   * `marks[rule] = stamp` for rules whose prefilter literals occur.
   */
  scan(text: string, cap: number, marks?: Uint32Array, stamp = 0): LiteralHits {
    const a = this.#a;
    const { delta, classes, width, outStart, outLen, out, literalLength } = a;
    const counts = this.#counts;
    const positions = this.#positions;
    const touched = this.#touched;
    for (let i = 0; i < this.#touchedLen; i++) {
      const id = touched[i]!;
      counts[id] = 0;
      positions[id]!.length = 0;
    }
    let nTouched = 0;
    if (++this.#stamp >= 0xffffffff) {
      this.#litStamp.fill(0);
      this.#stateStamp?.fill(0);
      this.#stamp = 1;
    }
    const own = this.#stamp;
    const litStamp = this.#litStamp;
    const ruleStart = this.#ruleStart;
    const ruleLen = this.#ruleLen;
    const rules = this.#rules;
    let s = 0;
    for (let i = 0, n = text.length; i < n; i++) {
      const c = text.charCodeAt(i);
      const t = c < 128 ? delta[s * width + classes[c]!]! : a.wideStep(s, foldUnit(c));
      s = t >> 1;
      if ((t & 1) === 0) continue;
      for (let j = outStart[s]!, end = j + outLen[s]!; j < end; j++) {
        const lit = out[j]!;
        const k = ++counts[lit]!;
        if (k === 1) touched[nTouched++] = lit;
        if (k <= cap) positions[lit]!.push(i + 1 - literalLength[lit]!);
        if (marks) {
          if (litStamp[lit] !== own) {
            litStamp[lit] = own;
            for (let q = ruleStart[lit]!, qe = q + ruleLen[lit]!; q < qe; q++) marks[rules[q]!] = stamp;
          }
          const long = this.#long[lit];
          if (long !== undefined) {
            const start = i + 1 - KEY_CHARS;
            for (const { full, rule } of long) {
              if (marks[rule] !== stamp && matchesAt(text, start, full)) marks[rule] = stamp;
            }
          }
        }
      }
    }
    this.#touchedLen = nTouched;
    return { counts, positions, cap };
  }
}
