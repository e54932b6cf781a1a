// An expanded word as the emitter sees it.

/** What a substitution inside a word ran: the programs of its commands and its top-level command ids. */
export type SubRef = { kind: 'cmd' | 'in' | 'out' | 'arith'; programs: string[]; nodes: number[] };

/** One argv item after quote removal and expansion bookkeeping. */
export type Arg = {
  /** argv form: quotes removed, expansions kept as written (`$HOME`, `$(curl x)`). */
  text: string;
  /** Normalised form: `~`, `$HOME`, `${HOME}` → `<home>`; otherwise like `text`. */
  norm: string;
  /** Uses `$VAR` (other than HOME/IFS), a substitution or an arithmetic expansion. */
  dynamic: boolean;
  /** Has unquoted glob characters (`*`, `?`, `[`). */
  glob: boolean;
  subs: SubRef[];
  /** The word is exactly one process substitution. */
  procsub?: 'in' | 'out';
};

/** Makes a literal argument (argv items given as an array, values split out of other words). */
export function literalArg(text: string, norm?: string): Arg {
  return { text, norm: norm ?? homeNorm(text), dynamic: false, glob: false, subs: [] };
}

/** Applies home normalisation to literal text: a leading `~`/`~/`, and `$HOME`/`${HOME}` anywhere. */
export function homeNorm(text: string): string {
  let t = text.replace(/\$\{HOME\}|\$HOME(?![A-Za-z0-9_])/g, '<home>');
  if (t === '~' || t.startsWith('~/')) t = `<home>${t.slice(1)}`;
  return t;
}

/** Derives an argument from part of another (a flag value cut from `--opt=value`, `-ofile`, `@file`). */
export function sliceArg(a: Arg, text: string): Arg {
  return {
    text,
    norm: homeNorm(text),
    dynamic: a.dynamic && /[$`]/.test(text),
    glob: a.glob && /[*?[]/.test(text),
    subs: a.subs,
  };
}
