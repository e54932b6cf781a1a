// The "deobfuscated" text view used by pattern fallbacks (spec 30 §A5.9 "Two text views").
import { collapseWhitespace } from './_normalise.ts';
import { decodeAnsiC } from './_parser.ts';

/**
 * Returns `raw` with line continuations and `$'…'` strings decoded, empty quote pairs (`''`, `""`) and backslashes before ordinary characters
 * removed, `$IFS`/`${IFS}` turned into spaces, empty positional splices (`c$@url`) and mid-word quote splices
 * (`c'ur'l`) removed, whole-word brace lists (`{cat,/etc/passwd}`) spread, and whitespace collapsed.
 */
export function deobfuscate(raw: string): string {
  // Each pass runs only when the text holds the character it needs (most command lines skip most passes).
  let s = raw;
  if (s.includes('\\')) s = s.replace(/\\\r?\n/g, '');
  if (s.includes('$')) {
    if (s.includes("$'"))
      s = s.replace(/\$'((?:[^'\\]|\\[\s\S])*)'/g, (_m, body: string) => decodeAnsiC(body));
    if (s.includes('IFS')) s = s.replace(/\$\{IFS\}|\$IFS(?![A-Za-z0-9_])/g, ' ');
    s = s.replace(/(?<=[\w/.-])\$(?:[1-9@*]|\{[1-9@*]\})|\$(?:[1-9@*]|\{[1-9@*]\})(?=[\w/.-])/g, '');
  }
  const hasQuote = s.includes("'") || s.includes('"');
  if (hasQuote) s = s.replace(/''|""/g, '');
  if (s.includes('\\')) s = s.replace(/\\([A-Za-z0-9_./:@,+=%^-])/g, '$1');
  if (hasQuote) s = unspliceQuotes(s);
  if (s.includes('{'))
    s = s.replace(
      /(^|[\s;&|(])\{([^\s{}]*,[^\s{}]*)\}(?=$|[\s;&|)])/g,
      (_m, pre: string, list: string) => `${pre}${list.split(',').join(' ')}`,
    );
  return collapseWhitespace(s);
}

/** `[\w/.-]` as a char code test. */
function _wordish(c: number): boolean {
  return (
    (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 45 && c <= 57) || c === 95 // a-z A-Z - . / 0-9 _
  );
}

/**
 * Removes mid-word quote splices: same as
 * `s.replace(/(?<=[\w/.-])(['"])([\w/.-]*)\1|(['"])([\w/.-]*)\3(?=[\w/.-])/g, '$2$4')`, in one pass.
 */
export function unspliceQuotes(s: string): string {
  const n = s.length;
  let out = '';
  let from = 0;
  let i = 0;
  while (i < n) {
    const c = s.charCodeAt(i);
    if (c !== 39 && c !== 34) {
      i++;
      continue;
    }
    let j = i + 1;
    while (j < n && _wordish(s.charCodeAt(j))) j++;
    if (
      j < n &&
      s.charCodeAt(j) === c &&
      ((i > 0 && _wordish(s.charCodeAt(i - 1))) || (j + 1 < n && _wordish(s.charCodeAt(j + 1))))
    ) {
      out += s.slice(from, i) + s.slice(i + 1, j);
      from = j + 1;
      i = j + 1;
    } else i++;
  }
  return from === 0 ? s : out + s.slice(from);
}
