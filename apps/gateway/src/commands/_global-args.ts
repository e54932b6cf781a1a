import type { ArgsDef } from 'citty';

/** Flags every subcommand accepts (citty has no global flags, so each command spreads these). */
export const globalArgs = {
  home: {
    type: 'string',
    description: 'Data dir (overrides DEFENSECLAW_HOME; default ~/.defenseclaw)',
    valueHint: 'dir',
  },
  config: {
    type: 'string',
    description: 'Config file (overrides DEFENSECLAW_CONFIG; default <data dir>/config.yaml)',
    valueHint: 'file',
  },
  verbose: { type: 'boolean', description: 'Debug logs' },
  color: {
    type: 'boolean',
    description: 'Colour output (default on a TTY unless NO_COLOR is set)',
    negativeDescription: 'No colour output',
  },
} as const satisfies ArgsDef;

/** The parsed global flags. */
export type GlobalFlags = {
  home?: string | undefined;
  config?: string | undefined;
  verbose?: boolean | undefined;
  color?: boolean | undefined;
};

/** Tells whether colour output is wanted: `--no-color`, `NO_COLOR` or a non-TTY stream turn it off. */
export function wantsColor(flags: GlobalFlags, stream: { isTTY?: boolean }): boolean {
  if (flags.color === false) return false;
  if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') return false;
  return flags.color === true || stream.isTTY === true;
}
