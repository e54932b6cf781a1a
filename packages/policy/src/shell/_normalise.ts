// Normalisation of program names and path operands (spec 30 §A5.9).

/** The token standing for the user's home directory in normalised paths. */
export const HOME = '<home>';

/** Interpreters and toolchains whose binaries carry a version suffix (python3.12, pip3, ksh93, gcc-12). */
const VERSIONED = new Set([
  'python',
  'pip',
  'pypy',
  'ipython',
  'pydoc',
  'idle',
  'perl',
  'ruby',
  'irb',
  'gem',
  'php',
  'node',
  'nodejs',
  'lua',
  'luajit',
  'tclsh',
  'wish',
  'gcc',
  'g++',
  'clang',
  'clang++',
  'java',
  'erl',
  'ghc',
  'swift',
  'go',
  'bash',
  'zsh',
  'ksh',
  'mksh',
  'psql',
  'pg_dump',
  'mysql',
  'easy_install',
  'rscript',
]);

/** Returns argv[0] basenamed, lowercased, with a leading backslash, `.exe` and a version suffix removed. */
export function normaliseProgram(argv0: string): string {
  const hit = _programCache.get(argv0);
  if (hit !== undefined) return hit;
  let p = argv0.charCodeAt(0) === 92 ? argv0.replace(/^\\+/, '') : argv0;
  const slash = p.lastIndexOf('/');
  if (slash >= 0 && slash < p.length - 1) p = p.slice(slash + 1);
  p = p.toLowerCase();
  if (p.endsWith('.exe')) p = p.slice(0, -4);
  const last = p.charCodeAt(p.length - 1);
  if (last >= 48 && last <= 57) {
    const m = /^([a-z][a-z_+]*?)-?\d+(\.\d+)*$/.exec(p);
    if (m && VERSIONED.has(m[1]!)) p = m[1]!;
  }
  if (argv0.length <= 256) {
    if (_programCache.size >= 4096) _programCache.clear();
    p = _intern(p);
    _programCache.set(argv0, p);
  }
  return p;
}

/**
 * Returns `text` as an engine-internalised string (property names are): later comparisons with string literals
 * (the program `switch`es, `in`, Set lookups) are then pointer comparisons.
 */
function _intern(text: string): string {
  const o: Record<string, true> = {};
  o[text] = true;
  for (const k in o) return k;
  return text;
}

/** Program names already normalised (bounded; cleared when full). */
const _programCache = new Map<string, string>();

/**
 * Normalises a path-like operand: `.`/`..` segments resolved, duplicate and trailing slashes removed (`<home>` and
 * `/` are roots). Text with whitespace or newlines is returned unchanged (it is not a path).
 */
export function normalisePath(text: string): string {
  const shape = _shape(text);
  if (shape === UNCHANGED) return text;
  // `dir/`, `/a/b/`, `<home>/`: only a trailing slash to drop (`<home>x/` is not under the home token: kept).
  if (shape === TRAILING_SLASH) {
    return text.startsWith(HOME) && text.charCodeAt(HOME.length) !== 47 ? text : text.slice(0, -1);
  }
  if (
    text === '' ||
    (!text.includes('/') && text !== '.' && text !== '..') ||
    text.length > 4096 ||
    /[\s]/.test(text)
  ) {
    return text;
  }
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(text) || /[$`]/.test(text)) return text;
  let root = '';
  let rest = text;
  if (rest.startsWith(HOME)) {
    if (rest.length > HOME.length && rest[HOME.length] !== '/') return text;
    root = HOME;
    rest = rest.slice(HOME.length);
  } else if (rest.startsWith('/')) {
    root = '/';
  }
  const out: string[] = [];
  let ups = 0;
  for (const seg of rest.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (out.length > 0) out.pop();
      else if (root === '') ups++;
      else if (root === HOME) {
        // Above the home directory: keep the literal `..` (we do not know where home lives).
        out.push('..');
      }
      continue;
    }
    out.push(seg);
  }
  const body = [...new Array<string>(ups).fill('..'), ...out].join('/');
  if (root === '/') return `/${body}`;
  if (root === HOME) return body === '' ? HOME : `${HOME}/${body}`;
  return body === '' ? '.' : body;
}

/** `_shape`: text `normalisePath` returns as it is. */
const UNCHANGED = 0;
/** `_shape`: an otherwise normal path with one trailing slash (not the root itself). */
const TRAILING_SLASH = 1;
/** `_shape`: anything else (dot segments, repeated slashes, URLs): the full normalisation decides. */
const FULL = 2;

/**
 * One pass that spares the common cases the full normalisation: text without a slash (not a path) or with
 * whitespace, `$` or a backquote (not normalised) is UNCHANGED, as is a path whose segments are all normal (no
 * empty segment but a leading root, no `.` or `..`, no trailing slash); a normal path with one trailing slash is
 * TRAILING_SLASH; anything else is FULL.
 */
function _shape(text: string): number {
  const n = text.length;
  if (n === 0 || n > 4096) return UNCHANGED;
  let slash = false;
  let segStart = 0;
  let clean = true;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 47) {
      slash = true;
      const len = i - segStart;
      // An empty segment (`//`, except the root at 0) or `.`/`..` needs the full normalisation.
      if ((len === 0 && i > 0) || (len === 1 && text.charCodeAt(i - 1) === 46)) clean = false;
      else if (len === 2 && text.charCodeAt(i - 1) === 46 && text.charCodeAt(i - 2) === 46) clean = false;
      segStart = i + 1;
    } else if (c === 36 || c === 96 || _isSpace(c)) {
      return UNCHANGED;
    }
  }
  if (!slash) return UNCHANGED;
  if (!clean) return FULL;
  const len = n - segStart;
  if (len === 0) return n === 1 ? UNCHANGED : TRAILING_SLASH;
  if (len === 1 && text.charCodeAt(n - 1) === 46) return FULL;
  if (len === 2 && text.charCodeAt(n - 1) === 46 && text.charCodeAt(n - 2) === 46) return FULL;
  return UNCHANGED;
}

/** Whether a UTF-16 code unit is JavaScript whitespace (what `\s` matches). */
function _isSpace(c: number): boolean {
  if (c === 32 || (c >= 9 && c <= 13)) return true;
  if (c < 0xa0) return false;
  return (
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000 ||
    c === 0xfeff
  );
}

/** Same as `text.replace(/\s+/g, ' ').trim()`, without building a new string when nothing changes. */
export function collapseWhitespace(text: string): string {
  const n = text.length;
  let clean = true;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 32) {
      if (i === 0 || i === n - 1 || text.charCodeAt(i + 1) === 32) {
        clean = false;
        break;
      }
    } else if (_isSpace(c)) {
      clean = false;
      break;
    }
  }
  if (clean) return text;
  let out = '';
  let i = 0;
  while (i < n) {
    while (i < n && _isSpace(text.charCodeAt(i))) i++;
    if (i >= n) break;
    let j = i + 1;
    while (j < n && !_isSpace(text.charCodeAt(j))) j++;
    out = out === '' ? text.slice(i, j) : `${out} ${text.slice(i, j)}`;
    i = j;
  }
  return out;
}
