import { type GlobalFlags, wantsColor } from './_global-args.ts';

/** A colour function (identity when colour is off). */
export type Paint = (text: string) => string;

/** Where a command prints: human output on stdout, diagnostics on stderr (spec 20 §2.1). */
export type Output = {
  /** Prints a line on stdout. */
  out(line: string): void;
  /** Prints text on stdout without a newline (progress such as `Starting… `). */
  write(text: string): void;
  /** Prints a line on stderr. */
  err(line: string): void;
  readonly green: Paint;
  readonly red: Paint;
  readonly yellow: Paint;
  readonly dim: Paint;
  readonly bold: Paint;
};

/** Creates the output of one command; colours follow `--color`/`--no-color`, `NO_COLOR` and the TTY. */
export function createOutput(flags: GlobalFlags): Output {
  ignoreBrokenPipe();
  const color = wantsColor(flags, process.stdout);
  const paint =
    (open: number, close: number): Paint =>
    (text) =>
      color ? `\u001b[${open}m${text}\u001b[${close}m` : text;
  return {
    out: (line) => process.stdout.write(`${line}\n`),
    write: (text) => process.stdout.write(text),
    err: (line) => process.stderr.write(`${line}\n`),
    green: paint(32, 39),
    red: paint(31, 39),
    yellow: paint(33, 39),
    dim: paint(2, 22),
    bold: paint(1, 22),
  };
}

let pipeGuarded = false;

// `status | head -3` closes the pipe early: stop writing quietly instead of crashing on EPIPE.
function ignoreBrokenPipe(): void {
  if (pipeGuarded) return;
  pipeGuarded = true;
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') throw error;
    });
  }
}

/** An output that prints nothing (the watchdog logs its decisions instead). */
export const silentOutput: Output = {
  out: () => {},
  write: () => {},
  err: () => {},
  green: (t) => t,
  red: (t) => t,
  yellow: (t) => t,
  dim: (t) => t,
  bold: (t) => t,
};
