import { stripVTControlCharacters } from 'node:util';
import { type ArgsDef, type CommandDef, defineCommand, renderUsage, runCommand } from 'citty';
import { CliError, EXIT_CODES, isCliError } from './cli-error.ts';
import { globalArgs } from './commands/_global-args.ts';
import { loadModule } from './commands/_load-module.ts';
import { isConfigError } from './config/config-error.ts';
import { APP_NAME, APP_VERSION, formatVersionLine, getVersionInfo } from './version-info.ts';

type AnyCommand = CommandDef<ArgsDef>;

/** The subcommands this build ships, loaded on demand so `--help` and `version` never load the sidecar. */
export const subCommands: Readonly<Record<string, () => Promise<AnyCommand>>> = {
  _watchdog: () => command('./commands/watchdog.ts'),
  alerts: () => command('./commands/alerts.ts'),
  doctor: () => command('./commands/doctor.ts'),
  init: () => command('./commands/init.ts'),
  policy: () => command('./commands/policy.ts'),
  restart: () => command('./commands/restart.ts'),
  run: () => command('./commands/run.ts'),
  status: () => command('./commands/status.ts'),
  service: () => command('./commands/service.ts'),
  setup: () => command('./commands/setup.ts'),
  start: () => command('./commands/start.ts'),
  stop: () => command('./commands/stop.ts'),
  version: () => command('./commands/version.ts'),
};

/** The root `defenseclaw-gateway` command. */
export const main = defineCommand({
  meta: {
    name: APP_NAME,
    version: APP_VERSION,
    description: 'DefenseClaw security sidecar for the OpenClaw gateway',
  },
  args: { ...globalArgs },
  subCommands,
}) as unknown as AnyCommand;

/**
 * Runs the CLI and returns the exit code: 0 ok, 1 runtime failure, 2 usage, 3 invalid configuration, 4 address in
 * use. Expected failures print their message to stderr; nothing here calls `process.exit`.
 *
 * @example
 * ```ts
 * process.exitCode = await runCli(process.argv.slice(2));
 * ```
 */
export async function runCli(argv: readonly string[]): Promise<number> {
  const rawArgs = moveLeadingFlags(argv);
  const name = rawArgs[0];
  let sub: AnyCommand | undefined;
  try {
    sub = name !== undefined && Object.hasOwn(subCommands, name) ? await subCommands[name]!() : undefined;
    // Usage and flag checks go to the innermost subcommand named (`setup guardrail`).
    const leaf = sub === undefined ? undefined : await resolveLeaf(sub, rawArgs.slice(1));
    if (leaf !== undefined && leaf.command !== sub) {
      parents.set(leaf.command, leaf.parent);
      sub = leaf.command;
    }
    if (rawArgs.includes('--help') || rawArgs.includes('-h')) {
      process.stdout.write(`${await usage(sub, process.stdout, rawArgs)}\n`);
      return EXIT_CODES.OK;
    }
    if (sub === undefined && (rawArgs[0] === '--version' || rawArgs[0] === '-v')) {
      process.stdout.write(`${formatVersionLine(await getVersionInfo())}\n`);
      return EXIT_CODES.OK;
    }
    if (name === undefined || name.startsWith('-')) {
      throw new CliError(EXIT_CODES.USAGE, name === undefined ? 'no command given' : `unknown flag ${name}`);
    }
    if (sub === undefined) throw new CliError(EXIT_CODES.USAGE, `unknown command ${JSON.stringify(name)}`);
    const unknown = findUnknownFlag(leaf!.rest, (leaf!.command.args ?? {}) as ArgsDef);
    const named = rawArgs.slice(0, rawArgs.length - leaf!.rest.length).join(' ');
    if (unknown !== undefined) throw new CliError(EXIT_CODES.USAGE, `unknown flag ${unknown} for ${named}`);
    await runCommand(main, { rawArgs: [...rawArgs] });
    return EXIT_CODES.OK;
  } catch (error) {
    return await report(error, sub, rawArgs);
  }
}

// --- internal ---

function command(path: string): Promise<AnyCommand> {
  return loadModule<{ default: unknown }>(new URL(path, import.meta.url)).then(
    (m) => m.default as AnyCommand,
  );
}

