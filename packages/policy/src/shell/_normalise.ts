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
  let p = argv0.replace(/^\\+/, '');
  const slash = p.lastIndexOf('/');
  if (slash >= 0 && slash < p.length - 1) p = p.slice(slash + 1);
  p = p.toLowerCase();
  if (p.endsWith('.exe')) p = p.slice(0, -4);
  const m = /^([a-z][a-z_+]*?)-?\d+(\.\d+)*$/.exec(p);
  if (m && VERSIONED.has(m[1]!)) return m[1]!;
  return p;
}

/**
 * Normalises a path-like operand: `.`/`..` segments resolved, duplicate and trailing slashes removed (`<home>` and
 * `/` are roots). Text with whitespace or newlines is returned unchanged (it is not a path).
 */
export function normalisePath(text: string): string {
  if (
    text === '' ||
    /[\s]/.test(text) ||
    text.length > 4096 ||
    (!text.includes('/') && text !== '.' && text !== '..')
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
