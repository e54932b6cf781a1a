// Glob compilation for rule conditions, rule `tools`, lists and tool classes.

/** A compiled glob: `test` is a whole-string match. */
export type Glob = { readonly source: string; test(value: string): boolean };

/** Glob flavours: `path` (`*` stops at `/`, `**` crosses it) or `name` (`*` matches anything). */
export type GlobKind = 'path' | 'name';

const SPECIAL = /[*?[{]/;

/** Returns why `source` is not a valid glob, or undefined. */
export function checkGlob(source: string): string | undefined {
  if (typeof source !== 'string' || source.length === 0) return 'empty glob';
  if (source.length > 1024) return 'glob longer than 1024 chars';
  let depth = 0;
  let stars = 0;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '\\') i++;
    else if (c === '{') depth++;
    else if (c === '}') depth--;
    else if (c === '*') stars++;
    if (depth < 0) return 'unbalanced }';
  }
  if (depth !== 0) return 'unbalanced {';
  if (stars > 16) return 'more than 16 wildcards';
  return undefined;
}

/** Compiles a glob (`*`, `**`, `?`, `[…]`, `{a,b}`, backslash escapes) into a whole-string matcher. */
export function compileGlob(source: string, kind: GlobKind = 'path', caseInsensitive = false): Glob {
  if (!SPECIAL.test(source) && !source.includes('\\')) {
    if (caseInsensitive) {
      const lower = source.toLowerCase();
      return { source, test: (v) => v.toLowerCase() === lower };
    }
    return { source, test: (v) => v === source };
  }
  const re = new RegExp(`^(?:${globToRegex(source, kind)})$`, caseInsensitive ? 'is' : 's');
  return { source, test: (v) => re.test(v) };
}

/** Compiles a list of globs into one matcher that holds when any of them matches. */
export function compileGlobSet(
  sources: readonly string[],
  kind: GlobKind = 'path',
  caseInsensitive = false,
): Glob {
  const exact = new Set<string>();
  const contains: string[] = [];
  const prefixes: string[] = [];
  const suffixes: string[] = [];
  const rest: string[] = [];
  for (const s of sources) {
    if (caseInsensitive) rest.push(globToRegex(s, kind));
    else if (literal(s)) exact.add(s);
    else if (
      kind === 'name' &&
      s.length > 2 &&
      s.startsWith('*') &&
      s.endsWith('*') &&
      literal(s.slice(1, -1))
    )
      contains.push(s.slice(1, -1));
    else if (kind === 'name' && s.endsWith('*') && literal(s.slice(0, -1))) prefixes.push(s.slice(0, -1));
    else if (kind === 'name' && s.startsWith('*') && literal(s.slice(1))) suffixes.push(s.slice(1));
    else rest.push(globToRegex(s, kind));
  }
  // One combined regex for every other wildcard glob: one test instead of one per glob.
  const re =
    rest.length > 0 ? new RegExp(`^(?:${rest.join('|')})$`, caseInsensitive ? 'is' : 's') : undefined;
  const simple = contains.length + prefixes.length + suffixes.length > 0;
  return {
    source: sources.join(','),
    test: (v) => {
      if (exact.has(v)) return true;
      if (simple) {
        for (const x of contains) if (v.includes(x)) return true;
        for (const x of prefixes) if (v.startsWith(x)) return true;
        for (const x of suffixes) if (v.endsWith(x)) return true;
      }
      return re?.test(v) === true;
    },
  };
}

/** Whether `x` is a non-empty glob without wildcards or escapes (a plain string). */
function literal(x: string): boolean {
  if (x.length === 0) return false;
  for (let i = 0; i < x.length; i++) {
    const c = x.charCodeAt(i);
    // * ? [ { \
    if (c === 42 || c === 63 || c === 91 || c === 123 || c === 92) return false;
  }
  return true;
}

function globToRegex(source: string, kind: GlobKind): string {
  let out = '';
  let lastStar = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    if (c === '*') {
      let j = i;
      while (source[j + 1] === '*') j++;
      const double = j > i;
      i = j;
      if (lastStar) continue; // adjacent wildcards collapse (no polynomial backtracking)
      lastStar = true;
      if (kind === 'name' || double) {
        // `**/` also matches zero directories.
        if (double && source[i + 1] === '/') {
          out += '(?:.*/)?';
          i++;
          lastStar = false;
        } else out += '.*';
      } else out += '[^/]*';
      continue;
    }
    lastStar = false;
    if (c === '?') out += kind === 'name' ? '.' : '[^/]';
    else if (c === '[') {
      const close = source.indexOf(']', i + 2);
      if (close < 0) out += '\\[';
      else {
        let body = source.slice(i + 1, close);
        if (body.startsWith('!')) body = `^${body.slice(1)}`;
        out += `[${body.replace(/\\/g, '\\\\')}]`;
        i = close;
      }
    } else if (c === '{') {
      let depth = 1;
      let j = i + 1;
      const parts: string[] = [];
      let start = j;
      for (; j < source.length && depth > 0; j++) {
        if (source[j] === '\\') j++;
        else if (source[j] === '{') depth++;
        else if (source[j] === '}') {
          depth--;
          if (depth === 0) parts.push(source.slice(start, j));
        } else if (source[j] === ',' && depth === 1) {
          parts.push(source.slice(start, j));
          start = j + 1;
        }
      }
      out += `(?:${parts.map((p) => globToRegex(p, kind)).join('|')})`;
      i = j - 1;
    } else if (c === '\\' && i + 1 < source.length) {
      out += escapeRe(source[++i]!);
    } else out += escapeRe(c);
  }
  return out;
}

/** Characters `escapeRe` backslash-escapes. */
const RE_SPECIAL = new Set('\\^$.*+?()[]{}|/-');

function escapeRe(c: string): string {
  return RE_SPECIAL.has(c) ? `\\${c}` : c;
}

/** The most distinct values a memoised glob remembers before it starts over. */
const MEMO_MAX = 512;

/**
 * Wraps a glob with a bounded memo of its answers: for globs tested again and again against a small set of values
 * (program names, across rules and simple commands).
 */
export function memoGlob(g: Glob): Glob {
  const memo = new Map<string, boolean>();
  return {
    source: g.source,
    test: (v) => {
      let hit = memo.get(v);
      if (hit === undefined) {
        hit = g.test(v);
        if (memo.size >= MEMO_MAX) memo.clear();
        memo.set(v, hit);
      }
      return hit;
    },
  };
}
