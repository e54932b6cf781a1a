// Path normalisation for tool-argument paths, matching the shell parser's operand normalisation:
// `~`, `$HOME`, `${HOME}` → `<home>`; `.` and `..` resolved; duplicate slashes collapsed.

/** Normalises a path written in a tool argument. */
export function normalizeArgPath(raw: string): { path: string; dynamic: boolean } {
  let p = raw.trim();
  p = p.replace(/^(?:~|\$\{HOME\}|\$HOME)(?=\/|$)/, '<home>');
  const dynamic = /\$|`/.test(p);
  const absolute = p.startsWith('/');
  const parts: string[] = [];
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (parts.length > 0 && parts[parts.length - 1] !== '..' && parts[parts.length - 1] !== '<home>')
        parts.pop();
      else if (!absolute) parts.push('..');
      continue;
    }
    parts.push(seg);
  }
  let out = (absolute ? '/' : '') + parts.join('/');
  if (out === '') out = absolute ? '/' : '.';
  return { path: out, dynamic };
}
