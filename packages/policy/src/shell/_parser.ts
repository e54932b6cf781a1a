// Stage 1 of `parseCommand`: a hand-written recursive-descent parser for a POSIX-shell subset (plus the bash
// forms agents use: `$'…'`, `<(…)`, `[[ … ]]`, `((…))`, `|&`, `&>`, here-strings). It never throws to its caller:
// syntax it cannot accept raises `ParseAbort`, which `parseCommand` turns into status `failed`.
import type {
  Cmd,
  GroupCmd,
  Heredoc,
  Part,
  Pipeline,
  Quote,
  Redir,
  Script,
  SimpleCmd,
  Sub,
  Word,
} from './_ast.ts';

/** Thrown internally for unbalanced quotes/substitutions and syntax errors. */
export class ParseAbort extends Error {}

/** Nesting (groups, substitutions, quotes in substitutions) beyond this aborts: it bounds the recursion. */
const MAX_NESTING = 64;

/** Mutable state of one parse: the current nesting depth and the issues found. */
export type ParseState = { nesting: number; issues: string[] };

const RESERVED =
  /^(\{|\}|\[\[|!|if|then|else|elif|fi|do|done|case|esac|while|until|for|select|function|in|coproc)(?=$|[\s;&|()<>])/;
const REDIR = /^(\d{1,9})?(&>>|&>|<<<|<<-|<<|<>|<&|>>|>&|>\||<|>)/;

/** Characters (< 128) that end or specially start a stretch of ordinary word text in `readWord`. */
const _WORD_SPECIAL: Uint8Array = (() => {
  const t = new Uint8Array(128);
  for (const ch of ' \t\n\r;&|()<>\'"\\$`') t[ch.charCodeAt(0)] = 1;
  return t;
})();

/** First characters (< 128) of the reserved words `RESERVED` matches. */
const _RESERVED_START: Uint8Array = (() => {
  const t = new Uint8Array(128);
  for (const ch of '{}[!itefdcwus') t[ch.charCodeAt(0)] = 1;
  return t;
})();

type Terms = { paren?: boolean; caseEnd?: boolean; words?: readonly string[] };

/** Parses a whole script; throws ParseAbort on a syntax error. */
export function parseScriptText(src: string, state: ParseState): Script {
  const p = new _Parser(src, state);
  const script = p.parseScript({});
  p.finish();
  return script;
}

/** Decodes the body of a `$'…'` ANSI-C string (escapes included, quotes excluded). */
export function decodeAnsiC(body: string): string {
  try {
    return new _Parser(`$'${body}'`, { nesting: 0, issues: [] }).readAnsiC();
  } catch {
    return body;
  }
}

class _Parser {
  pos = 0;
  pending: Heredoc[] = [];

  readonly src: string;
  readonly st: ParseState;

  constructor(src: string, st: ParseState) {
    this.src = src;
    this.st = st;
  }

  fail(message: string): never {
    this.st.issues.push(message);
    throw new ParseAbort(message);
  }

  enter(): void {
    this.st.nesting++;
    if (this.st.nesting > MAX_NESTING) this.fail(`nesting deeper than ${MAX_NESTING}`);
  }

  leave(): void {
    this.st.nesting--;
  }

  finish(): void {
    if (this.pos < this.src.length)
      this.fail(`syntax error near "${this.src.slice(this.pos, this.pos + 10)}"`);
    if (this.pending.length > 0) {
      // bash runs a heredoc that reaches the end of input with what it read (and warns).
      for (const h of this.pending) this.st.issues.push(`heredoc "${h.delim}" delimited by end of input`);
      this.pending = [];
    }
  }

  // --- blanks, comments, newlines ---

  /** Skips spaces, tabs, line continuations and comments; also newlines (reading heredoc bodies) when asked. */
  skipBlank(newlines: boolean): void {
    const s = this.src;
    while (this.pos < s.length) {
      const c = s.charCodeAt(this.pos);
      if (c === 32 || c === 9 || c === 13)
        this.pos++; // space, tab, CR
      else if (c === 92 && s.charCodeAt(this.pos + 1) === 10)
        this.pos += 2; // line continuation
      else if (c === 35) {
        // `#` comment to the end of the line
        const end = s.indexOf('\n', this.pos);
        this.pos = end < 0 ? s.length : end;
      } else if (c === 10 && newlines) this.newline();
      else break;
    }
  }

  /** Consumes a newline token and then the bodies of heredocs registered on that line. */
  newline(): void {
    this.pos++;
    const pending = this.pending;
    this.pending = [];
    for (const h of pending) this.readHeredocBody(h);
  }

  readHeredocBody(h: Heredoc): void {
    const s = this.src;
    let body = '';
    let closed = false;
    while (this.pos < s.length) {
      let end = s.indexOf('\n', this.pos);
      if (end < 0) end = s.length;
      let line = s.slice(this.pos, end);
      this.pos = end < s.length ? end + 1 : end;
      if (h.strip) line = line.replace(/^\t+/, '');
      if (line.replace(/\r$/, '') === h.delim) {
        closed = true;
        break;
      }
      body += `${line}\n`;
    }
    if (!closed) this.st.issues.push(`heredoc "${h.delim}" delimited by end of input`);
    h.body = body;
    if (!h.quoted && /[$`\\]/.test(body)) {
      const sub = new _Parser(body, this.st);
      h.parts = sub.readDoubleQuotedBody(true);
    }
  }

  peekReserved(): string | undefined {
    const c0 = this.src.charCodeAt(this.pos);
    if (!(c0 < 128 && _RESERVED_START[c0])) return undefined;
    const m = RESERVED.exec(this.src.slice(this.pos, this.pos + 12));
    if (!m) return undefined;
    if (m[1] === '{' || m[1] === '!') {
      const next = this.src[this.pos + 1];
      if (next !== undefined && !/[\s]/.test(next)) return undefined;
    }
    return m[1];
  }

  expectWord(word: string): void {
    this.skipBlank(true);
    if (this.peekReserved() !== word) this.fail(`expected "${word}"`);
    this.pos += word.length;
  }

  atTerminator(terms: Terms): boolean {
    const c = this.src[this.pos];
    if (c === ')' && terms.paren) return true;
    if (terms.caseEnd && c === ';' && this.src[this.pos + 1] === ';') return true;
    if (terms.caseEnd && c === ';' && this.src[this.pos + 1] === '&') return true;
    if (terms.words) {
      const w = this.peekReserved();
      if (w !== undefined && terms.words.includes(w)) return true;
    }
    return false;
  }

  // --- lists ---

  parseScript(terms: Terms): Script {
    const items: Script['items'] = [];
    const s = this.src;
    for (;;) {
      this.skipBlank(true);
      if (this.pos >= s.length || this.atTerminator(terms)) break;
      const c = s[this.pos]!;
      if (c === ')' || c === ';' || c === '&' || c === '|') this.fail(`syntax error near "${c}"`);
      items.push(this.parseAndOr());
      this.skipBlank(false);
      if (this.pos >= s.length || this.atTerminator(terms)) break;
      const d = s[this.pos]!;
      if (d === '\n') continue;
      if ((d === ';' || d === '&') && s[this.pos + 1] !== ';' && s[this.pos + 1] !== '&') {
        this.pos++;
        continue;
      }
      if (d === ';' && s[this.pos + 1] === '&') this.fail('syntax error near ";&"');
      this.fail(`syntax error near "${s.slice(this.pos, this.pos + 10)}"`);
    }
    return { items };
  }

  parseAndOr(): Script['items'][number] {
    const pipelines: Pipeline[] = [this.parsePipeline()];
    for (;;) {
      this.skipBlank(false);
      const c0 = this.src.charCodeAt(this.pos);
      if ((c0 !== 38 && c0 !== 124) || this.src.charCodeAt(this.pos + 1) !== c0) break;
      const two = c0 === 38 ? '&&' : '||';
      this.pos += 2;
      this.skipBlank(true);
      if (this.pos >= this.src.length) this.fail(`unexpected end of input after "${two}"`);
      pipelines.push(this.parsePipeline());
    }
    return { pipelines };
  }

  parsePipeline(): Pipeline {
    const cmds: Cmd[] = [this.parseCommand()];
    for (;;) {
      this.skipBlank(false);
      if (this.src[this.pos] !== '|' || this.src[this.pos + 1] === '|') break;
      this.pos += this.src[this.pos + 1] === '&' ? 2 : 1;
      this.skipBlank(true);
      if (this.pos >= this.src.length) this.fail('unexpected end of input after "|"');
      cmds.push(this.parseCommand());
    }
    return { cmds };
  }

  // --- commands ---

  parseCommand(): Cmd {
    this.skipBlank(false);
    const s = this.src;
    if (this.pos >= s.length) this.fail('expected a command');
    const c = s[this.pos]!;
    if (c === '(') {
      if (s[this.pos + 1] === '(') {
        const end = this.scanArith(this.pos + 2);
        if (end >= 0) {
          const sub = this.arithSub(this.pos + 2, end - 2, s.slice(this.pos, end));
          this.pos = end;
          return this.withRedirs({
            type: 'group',
            bodies: [],
            words: [{ parts: [{ k: 'sub', sub, q: 0 }], raw: sub.raw }],
            redirs: [],
          });
        }
      }
      this.pos++;
      this.enter();
      const body = this.parseScript({ paren: true });
      if (s[this.pos] !== ')') this.fail('unbalanced "("');
      this.pos++;
      this.leave();
      return this.withRedirs({ type: 'group', bodies: [body], words: [], redirs: [] });
    }
    const kw = this.peekReserved();
    if (kw !== undefined) return this.parseKeyword(kw);
    return this.parseSimple();
  }

  withRedirs(cmd: GroupCmd): GroupCmd {
    for (;;) {
      this.skipBlank(false);
      const r = this.tryRedirect();
      if (!r) return cmd;
      cmd.redirs.push(r);
    }
  }

  parseKeyword(kw: string): Cmd {
    const bodies: Script[] = [];
    const words: Word[] = [];
    const group = (): GroupCmd => this.withRedirs({ type: 'group', bodies, words, redirs: [] });
    this.enter();
    try {
      switch (kw) {
        case '{': {
          this.pos++;
          bodies.push(this.parseScript({ words: ['}'] }));
          this.expectWord('}');
          return group();
        }
        case 'if': {
          this.pos += 2;
          bodies.push(this.parseScript({ words: ['then'] }));
          this.expectWord('then');
          bodies.push(this.parseScript({ words: ['elif', 'else', 'fi'] }));
          for (;;) {
            this.skipBlank(true);
            const next = this.peekReserved();
            if (next === 'elif') {
              this.pos += 4;
              bodies.push(this.parseScript({ words: ['then'] }));
              this.expectWord('then');
              bodies.push(this.parseScript({ words: ['elif', 'else', 'fi'] }));
            } else if (next === 'else') {
              this.pos += 4;
              bodies.push(this.parseScript({ words: ['fi'] }));
            } else break;
          }
          this.expectWord('fi');
          return group();
        }
        case 'while':
        case 'until': {
          this.pos += kw.length;
          bodies.push(this.parseScript({ words: ['do'] }));
          this.parseDoDone(bodies);
          return group();
        }
        case 'for':
        case 'select': {
          this.pos += kw.length;
          this.skipBlank(false);
          if (this.src.startsWith('((', this.pos)) {
            const end = this.scanArith(this.pos + 2);
            if (end < 0) this.fail('unbalanced "(("');
            const sub = this.arithSub(this.pos + 2, end - 2, this.src.slice(this.pos, end));
            words.push({ parts: [{ k: 'sub', sub, q: 0 }], raw: sub.raw });
            this.pos = end;
          } else {
            const name = this.readWord();
            if (!name) this.fail(`expected a name after "${kw}"`);
            this.skipBlank(true);
            if (this.peekReserved() === 'in') {
              this.pos += 2;
              for (;;) {
                this.skipBlank(false);
                const ch = this.src[this.pos];
                if (ch === undefined || ch === ';' || ch === '\n' || ch === '&') break;
                const w = this.readWord();
                if (!w) this.fail(`syntax error near "${ch}"`);
                words.push(w);
              }
            }
          }
          this.skipBlank(false);
          if (this.src[this.pos] === ';') this.pos++;
          this.parseDoDone(bodies);
          return group();
        }
        case 'case': {
          this.pos += 4;
          this.skipBlank(false);
          const subject = this.readWord();
          if (!subject) this.fail('expected a word after "case"');
          words.push(subject);
          this.expectWord('in');
          for (;;) {
            this.skipBlank(true);
            if (this.peekReserved() === 'esac') {
              this.pos += 4;
              break;
            }
            if (this.pos >= this.src.length) this.fail('expected "esac"');
            if (this.src[this.pos] === '(') this.pos++;
            for (;;) {
              this.skipBlank(false);
              const w = this.readWord();
              if (w) words.push(w);
              this.skipBlank(false);
              const ch = this.src[this.pos];
              if (ch === '|') {
                this.pos++;
                continue;
              }
              if (ch === ')') {
                this.pos++;
                break;
              }
              this.fail('syntax error in case pattern');
            }
            bodies.push(this.parseScript({ caseEnd: true, words: ['esac'] }));
            this.skipBlank(false);
            for (const term of [';;&', ';;', ';&']) {
              if (this.src.startsWith(term, this.pos)) {
                this.pos += term.length;
                break;
              }
            }
          }
          return group();
        }
        case 'function': {
          this.pos += 8;
          this.skipBlank(false);
          if (!this.readWord()) this.fail('expected a function name');
          this.skipBlank(false);
          if (this.src.startsWith('()', this.pos)) this.pos += 2;
          this.skipBlank(true);
          return this.wrapBody(this.parseCommand());
        }
        case '[[': {
          this.pos += 2;
          const condWords: Word[] = [{ parts: [{ k: 'lit', v: '[[', q: 0 }], raw: '[[' }];
          for (;;) {
            this.skipBlank(true);
            if (this.pos >= this.src.length) this.fail('expected "]]"');
            if (this.src.startsWith(']]', this.pos) && /^$|[\s;&|)]/.test(this.src[this.pos + 2] ?? '')) {
              this.pos += 2;
              condWords.push({ parts: [{ k: 'lit', v: ']]', q: 0 }], raw: ']]' });
              break;
            }
            const op = /^(&&|\|\||[()<>!])/.exec(this.src.slice(this.pos, this.pos + 2));
            if (op && !(op[1] === '<' || op[1] === '>' ? this.src[this.pos + 1] === '(' : false)) {
              this.pos += op[1]!.length;
              condWords.push({ parts: [{ k: 'lit', v: op[1]!, q: 0 }], raw: op[1]! });
              continue;
            }
            const w = this.readWord();
            if (!w) this.fail(`syntax error near "${this.src[this.pos]}"`);
            condWords.push(w);
          }
          const cmd: SimpleCmd = { type: 'simple', words: condWords, redirs: [] };
          for (;;) {
            this.skipBlank(false);
            const r = this.tryRedirect();
            if (!r) break;
            cmd.redirs.push(r);
          }
          return cmd;
        }
        case '!': {
          this.pos++;
          return this.parseCommand();
        }
        case 'coproc': {
          this.pos += 6;
          return this.parseCommand();
        }
        default:
          return this.fail(`syntax error near "${kw}"`);
      }
    } finally {
      this.leave();
    }
  }

  parseDoDone(bodies: Script[]): void {
    this.skipBlank(true);
    if (this.peekReserved() === '{') {
      // bash also accepts `for x in …; { …; }`.
      this.pos++;
      bodies.push(this.parseScript({ words: ['}'] }));
      this.expectWord('}');
      return;
    }
    this.expectWord('do');
    bodies.push(this.parseScript({ words: ['done'] }));
    this.expectWord('done');
  }

  wrapBody(cmd: Cmd): GroupCmd {
    if (cmd.type === 'group') return cmd;
    return { type: 'group', bodies: [{ items: [{ pipelines: [{ cmds: [cmd] }] }] }], words: [], redirs: [] };
  }

  parseSimple(): Cmd {
    const cmd: SimpleCmd = { type: 'simple', words: [], redirs: [] };
    const s = this.src;
    for (;;) {
      this.skipBlank(false);
      if (this.pos >= s.length) break;
      const code = s.charCodeAt(this.pos);
      if (code === 10 || code === 59 || code === 124 || code === 41) break; // \n ; | )
      if (code === 38 && s.charCodeAt(this.pos + 1) !== 62) break; // & (not &>)
      const c = s[this.pos]!;
      if (code === 40) {
        // `name() compound-command`: a function definition; its body is flattened (conservatively judged).
        if (cmd.words.length === 1 && cmd.redirs.length === 0) {
          const m = /^\(\s*\)/.exec(s.slice(this.pos, this.pos + 64));
          if (m) {
            this.pos += m[0].length;
            this.skipBlank(true);
            this.enter();
            const body = this.parseCommand();
            this.leave();
            return this.wrapBody(body);
          }
        }
        this.fail('syntax error near "("');
      }
      const r = this.tryRedirect();
      if (r) {
        cmd.redirs.push(r);
        continue;
      }
      const w = this.readWord();
      if (!w) this.fail(`syntax error near "${c}"`);
      cmd.words.push(w);
    }
    if (cmd.words.length === 0 && cmd.redirs.length === 0) this.fail('expected a command');
    return cmd;
  }

  tryRedirect(): Redir | undefined {
    const s = this.src;
    const c0 = s.charCodeAt(this.pos);
    // A redirection starts with a digit, `<`, `>` or `&`.
    if (!((c0 >= 48 && c0 <= 57) || c0 === 60 || c0 === 62 || c0 === 38)) return undefined;
    const m = REDIR.exec(s.slice(this.pos, this.pos + 16));
    if (!m) return undefined;
    const op = m[2]!;
    if ((op === '<' || op === '>') && s[this.pos + m[0].length] === '(') {
      if (m[1] === undefined) return undefined; // a process substitution word
    }
    this.pos += m[0].length;
    const redir: Redir = { op: m[1] !== undefined ? `${m[1]}${op}` : op };
    if (m[1] !== undefined) redir.fd = Number(m[1]);
    this.skipBlank(false);
    if (op === '<<' || op === '<<-') {
      const delimWord = this.readWord();
      if (!delimWord) this.fail('missing heredoc delimiter');
      const quoted = delimWord.parts.some((p) => p.k === 'lit' && p.q !== 0) || delimWord.raw.includes('\\');
      const delim = delimWord.parts
        .map((p) =>
          p.k === 'lit' ? p.v : p.k === 'tilde' ? `~${p.user}` : p.k === 'param' ? p.raw : p.sub.raw,
        )
        .join('');
      const h: Heredoc = { delim, quoted, strip: op === '<<-', body: '' };
      redir.target = delimWord;
      redir.heredoc = h;
      this.pending.push(h);
      return redir;
    }
    const target = this.readWord();
    if (!target) this.fail(`missing target after "${op}"`);
    redir.target = target;
    return redir;
  }

  // --- words ---

  /** Reads one word at the current position (undefined when a metacharacter is next). */
  readWord(): Word | undefined {
    const s = this.src;
    const start = this.pos;
    const parts: Part[] = [];
    let lit = '';
    while (this.pos < s.length) {
      const code = s.charCodeAt(this.pos);
      if ((code >= 128 || !_WORD_SPECIAL[code]) && (code !== 126 || this.pos !== start)) {
        // A run of ordinary characters (a `~` is special only at the start of the word).
        let j = this.pos + 1;
        while (j < s.length) {
          const d = s.charCodeAt(j);
          if (d < 128 && _WORD_SPECIAL[d]) break;
          j++;
        }
        lit += s.slice(this.pos, j);
        this.pos = j;
        continue;
      }
      const c = s[this.pos]!;
      if (
        c === ' ' ||
        c === '\t' ||
        c === '\n' ||
        c === '\r' ||
        c === ';' ||
        c === '&' ||
        c === '|' ||
        c === ')'
      )
        break;
      if (c === '<' || c === '>') {
        if (s[this.pos + 1] !== '(') break;
        if (lit !== '') {
          parts.push({ k: 'lit', v: lit, q: 0 });
          lit = '';
        }
        this.pos += 2;
        const sub = this.readCmdSub(c === '<' ? 'in' : 'out', this.pos - 2);
        parts.push({ k: 'sub', sub, q: 0 });
        continue;
      }
      if (c === '(') {
        const prev = lit[lit.length - 1];
        const soFar = parts.length === 0 ? lit : undefined;
        if (
          (prev !== undefined && '@!+*?'.includes(prev)) ||
          (soFar !== undefined && /^[A-Za-z_][A-Za-z0-9_]*(\[[^\]]*\])?\+?=$/.test(soFar))
        ) {
          lit += this.readBalancedLiteral();
          continue;
        }
        break;
      }
      if (c === "'") {
        if (lit !== '') {
          parts.push({ k: 'lit', v: lit, q: 0 });
          lit = '';
        }
        const end = s.indexOf("'", this.pos + 1);
        if (end < 0) this.fail('unterminated single quote');
        parts.push({ k: 'lit', v: s.slice(this.pos + 1, end), q: 1 });
        this.pos = end + 1;
        continue;
      }
      if (c === '"') {
        if (lit !== '') {
          parts.push({ k: 'lit', v: lit, q: 0 });
          lit = '';
        }
        this.pos++;
        parts.push(...this.readDoubleQuoted());
        continue;
      }
      if (c === '\\') {
        const next = s[this.pos + 1];
        if (next === '\n') {
          this.pos += 2;
          continue;
        }
        if (next === undefined) {
          lit += '\\';
          this.pos++;
          continue;
        }
        if (lit !== '') {
          parts.push({ k: 'lit', v: lit, q: 0 });
          lit = '';
        }
        parts.push({ k: 'lit', v: next, q: 1 });
        this.pos += 2;
        continue;
      }
      if (c === '$') {
        if (s[this.pos + 1] === "'") {
          if (lit !== '') {
            parts.push({ k: 'lit', v: lit, q: 0 });
            lit = '';
          }
          parts.push({ k: 'lit', v: this.readAnsiC(), q: 1 });
          continue;
        }
        if (s[this.pos + 1] === '"') {
          if (lit !== '') {
            parts.push({ k: 'lit', v: lit, q: 0 });
            lit = '';
          }
          this.pos += 2;
          parts.push(...this.readDoubleQuoted());
          continue;
        }
        const part = this.readDollar(0);
        if (part) {
          if (lit !== '') {
            parts.push({ k: 'lit', v: lit, q: 0 });
            lit = '';
          }
          parts.push(part);
          continue;
        }
        lit += '$';
        this.pos++;
        continue;
      }
      if (c === '`') {
        if (lit !== '') {
          parts.push({ k: 'lit', v: lit, q: 0 });
          lit = '';
        }
        parts.push({ k: 'sub', sub: this.readBacktick(false), q: 0 });
        continue;
      }
      if (c === '~' && this.pos === start) {
        const m = /^~([A-Za-z0-9_.-]*)(?=$|[/\s;&|()<>:])/.exec(s.slice(this.pos, this.pos + 64));
        if (m) {
          parts.push({ k: 'tilde', user: m[1]! });
          this.pos += m[0].length;
          continue;
        }
      }
      lit += c;
      this.pos++;
    }
    if (lit !== '') {
      if (parts.length === 0 && lit.length === this.pos - start) {
        // One unquoted literal spanning the word: its text is the word as written (no characters were dropped).
        return { parts: [{ k: 'lit', v: lit, q: 0 }], raw: lit };
      }
      parts.push({ k: 'lit', v: lit, q: 0 });
    }
    if (this.pos === start) return undefined;
    return { parts, raw: s.slice(start, this.pos) };
  }

  /** Reads `(…)` (extglob or array assignment) as literal text, honouring quotes. */
  readBalancedLiteral(): string {
    const s = this.src;
    const start = this.pos;
    let depth = 0;
    while (this.pos < s.length) {
      const c = s[this.pos]!;
      if (c === '\\') this.pos += 2;
      else if (c === "'") {
        const end = s.indexOf("'", this.pos + 1);
        if (end < 0) this.fail('unterminated single quote');
        this.pos = end + 1;
      } else if (c === '"') {
        this.pos++;
        this.readDoubleQuoted();
      } else if (c === '(') {
        depth++;
        this.pos++;
      } else if (c === ')') {
        depth--;
        this.pos++;
        if (depth === 0) return s.slice(start, this.pos);
      } else this.pos++;
    }
    return this.fail('unbalanced "("');
  }

  /** Reads the rest of a double-quoted string (after the opening quote) up to and including the closing one. */
  readDoubleQuoted(): Part[] {
    const parts = this.readDoubleQuotedBody(false);
    if (this.src[this.pos] !== '"') this.fail('unterminated double quote');
    this.pos++;
    return parts;
  }

  /** Reads double-quote-context text up to `"` (or to the end when `toEnd`, for heredoc bodies). */
  readDoubleQuotedBody(toEnd: boolean): Part[] {
    const s = this.src;
    const parts: Part[] = [];
    let lit = '';
    while (this.pos < s.length) {
      const c = s[this.pos]!;
      if (c === '"' && !toEnd) break;
      if (c === '\\') {
        const next = s[this.pos + 1];
        if (next === '\n') {
          this.pos += 2;
          continue;
        }
        if (
          next !== undefined &&
          (next === '$' || next === '`' || next === '\\' || (next === '"' && !toEnd))
        ) {
          lit += next;
          this.pos += 2;
          continue;
        }
        lit += '\\';
        this.pos++;
        continue;
      }
      if (c === '$') {
        const part = this.readDollar(2);
        if (part) {
          if (lit !== '') {
            parts.push({ k: 'lit', v: lit, q: 2 });
            lit = '';
          }
          parts.push(part);
          continue;
        }
        lit += '$';
        this.pos++;
        continue;
      }
      if (c === '`') {
        if (lit !== '') {
          parts.push({ k: 'lit', v: lit, q: 2 });
          lit = '';
        }
        parts.push({ k: 'sub', sub: this.readBacktick(!toEnd), q: 2 });
        continue;
      }
      lit += c;
      this.pos++;
    }
    if (lit !== '') {
      parts.push({ k: 'lit', v: lit, q: 2 });
      lit = '';
    }
    return parts;
  }

  readAnsiC(): string {
    const s = this.src;
    this.pos += 2;
    let out = '';
    while (this.pos < s.length) {
      const c = s[this.pos]!;
      if (c === "'") {
        this.pos++;
        return out;
      }
      if (c !== '\\') {
        out += c;
        this.pos++;
        continue;
      }
      const n = s[this.pos + 1];
      this.pos += 2;
      switch (n) {
        case 'n':
          out += '\n';
          break;
        case 't':
          out += '\t';
          break;
        case 'r':
          out += '\r';
          break;
        case 'a':
          out += '\x07';
          break;
        case 'b':
          out += '\b';
          break;
        case 'e':
        case 'E':
          out += '\x1b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'v':
          out += '\v';
          break;
        case 'x': {
          const m = /^[0-9a-fA-F]{1,2}/.exec(s.slice(this.pos, this.pos + 2));
          if (m) {
            out += String.fromCharCode(Number.parseInt(m[0], 16));
            this.pos += m[0].length;
          } else out += '\\x';
          break;
        }
        case 'u':
        case 'U': {
          const m = (n === 'u' ? /^[0-9a-fA-F]{1,4}/ : /^[0-9a-fA-F]{1,8}/).exec(
            s.slice(this.pos, this.pos + 8),
          );
          if (m) {
            const cp = Number.parseInt(m[0], 16);
            out += cp <= 0x10ffff ? String.fromCodePoint(cp) : '';
            this.pos += m[0].length;
          } else out += `\\${n}`;
          break;
        }
        case 'c': {
          const ch = s[this.pos];
          if (ch !== undefined) {
            out += String.fromCharCode(ch.charCodeAt(0) & 31);
            this.pos++;
          }
          break;
        }
        case undefined:
          return this.fail("unterminated $'…' string");
        default:
          if (n >= '0' && n <= '7') {
            const m = /^[0-7]{0,2}/.exec(s.slice(this.pos, this.pos + 2))!;
            out += String.fromCharCode(Number.parseInt(n + m[0], 8) & 255);
            this.pos += m[0].length;
          } else if (n === '\\' || n === "'" || n === '"' || n === '?') out += n;
          else out += `\\${n}`;
      }
    }
    return this.fail("unterminated $'…' string");
  }

  /** Reads `$…` at the current position; undefined when the `$` is literal. */
  readDollar(q: Quote): Part | undefined {
    const s = this.src;
    const start = this.pos;
    const n = s[this.pos + 1];
    if (n === '(') {
      if (s[this.pos + 2] === '(') {
        const end = this.scanArith(this.pos + 3);
        if (end >= 0) {
          const sub = this.arithSub(this.pos + 3, end - 2, s.slice(start, end));
          this.pos = end;
          return { k: 'sub', sub, q };
        }
      }
      this.pos += 2;
      return { k: 'sub', sub: this.readCmdSub('cmd', start), q };
    }
    if (n === '{') return this.readBraceParam(q);
    if (n === '[') {
      const end = s.indexOf(']', this.pos + 2);
      if (end < 0) this.fail('unterminated $[');
      const sub = this.arithSub(this.pos + 2, end, s.slice(start, end + 1));
      this.pos = end + 1;
      return { k: 'sub', sub, q };
    }
    if (n !== undefined && /[A-Za-z_]/.test(n)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(s.slice(this.pos + 1, this.pos + 257))!;
      this.pos += 1 + m[0].length;
      return { k: 'param', name: m[0], raw: s.slice(start, this.pos), q, plain: true, subs: [] };
    }
    if (n !== undefined && /[0-9@*#?$!-]/.test(n)) {
      this.pos += 2;
      return { k: 'param', name: n, raw: s.slice(start, this.pos), q, plain: true, subs: [] };
    }
    return undefined;
  }

  readBraceParam(q: Quote): Part {
    const s = this.src;
    const start = this.pos;
    this.pos += 2;
    this.enter();
    const subs: Sub[] = [];
    let depth = 1;
    while (this.pos < s.length) {
      const c = s[this.pos]!;
      if (c === '\\') this.pos += 2;
      else if (c === "'" && q === 0) {
        const end = s.indexOf("'", this.pos + 1);
        if (end < 0) this.fail('unterminated single quote');
        this.pos = end + 1;
      } else if (c === '"') {
        this.pos++;
        for (const p of this.readDoubleQuoted()) {
          if (p.k === 'sub') subs.push(p.sub);
          else if (p.k === 'param') subs.push(...p.subs);
        }
      } else if (c === '`') subs.push(this.readBacktick(q === 2));
      else if (c === '$') {
        if (s[this.pos + 1] === '{') {
          depth++;
          this.pos += 2;
        } else {
          const p = this.readDollar(q);
          if (!p) this.pos++;
          else if (p.k === 'sub') subs.push(p.sub);
          else if (p.k === 'param') subs.push(...p.subs);
        }
      } else if (c === '{') {
        this.pos++;
      } else if (c === '}') {
        depth--;
        this.pos++;
        if (depth === 0) break;
      } else this.pos++;
    }
    if (depth !== 0) this.fail('unterminated ${');
    this.leave();
    const raw = s.slice(start, this.pos);
    const inner = raw.slice(2, -1);
    const m = /^[#!]?([A-Za-z_][A-Za-z0-9_]*|[0-9]+|[@*#?$!-])/.exec(inner);
    const name = m ? m[1]! : '';
    return {
      k: 'param',
      name,
      raw,
      q,
      plain: m !== null && m[0] === inner && !inner.startsWith('#') && !inner.startsWith('!'),
      subs,
    };
  }

  /** Parses `$(…)`, `<(…)` or `>(…)` in place (the opening is already consumed). */
  readCmdSub(kind: 'cmd' | 'in' | 'out', start: number): Sub {
    this.enter();
    const body = this.parseScript({ paren: true });
    if (this.src[this.pos] !== ')')
      this.fail(kind === 'cmd' ? 'unbalanced "$("' : 'unbalanced process substitution');
    this.pos++;
    this.leave();
    return { kind, raw: this.src.slice(start, this.pos), body };
  }

  readBacktick(inDouble: boolean): Sub {
    const s = this.src;
    const start = this.pos;
    let i = this.pos + 1;
    let content = '';
    for (;;) {
      if (i >= s.length) this.fail('unterminated backtick');
      const c = s[i]!;
      if (c === '`') break;
      if (c === '\\') {
        const n = s[i + 1];
        if (n === '$' || n === '`' || n === '\\' || (inDouble && n === '"')) {
          content += n;
          i += 2;
          continue;
        }
        if (n === '\n') {
          i += 2;
          continue;
        }
        content += c;
        i++;
        continue;
      }
      content += c;
      i++;
    }
    this.pos = i + 1;
    this.enter();
    const sub = new _Parser(content, this.st);
    const body = sub.parseScript({});
    sub.finish();
    this.leave();
    return { kind: 'cmd', raw: s.slice(start, this.pos), body };
  }

  /**
   * Scans an arithmetic expression starting after its `((`: returns the index after the closing `))`, or -1 when
   * the parentheses do not close as `))` (then `$((`/`((` opens a nested subshell instead).
   */
  scanArith(from: number): number {
    const s = this.src;
    let depth = 0;
    let i = from;
    while (i < s.length) {
      const c = s[i]!;
      if (c === '\\') i += 2;
      else if (c === "'") {
        const end = s.indexOf("'", i + 1);
        if (end < 0) return -1;
        i = end + 1;
      } else if (c === '"') {
        i++;
        while (i < s.length && s[i] !== '"') i += s[i] === '\\' ? 2 : 1;
        i++;
      } else if (c === '(') {
        depth++;
        i++;
      } else if (c === ')') {
        if (depth > 0) {
          depth--;
          i++;
        } else return s[i + 1] === ')' ? i + 2 : -1;
      } else i++;
    }
    return -1;
  }

  arithSub(from: number, to: number, raw: string): Sub {
    const text = this.src.slice(from, to);
    if (!/[$`]/.test(text)) return { kind: 'arith', raw, parts: [] };
    this.enter();
    const p = new _Parser(text, this.st);
    const parts = p.readDoubleQuotedBody(true);
    this.leave();
    return { kind: 'arith', raw, parts };
  }
}
