/** How a command touches a path. */
export type Access = 'read' | 'write' | 'delete' | 'exec' | 'meta' | 'unknown';

/** The address class of an IP literal (or of a well-known metadata hostname). */
export type IpClass = 'loopback' | 'private' | 'link_local' | 'metadata' | 'cgnat' | 'public';

/** One redirection of a simple command; `target` is normalised like an operand. */
export type Redirect = {
  op: '>' | '>>' | '<' | '<<' | '<<<' | '>&' | '&>' | '2>' | string;
  target: string;
  fd?: number;
};

/** One simple command after unwrapping and normalisation (spec 30 §A5.9). */
export type SimpleCommand = {
  /** Unquoted words; argv[0] as written. */
  argv: string[];
  /** argv[0] basename, lowercased, leading '\' stripped, version suffix removed (python3.12 → python). */
  program: string;
  /** argv.slice(1). */
  args: string[];
  /** Every flag; short clusters expanded (-rf → -r, -f); long flags kept with '--' (value part cut at '='). */
  flags: Set<string>;
  /** Non-flag args, normalised (~, $HOME, ${HOME} → <home>; '..' resolved). */
  operands: string[];
  /** An operand used $VAR/$(…) (never satisfies `equals`). */
  dynamicOperands: boolean;
  /** Ran under sudo/doas (unwrapped). */
  sudo: boolean;
  /** Came from `ssh host '<cmd>'`. */
  remote: boolean;
  /** Redirections; targets normalised like operands. */
  redirects: Redirect[];
  /** Programs this command's stdout feeds (direct pipe, via xargs/tee, >(…)). */
  pipesTo: string[];
  /** Programs feeding this command's stdin. */
  pipesFrom: string[];
  /** This command is a shell/eval/source executing the output of these programs via $(…), ``, <(…). */
  executesSubstitutionOf: string[];
  /** Normalised simple command: program + args unquoted, single spaces (for command list globs). */
  text: string;
  /** Nesting depth (0 = top level; bash -c / $(…) / eval increase it). */
  depth: number;
};

/** A path a command (or a tool argument) touches. */
export type PathFact = {
  /** Normalised path (`<home>` for the home directory, `..` resolved). */
  path: string;
  raw: string;
  access: Access;
  source: 'operand' | 'redirect' | 'arg';
  dynamic: boolean;
  pointer?: string;
};

/** A URL or host a command (or a tool argument) targets. */
export type UrlFact = {
  raw: string;
  scheme?: string;
  /** Lowercased host; IP literals in canonical dotted / compressed form. */
  host: string;
  port?: number;
  ipClass?: IpClass;
  pointer?: string;
};

/** Whether a parse saw all of the input (`partial`: limits hit; `failed`: unbalanced quotes or substitutions). */
export type ParseStatus = 'complete' | 'partial' | 'failed';

/** Everything `parseCommand` learns about a shell command line. */
export type CommandFacts = {
  status: ParseStatus;
  commands: SimpleCommand[];
  paths: PathFact[];
  urls: UrlFact[];
  issues: string[];
  raw: string;
  /** Empty quote pairs + backslashes before ordinary chars removed, whitespace collapsed. */
  deobfuscated: string;
  heredocs: string[];
};