// Nested subcommands and their parent, for usage lines such as `defenseclaw-gateway setup guardrail`.
const parents = new WeakMap<AnyCommand, AnyCommand>();

async function usage(sub: AnyCommand | undefined, stream: { isTTY?: boolean }, rawArgs: readonly string[]) {
  const parent = sub === undefined ? undefined : (parents.get(sub) ?? main);
  const text = await renderUsage(sub ?? main, parent);
  const color = stream.isTTY === true && !rawArgs.includes('--no-color') && !process.env.NO_COLOR;
  return color ? text : stripVTControlCharacters(text);
}

async function report(
  error: unknown,
  sub: AnyCommand | undefined,
  rawArgs: readonly string[],
): Promise<number> {
  if (isConfigError(error)) {
    process.stderr.write(`${error.message}\n`);
    return EXIT_CODES.CONFIG;
  }
  if (isCliError(error)) {
    // Usage errors get the usage and a program prefix; other CliErrors carry their exact operator message.
    if (error.exitCode === EXIT_CODES.USAGE) {
      process.stderr.write(`${await usage(sub, process.stderr, rawArgs)}\n\n${APP_NAME}: ${error.message}\n`);
    } else if (error.message !== '') {
      // An empty message: the command already printed its outcome and only sets the exit code.
      process.stderr.write(`${error.message}\n`);
    }
    return error.exitCode;
  }
  // citty reports bad arguments with its own error class (name `CLIError`).
  if (error instanceof Error && error.name === 'CLIError') {
    process.stderr.write(`${APP_NAME}: ${error.message}\n`);
    return EXIT_CODES.USAGE;
  }
  process.stderr.write(
    `${APP_NAME}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  return EXIT_CODES.RUNTIME;
}

// citty hands a subcommand only the arguments after its name, so `--home x run` would lose `--home`.
function moveLeadingFlags(argv: readonly string[]): string[] {
  const leading: string[] = [];
  let i = 0;
  while (i < argv.length && argv[i]!.startsWith('-') && argv[i] !== '--') {
    const flag = argv[i]!;
    leading.push(flag);
    i += 1;
    const bare = flag.replace(/^--/, '');
    const def = (globalArgs as ArgsDef)[bare];
    if (def?.type === 'string' && !flag.includes('=') && i < argv.length) {
      leading.push(argv[i]!);
      i += 1;
    }
  }
  if (i >= argv.length || leading.length === 0) return [...argv];
  return [argv[i]!, ...leading, ...argv.slice(i + 1)];
}

// Descends into nested subcommands (`setup guardrail`, `service install`) so flags are checked against the leaf.
async function resolveLeaf(
  command: AnyCommand,
  args: readonly string[],
  parent: AnyCommand = main,
): Promise<{ command: AnyCommand; parent: AnyCommand; rest: readonly string[] }> {
  const subs = command.subCommands as Record<string, AnyCommand | (() => Promise<AnyCommand>)> | undefined;
  const name = args[0];
  if (subs === undefined || name === undefined || !Object.hasOwn(subs, name))
    return { command, parent, rest: args };
  const entry = subs[name]!;
  const next = typeof entry === 'function' ? await entry() : entry;
  return resolveLeaf(next, args.slice(1), command);
}

function findUnknownFlag(args: readonly string[], defs: ArgsDef): string | undefined {
  const known = new Map<string, ArgsDef[string]>();
  for (const [key, def] of Object.entries(defs)) {
    known.set(key, def);
    known.set(
      key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`),
      def,
    );
    const aliases = 'alias' in def ? def.alias : undefined;
    for (const alias of Array.isArray(aliases) ? aliases : aliases === undefined ? [] : [aliases]) {
      known.set(alias, def);
    }
  }
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') break;
    if (!arg.startsWith('-') || arg === '-') continue;
    const name = arg.replace(/^--?/, '').split('=')[0]!;
    const def = known.get(name) ?? known.get(name.replace(/^no-/, ''));
    if (def === undefined) return arg.split('=')[0];
    if (def.type === 'string' && !arg.includes('=')) i += 1;
  }
  return undefined;
}
