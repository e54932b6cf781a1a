// The "deobfuscated" text view used by pattern fallbacks (spec 30 §A5.9 "Two text views").
import { decodeAnsiC } from './_parser.ts';

/**
 * Returns `raw` with line continuations and `$'…'` strings decoded, empty quote pairs (`''`, `""`) and backslashes before ordinary characters
 * removed, `$IFS`/`${IFS}` turned into spaces, empty positional splices (`c$@url`) and mid-word quote splices
 * (`c'ur'l`) removed, whole-word brace lists (`{cat,/etc/passwd}`) spread, and whitespace collapsed.
 */
export function deobfuscate(raw: string): string {
  let s = raw.replace(/\\\r?\n/g, '');
  s = s.replace(/\$'((?:[^'\\]|\\[\s\S])*)'/g, (_m, body: string) => decodeAnsiC(body));
  s = s.replace(/\$\{IFS\}|\$IFS(?![A-Za-z0-9_])/g, ' ');
  s = s.replace(/(?<=[\w/.-])\$(?:[1-9@*]|\{[1-9@*]\})|\$(?:[1-9@*]|\{[1-9@*]\})(?=[\w/.-])/g, '');
  s = s.replace(/''|""/g, '');
  s = s.replace(/\\([A-Za-z0-9_./:@,+=%^-])/g, '$1');
  s = s.replace(/(?<=[\w/.-])(['"])([\w/.-]*)\1|(['"])([\w/.-]*)\3(?=[\w/.-])/g, '$2$4');
  s = s.replace(
    /(^|[\s;&|(])\{([^\s{}]*,[^\s{}]*)\}(?=$|[\s;&|)])/g,
    (_m, pre: string, list: string) => `${pre}${list.split(',').join(' ')}`,
  );
  return s.replace(/\s+/g, ' ').trim();
}
