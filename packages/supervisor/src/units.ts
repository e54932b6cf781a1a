import { SupervisorError } from './errors.ts';

/** The systemd template unit's file name. */
export const SYSTEMD_UNIT_NAME = 'defenseclaw-gateway@.service';

/** The launchd job label (and plist base name). */
export const LAUNCHD_LABEL = 'ai.defenseclaw.gateway';

/** Options of `renderSystemdUnit`. */
export type SystemdUnitOptions = {
  /** The absolute command, e.g. `['/usr/local/bin/defenseclaw-gateway', 'run']`. */
  execStart: readonly string[];
  /** Extra environment, e.g. `{ DEFENSECLAW_HOME: '/srv/dc' }` for a non-default data dir. */
  environment?: Readonly<Record<string, string>>;
};

/**
 * Renders the `defenseclaw-gateway@.service` template unit (spec 20 §2.9): network-online ordering, `Type=exec`,
 * `User=%i`, `Restart=on-failure`, `RestartSec=5`, journal output, `WantedBy=default.target`. Arguments are quoted
 * and `%`/`$` escaped as systemd requires.
 *
 * @example
 * ```ts
 * const text = renderSystemdUnit({ execStart: ['/usr/bin/defenseclaw-gateway', 'run'] });
 * ```
 */
export function renderSystemdUnit(options: SystemdUnitOptions): string {
  if (options.execStart.length === 0 || !options.execStart[0]!.startsWith('/')) {
    throw new SupervisorError('INVALID_ARGUMENT', 'execStart must start with an absolute path');
  }
  const lines = [
    '[Unit]',
    'Description=DefenseClaw gateway sidecar (%i)',
    'After=network-online.target',
    'Wants=network-online.target',
    '',
    '[Service]',
    'Type=exec',
    'User=%i',
    ...Object.entries(options.environment ?? {}).map(
      ([key, value]) => `Environment=${systemdQuote(`${checkEnvName(key)}=${value}`)}`,
    ),
    `ExecStart=${options.execStart.map(systemdQuote).join(' ')}`,
    'Restart=on-failure',
    'RestartSec=5',
    'StandardOutput=journal',
    'StandardError=journal',
    '',
    '[Install]',
    'WantedBy=default.target',
    '',
  ];
  return lines.join('\n');
}

/** Options of `renderLaunchdPlist`. */
export type LaunchdPlistOptions = {
  /** The absolute program and its arguments, e.g. `['/usr/local/bin/defenseclaw-gateway', 'run']`. */
  programArguments: readonly string[];
  /** Where launchd writes the job's stdout. */
  stdoutPath: string;
  /** Where launchd writes the job's stderr. */
  stderrPath: string;
  /** Extra environment (`EnvironmentVariables`), only for a non-default data dir. */
  environment?: Readonly<Record<string, string>>;
  /** The job label. @default LAUNCHD_LABEL */
  label?: string;
};

/**
 * Renders the launchd agent plist (spec 20 §2.9): `Label`, `ProgramArguments`, `RunAtLoad` and `KeepAlive` true,
 * stdout/stderr paths, and `EnvironmentVariables` when given. Every string is XML-escaped.
 *
 * @example
 * ```ts
 * const xml = renderLaunchdPlist({ programArguments: [bin, 'run'], stdoutPath, stderrPath });
 * ```
 */
export function renderLaunchdPlist(options: LaunchdPlistOptions): string {
  if (options.programArguments.length === 0 || !options.programArguments[0]!.startsWith('/')) {
    throw new SupervisorError('INVALID_ARGUMENT', 'programArguments must start with an absolute path');
  }
  const env = Object.entries(options.environment ?? {});
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">',
    '<plist version="1.0">',
    '<dict>',
    '  <key>Label</key>',
    `  <string>${xmlEscape(options.label ?? LAUNCHD_LABEL)}</string>`,
    '  <key>ProgramArguments</key>',
    '  <array>',
    ...options.programArguments.map((arg) => `    <string>${xmlEscape(arg)}</string>`),
    '  </array>',
    ...(env.length === 0
      ? []
      : [
          '  <key>EnvironmentVariables</key>',
          '  <dict>',
          ...env.flatMap(([key, value]) => [
            `    <key>${xmlEscape(checkEnvName(key))}</key>`,
            `    <string>${xmlEscape(value)}</string>`,
          ]),
          '  </dict>',
        ]),
    '  <key>RunAtLoad</key>',
    '  <true/>',
    '  <key>KeepAlive</key>',
    '  <true/>',
    '  <key>StandardOutPath</key>',
    `  <string>${xmlEscape(options.stdoutPath)}</string>`,
    '  <key>StandardErrorPath</key>',
    `  <string>${xmlEscape(options.stderrPath)}</string>`,
    '</dict>',
    '</plist>',
    '',
  ];
  return lines.join('\n');
}

// --- internal ---

function checkEnvName(name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
    throw new SupervisorError(
      'INVALID_ARGUMENT',
      `invalid environment variable name ${JSON.stringify(name)}`,
    );
  }
  return name;
}

// systemd splits ExecStart on whitespace and expands %-specifiers and $VARS; quote and escape so a path with
// spaces, quotes, percent or dollar signs reaches the program verbatim.
function systemdQuote(value: string): string {
  if (/[\n\r]/.test(value))
    throw new SupervisorError('INVALID_ARGUMENT', 'unit values cannot contain newlines');
  const escaped = value.replaceAll('%', '%%').replaceAll('$', '$$$$');
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(escaped)) return escaped;
  return `"${escaped.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
}

function xmlEscape(value: string): string {
  return value
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&apos;');
}
