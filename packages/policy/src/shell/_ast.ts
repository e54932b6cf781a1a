// Internal syntax tree of the POSIX-shell subset `parseCommand` understands.

/** 0 = unquoted, 1 = single-quoted or ANSI-C `$'…'`, 2 = double-quoted (or an unquoted heredoc body). */
export type Quote = 0 | 1 | 2;

/** A substitution: command, process or arithmetic, with its parsed body. */
export type Sub = {
  /** `cmd`: `$(…)` or backticks; `in`/`out`: `<(…)`/`>(…)`; `arith`: `$((…))` / `((…))`. */
  kind: 'cmd' | 'in' | 'out' | 'arith';
  raw: string;
  body?: Script;
  /** Expansion parts inside an arithmetic expression (their substitutions run). */
  parts?: Part[];
};

/** One piece of a word: literal text, a tilde, a parameter expansion or a substitution. */
export type Part =
  | { k: 'lit'; v: string; q: Quote }
  /** An unquoted leading `~` (user is '' for the current user). */
  | { k: 'tilde'; user: string }
  /** `$NAME`, `${…}`; `plain` when it is a bare name without operators. */
  | { k: 'param'; name: string; raw: string; q: Quote; plain: boolean; subs: Sub[] }
  | { k: 'sub'; sub: Sub; q: Quote };

/** A shell word as written (`raw`) and as its parts. */
export type Word = { parts: Part[]; raw: string };

/** A heredoc: its delimiter, quoting, `<<-` stripping and body. */
export type Heredoc = {
  delim: string;
  quoted: boolean;
  strip: boolean;
  body: string;
  /** Expansion parts of an unquoted body (its substitutions run before the command reads it). */
  parts?: Part[];
};

/** A redirection: operator, optional fd, and a target word or heredoc. */
export type Redir = { op: string; fd?: number; target?: Word; heredoc?: Heredoc };

/** A simple command: its words and redirections. */
export type SimpleCmd = { type: 'simple'; words: Word[]; redirs: Redir[] };

/** A subshell, brace group, compound command (if/for/while/case) or function body, flattened. */
export type GroupCmd = { type: 'group'; bodies: Script[]; words: Word[]; redirs: Redir[] };

/** Any command node. */
export type Cmd = SimpleCmd | GroupCmd;

/** Commands joined by `|` or `|&`. */
export type Pipeline = { cmds: Cmd[] };

/** Pipelines joined by `&&` or `||`. */
export type AndOr = { pipelines: Pipeline[] };

/** A list of and-or lists separated by `;`, `&` or newlines. */
export type Script = { items: AndOr[] };
