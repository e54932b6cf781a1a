// A small RE2-syntax walker: finds unsupported constructs, computes the maximum match span (in code points and in
// UTF-16 units), and extracts necessary literal factors (sets of case-folded ASCII strings such that every match
// contains one string of the set) for exact literal-anchored scanning. It is deliberately conservative: anything it
// does not understand is left for RE2 to reject, and anything it cannot prove yields no literals.

/** What the walker learned about a pattern. */
export type RegexSyntaxInfo = {
  /** Max match length in characters (code points; zero-width assertions count 0); Infinity when unbounded. */
  maxSpan: number;
  /** Max match length in UTF-16 code units (an atom that can match an astral character counts 2). */
  maxUnits: number;
  /** Number of capturing groups. */
  groups: number;
  /** Leading inline flags moved to RE2 flags (`i`, `s`). */
  flags: string;
  /** The pattern with its leading inline flag group removed. */
  body: string;
  /** Necessary literal factors (lowercase ASCII strings), longest shortest-string first. */
  factors: string[][];
};

/** The result of walking a pattern. */
export type RegexSyntaxResult =
  | { success: true; info: RegexSyntaxInfo }
  | { success: false; message: string };

const REPEAT = /^\{(\d+)(?:(,)(\d*))?\}/;
const MAX_EXACT = 128;
const MAX_EXACT_LEN = 64;
const MAX_FACTOR = 256;
const MIN_FACTOR_LEN = 2;
// Single characters rare enough in ordinary text to anchor on.
const RARE_CHARS = new Set(['@', '|', '`']);
const KEEP_FACTORS = 3;

class SyntaxFail extends Error {}

type Node = {
  span: number;
  units: number;
  /** Every string the node can match (folded ASCII), when small and known; '' allowed. */
  exact: string[] | null;
  /** Necessary factors of this node. */
  factors: string[][];
};

const EMPTY: Node = { span: 0, units: 0, exact: [''], factors: [] };

function foldAscii(c: string): string {
  return c >= 'A' && c <= 'Z' ? c.toLowerCase() : c;
}

function uniq(a: string[]): string[] {
  return [...new Set(a)];
}

function minLen(set: readonly string[]): number {
  let m = Number.POSITIVE_INFINITY;
  for (const s of set) if (s.length < m) m = s.length;
  return m;
}

/** Orders factors: longest shortest-literal first, then fewer literals. */
function better(a: readonly string[], b: readonly string[]): number {
  return minLen(b) - minLen(a) || a.length - b.length;
}

function usable(set: readonly string[] | null): set is string[] {
  if (set === null || set.length === 0 || set.length > MAX_FACTOR) return false;
  for (const x of set) if (x.length < MIN_FACTOR_LEN && !(x.length === 1 && RARE_CHARS.has(x))) return false;
  return true;
}

function keepBest(list: string[][]): string[][] {
  const seen = new Set<string>();
  const out: string[][] = [];
  for (const f of [...list].sort(better)) {
    const key = [...f].sort().join('\0');
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(f);
    if (out.length >= KEEP_FACTORS) break;
  }
  return out;
}

/** Walks `source` and returns its span, flags and literal factors, or why it is not allowed. */
export function analyzeRegex(source: string): RegexSyntaxResult {
  let flags = '';
  let body = source;
  const lead = /^\(\?([a-zA-Z]+)\)/.exec(source);
  if (lead) {
    for (const f of lead[1]!) {
      if (f !== 'i' && f !== 's') {
        return { success: false, message: `inline flag "${f}" is not supported (only (?i) and (?s))` };
      }
      if (!flags.includes(f)) flags += f;
    }
    body = source.slice(lead[0].length);
  }
  let pos = 0;
  let groups = 0;
  const s = body;

  const fail = (message: string): never => {
    throw new SyntaxFail(message);
  };

  const parseAlt = (depth: number): Node => {
    if (depth > 100) fail('nesting too deep');
    const branches = [parseConcat(depth)];
    while (pos < s.length && s[pos] === '|') {
      pos++;
      branches.push(parseConcat(depth));
    }
    if (branches.length === 1) return branches[0]!;
    let span = 0;
    let units = 0;
    let exact: string[] | null = [];
    const union: string[] = [];
    let unionOk = true;
    for (const b of branches) {
      span = Math.max(span, b.span);
      units = Math.max(units, b.units);
      if (exact && b.exact) exact.push(...b.exact);
      else exact = null;
      // Each branch's best necessary set joins the union factor.
      const own = usable(b.exact) ? b.exact : b.factors[0];
      if (own && unionOk) union.push(...own);
      else unionOk = false;
    }
    if (exact) {
      exact = uniq(exact);
      if (exact.length > MAX_EXACT) exact = null;
    }
    const factors: string[][] = [];
    if (unionOk) {
      const u = uniq(union);
      if (usable(u)) factors.push(u);
    }
    return { span, units, exact, factors };
  };

  const parseConcat = (depth: number): Node => {
    let span = 0;
    let units = 0;
    let run: string[] = [''];
    let allExact = true;
    const factors: string[][] = [];
    const flush = () => {
      if (usable(run)) factors.push(run);
      run = [''];
    };
    while (pos < s.length && s[pos] !== '|' && s[pos] !== ')') {
      const atom = parseQuantified(depth);
      span += atom.span;
      units += atom.units;
      if (atom.exact) {
        const next: string[] = [];
        let overflow = false;
        for (const a of run) {
          for (const b of atom.exact) {
            const joined = a + b;
            if (joined.length > MAX_EXACT_LEN) overflow = true;
            next.push(joined);
          }
          if (next.length > MAX_EXACT) overflow = true;
          if (overflow) break;
        }
        if (overflow) {
          allExact = false;
          flush();
          run = atom.exact.length <= MAX_EXACT ? [...atom.exact] : [''];
        } else run = uniq(next);
      } else {
        allExact = false;
        flush();
        factors.push(...atom.factors);
      }
    }
    const finalRun = run;
    flush();
    return { span, units, exact: allExact ? finalRun : null, factors: keepBest(factors) };
  };

  const parseQuantified = (depth: number): Node => {
    const atom = parseAtom(depth);
    let node = atom;
    for (;;) {
      const c = s[pos];
      let min: number;
      let max: number;
      if (c === '*') {
        min = 0;
        max = Number.POSITIVE_INFINITY;
        pos++;
      } else if (c === '+') {
        min = 1;
        max = Number.POSITIVE_INFINITY;
        pos++;
      } else if (c === '?') {
        min = 0;
        max = 1;
        pos++;
      } else if (c === '{') {
        const m = REPEAT.exec(s.slice(pos, pos + 24));
        if (!m) return node;
        pos += m[0].length;
        min = Number(m[1]);
        max = m[2] === undefined ? min : m[3] === '' ? Number.POSITIVE_INFINITY : Number(m[3]);
      } else {
        return node;
      }
      // Lazy / possessive suffix.
      if (s[pos] === '?') pos++;
      else if (s[pos] === '+') fail('possessive quantifiers are not supported');
      node = repeat(node, min, max);
    }
  };

  const repeat = (n: Node, min: number, max: number): Node => {
    const span = n.span === 0 ? 0 : n.span * max;
    const units = n.units === 0 ? 0 : n.units * max;
    let exact: string[] | null = null;
    if (n.exact && Number.isFinite(max) && max <= 8) {
      // Enumerate small exact repetitions (e.g. `colou?r`, `a{2}`).
      let acc: string[] = min === 0 ? [''] : [];
      let cur: string[] = [''];
      let ok = true;
      for (let k = 1; k <= max && ok; k++) {
        const next: string[] = [];
        for (const a of cur) for (const b of n.exact) next.push(a + b);
        cur = uniq(next);
        if (cur.length > MAX_EXACT || cur.some((x) => x.length > MAX_EXACT_LEN)) ok = false;
        if (k >= min) acc.push(...cur);
      }
      acc = uniq(acc);
      exact = ok && acc.length <= MAX_EXACT ? acc : null;
    }
    const factors: string[][] = [];
    if (min >= 1) {
      if (usable(n.exact)) factors.push(n.exact);
      factors.push(...n.factors);
    }
    return {
      span: Number.isNaN(span) ? 0 : span,
      units: Number.isNaN(units) ? 0 : units,
      exact,
      factors: keepBest(factors),
    };
  };

  const parseAtom = (depth: number): Node => {
    const c = s[pos]!;
    if (c === '(') {
      pos++;
      if (s[pos] === '?') {
        const rest = s.slice(pos, pos + 4);
        if (
          rest.startsWith('?=') ||
          rest.startsWith('?!') ||
          rest.startsWith('?<=') ||
          rest.startsWith('?<!')
        ) {
          fail('lookaround is not supported');
        }
        if (rest.startsWith('?:')) {
          pos += 2;
        } else if (rest.startsWith('?P<') || rest.startsWith('?<')) {
          const close = s.indexOf('>', pos);
          if (close < 0) fail('unterminated group name');
          pos = close + 1;
          groups++;
        } else if (
          rest.startsWith('?P=') ||
          rest.startsWith('?P>') ||
          rest.startsWith('?&') ||
          rest.startsWith('?R')
        ) {
          fail('backreferences and recursion are not supported');
        } else {
          const m = /^\?([a-zA-Z-]*)([:)])/.exec(s.slice(pos, pos + 16));
          if (!m) fail('unsupported group syntax');
          for (const f of m![1]!) {
            if (f !== 'i' && f !== 's' && f !== '-')
              fail(`inline flag "${f}" is not supported (only (?i) and (?s))`);
          }
          pos += m![0].length;
          if (m![2] === ')') return EMPTY;
        }
      } else {
        groups++;
      }
      const inner = parseAlt(depth + 1);
      if (s[pos] !== ')') fail('missing closing )');
      pos++;
      return inner;
    }
    if (c === ')') fail('unexpected )');
    if (c === '[') return parseClass();
    if (c === '\\') return parseEscape();
    if (c === '^' || c === '$') {
      pos++;
      return EMPTY;
    }
    if (c === '*' || c === '+' || c === '?') fail('missing argument to repetition operator');
    pos++;
    if (c === '.') return { span: 1, units: 2, exact: null, factors: [] };
    const code = c.charCodeAt(0);
    if (code >= 0xd800 && code <= 0xdbff && pos < s.length) {
      const next = s.charCodeAt(pos);
      if (next >= 0xdc00 && next <= 0xdfff) {
        pos++;
        return { span: 1, units: 2, exact: null, factors: [] };
      }
    }
    return { span: 1, units: 1, exact: code < 0x80 ? [foldAscii(c)] : null, factors: [] };
  };

  /** An escape outside a class. */
  const parseEscape = (): Node => {
    pos++; // backslash
    const c = s[pos];
    if (c === undefined) fail('trailing backslash');
    pos++;
    if (c! >= '1' && c! <= '9') fail('backreferences are not supported');
    if (c === 'k' || c === 'g') fail('backreferences are not supported');
    if (c === 'b' || c === 'B' || c === 'A' || c === 'z' || c === 'Z' || c === 'G') return EMPTY;
    if (c === 'Q') {
      const end = s.indexOf('\\E', pos);
      const lit = end < 0 ? s.slice(pos) : s.slice(pos, end);
      pos = end < 0 ? s.length : end + 2;
      const cps = [...lit];
      const ascii = cps.every((x) => x.charCodeAt(0) < 0x80);
      return {
        span: cps.length,
        units: lit.length,
        exact: ascii && lit.length <= MAX_EXACT_LEN ? [lit.toLowerCase()] : null,
        factors: [],
      };
    }
    if (c === 'p' || c === 'P') {
      if (s[pos] === '{') {
        const close = s.indexOf('}', pos);
        if (close < 0) fail('unterminated \\p{…}');
        pos = close + 1;
      } else {
        pos++;
      }
      return { span: 1, units: 2, exact: null, factors: [] };
    }
    if (c === 'd' || c === 'w' || c === 's') return { span: 1, units: 1, exact: null, factors: [] };
    if (c === 'D' || c === 'W' || c === 'S' || c === 'C')
      return { span: 1, units: 2, exact: null, factors: [] };
    const code = escapeCode(c!);
    return {
      span: 1,
      units: code === undefined || code > 0xffff ? 2 : 1,
      exact: code !== undefined && code < 0x80 ? [foldAscii(String.fromCharCode(code))] : null,
      factors: [],
    };
  };

  /** Decodes an escaped character (after the backslash and `c`), or undefined for a class-like escape. */
  const escapeCode = (c: string): number | undefined => {
    switch (c) {
      case 'n':
        return 10;
      case 't':
        return 9;
      case 'r':
        return 13;
      case 'f':
        return 12;
      case 'v':
        return 11;
      case 'a':
        return 7;
      case 'x': {
        if (s[pos] === '{') {
          const close = s.indexOf('}', pos);
          if (close < 0) fail('unterminated \\x{…}');
          const v = Number.parseInt(s.slice(pos + 1, close), 16);
          pos = close + 1;
          return Number.isFinite(v) ? v : undefined;
        }
        const v = Number.parseInt(s.slice(pos, pos + 2), 16);
        pos += 2;
        return Number.isFinite(v) ? v : undefined;
      }
      case '0':
        return 0;
      default:
        return /[a-zA-Z0-9]/.test(c) ? undefined : c.charCodeAt(0);
    }
  };

  const parseClass = (): Node => {
    pos++; // [
    let negated = false;
    if (s[pos] === '^') {
      negated = true;
      pos++;
    }
    const chars = new Set<string>();
    let enumerable = true;
    let astral = false;
    const addRange = (lo: number, hi: number) => {
      if (hi >= 0x10000) astral = true;
      if (hi < lo) return;
      if (hi >= 0x80 || hi - lo > 16) {
        enumerable = false;
        return;
      }
      for (let x = lo; x <= hi; x++) chars.add(foldAscii(String.fromCharCode(x)));
    };
    const readOne = (): number | undefined => {
      // Returns a single code point, or undefined for a class escape / POSIX class (which it records).
      if (s[pos] === '\\') {
        pos++;
        const c = s[pos];
        if (c === undefined) fail('trailing backslash');
        pos++;
        if (c === 'p' || c === 'P') {
          if (s[pos] === '{') {
            const close = s.indexOf('}', pos);
            if (close < 0) fail('unterminated \\p{…}');
            pos = close + 1;
          } else pos++;
          enumerable = false;
          astral = true;
          return undefined;
        }
        if (c === 'd' || c === 'w' || c === 's') {
          enumerable = false;
          return undefined;
        }
        if (c === 'D' || c === 'W' || c === 'S') {
          enumerable = false;
          astral = true;
          return undefined;
        }
        if (c! >= '1' && c! <= '9') fail('backreferences are not supported');
        const code = escapeCode(c!);
        if (code === undefined) {
          enumerable = false;
          return undefined;
        }
        return code;
      }
      if (s[pos] === '[' && s[pos + 1] === ':') {
        const close = s.indexOf(':]', pos + 2);
        pos = close < 0 ? pos + 1 : close + 2;
        enumerable = false;
        return undefined;
      }
      const code = s.codePointAt(pos)!;
      pos += code > 0xffff ? 2 : 1;
      return code;
    };
    let first = true;
    while (pos < s.length && (s[pos] !== ']' || first)) {
      first = false;
      const lo = readOne();
      if (lo !== undefined && s[pos] === '-' && s[pos + 1] !== ']' && pos + 1 < s.length) {
        pos++;
        const hi = readOne();
        if (hi === undefined) enumerable = false;
        else addRange(lo, hi);
      } else if (lo !== undefined) addRange(lo, lo);
    }
    if (s[pos] !== ']') fail('missing closing ]');
    pos++;
    if (negated) return { span: 1, units: 2, exact: null, factors: [] };
    return {
      span: 1,
      units: astral ? 2 : 1,
      exact: enumerable && chars.size > 0 && chars.size <= 16 ? [...chars] : null,
      factors: [],
    };
  };

  try {
    const root = parseAlt(0);
    if (pos < s.length) fail(s[pos] === ')' ? 'unexpected )' : 'unexpected character');
    const factors = keepBest([...(usable(root.exact) ? [root.exact] : []), ...root.factors]);
    return {
      success: true,
      info: { maxSpan: root.span, maxUnits: root.units, groups, flags, body, factors },
    };
  } catch (error) {
    if (error instanceof SyntaxFail) return { success: false, message: error.message };
    throw error;
  }
}
