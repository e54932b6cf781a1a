import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path';
import {
  LAUNCHD_LABEL,
  renderLaunchdPlist,
  renderSystemdUnit,
  SYSTEMD_UNIT_NAME,
  writeTextFileAtomic,
} from '@defenseclaw/supervisor';
import { type ArgsDef, defineCommand } from 'citty';
import { CliError, EXIT_CODES } from '../cli-error.ts';
import { type GlobalFlags, globalArgs } from './_global-args.ts';
import { checkPidFile, type LifecycleContext, lifecycleContext } from './_lifecycle.ts';
import { createOutput, type Output } from './_output.ts';

/** The system unit directory `service install --systemd` writes to. */
export const SYSTEMD_UNIT_DIR = '/etc/systemd/system';

/** Directories systemd and launchd put on a service's PATH; a Node outside them is named explicitly. */
export const SERVICE_PATH_DIRS = [
  '/usr/local/sbin',
  '/usr/local/bin',
  '/usr/sbin',
  '/usr/bin',
  '/sbin',
  '/bin',
];

/** Flags of `service install` and `service uninstall`. */
export type ServiceFlags = GlobalFlags & {
  systemd?: boolean | undefined;
  launchd?: boolean | undefined;
  print?: boolean | undefined;
  enable?: boolean | undefined;
  load?: boolean | undefined;
  'unit-dir'?: string | undefined;
};

const serviceArgs = {
  ...globalArgs,
  systemd: { type: 'boolean', description: 'The systemd template unit defenseclaw-gateway@.service (Linux)' },
  launchd: { type: 'boolean', description: `The launchd agent ${LAUNCHD_LABEL}.plist (macOS)` },
  print: { type: 'boolean', description: 'Print the unit to stdout and change nothing' },
  enable: { type: 'boolean', description: 'systemd: also run systemctl enable --now for the current user' },
  load: {
    type: 'boolean',
    description: 'launchd: launchctl load after writing (default)',
    negativeDescription: 'launchd: do not run launchctl load',
  },
  'unit-dir': {
    type: 'string',
    description: `systemd: unit directory (default ${SYSTEMD_UNIT_DIR})`,
    valueHint: 'dir',
  },
} as const satisfies ArgsDef;

const install = defineCommand({
  meta: {
    name: 'install',
    description: 'Install the on-boot unit (--systemd or --launchd; --print to preview)',
  },
  args: serviceArgs,
  async run({ args }) {
    await serviceCommand('install', args);
  },
});

const uninstall = defineCommand({
  meta: { name: 'uninstall', description: 'Remove the on-boot unit (--systemd or --launchd)' },
  args: serviceArgs,
  async run({ args }) {
    await serviceCommand('uninstall', args);
  },
});

/** `service install|uninstall --systemd|--launchd [--print] [--enable]` (spec 20 §2.9). */
export default defineCommand({
  meta: {
    name: 'service',
    description: 'Install or remove the systemd / launchd unit (service install --systemd)',
  },
  args: { ...globalArgs },
  subCommands: { install, uninstall },
});

/** Runs `service install` or `service uninstall`. */
export async function serviceCommand(action: 'install' | 'uninstall', flags: ServiceFlags): Promise<void> {
  if (flags.systemd === flags.launchd || (flags.systemd !== true && flags.launchd !== true)) {
    throw new CliError(EXIT_CODES.USAGE, `service ${action}: choose exactly one of --systemd or --launchd`);
  }
  const kind = flags.systemd === true ? 'systemd' : 'launchd';
  const out = createOutput(flags);
  const ctx = lifecycleContext(flags);
  const rendered = renderUnit(kind, ctx);
  if (flags.print === true) {
    if (action === 'uninstall')
      throw new CliError(EXIT_CODES.USAGE, '--print applies to service install only');
    out.write(rendered.text);
    return;
  }
  const platform = kind === 'systemd' ? 'linux' : 'darwin';
  if (process.platform !== platform) {
    throw new CliError(
      EXIT_CODES.USAGE,
      `service ${action} --${kind} needs ${platform === 'linux' ? 'Linux' : 'macOS'}; use --print to see the unit`,
    );
  }
  if (kind === 'systemd') await systemd(action, flags, ctx, rendered.text, out);
  else await launchd(action, flags, ctx, rendered.text, out);
}

/** The unit text and the command it runs. */
export function renderUnit(
  kind: 'systemd' | 'launchd',
  ctx: LifecycleContext,
): { text: string; command: string[] } {
  const command = [...launcherCommand(), 'run'];
  const defaultHome = join(homedir(), '.defenseclaw');
  const environment: Record<string, string> =
    resolve(ctx.dataDir) === defaultHome ? {} : { DEFENSECLAW_HOME: ctx.dataDir };
  if (kind === 'systemd') return { text: renderSystemdUnit({ execStart: command, environment }), command };
  return {
    text: renderLaunchdPlist({
      programArguments: command,
      environment,
      stdoutPath: join(ctx.dataDir, 'gateway.out.log'),
      stderrPath: join(ctx.dataDir, 'gateway.err.log'),
    }),
    command,
  };
}

/**
 * The absolute launcher: `defenseclaw-gateway` found on PATH, else this process's entry script; prefixed with the
 * absolute Node binary when Node's directory is not on a service manager's PATH (nvm, fnm, a checkout).
 */
export function launcherCommand(env: NodeJS.ProcessEnv = process.env): string[] {
  const onPath = findOnPath('defenseclaw-gateway', env.PATH ?? '');
  const entry = process.argv[1];
  const launcher = onPath ?? (entry === undefined ? undefined : isAbsolute(entry) ? entry : resolve(entry));
  if (launcher === undefined)
    throw new CliError(EXIT_CODES.RUNTIME, 'cannot find the defenseclaw-gateway launcher');
  const nodeDir = dirname(process.execPath);
  const isScript = launcher.endsWith('.js') || launcher.endsWith('.mjs');
  return isScript || !SERVICE_PATH_DIRS.includes(nodeDir) ? [process.execPath, launcher] : [launcher];
}

// --- internal ---

async function systemd(
  action: 'install' | 'uninstall',
  flags: ServiceFlags,
  ctx: LifecycleContext,
  text: string,
  out: Output,
): Promise<void> {
  const unitDir = flags['unit-dir'];
  const dir = unitDir === undefined ? SYSTEMD_UNIT_DIR : resolve(unitDir);
  const file = join(dir, SYSTEMD_UNIT_NAME);
  const user = process.env.SUDO_USER ?? userInfo().username;
  const instance = `defenseclaw-gateway@${user}.service`;
  const real = dir === SYSTEMD_UNIT_DIR;
  // systemctl is only called for the real unit directory on a host booted with systemd.
  const systemctl = real && existsSync('/run/systemd/system') && hasProgram('systemctl');
  if (!canWrite(dir)) {
    throw new CliError(EXIT_CODES.RUNTIME, `writing ${dir} requires root: re-run with sudo, or use --print`);
  }
  if (action === 'install') {
    await warnDetached(ctx, out);
    mkdirSync(dir, { recursive: true });
    writeTextFileAtomic(file, text, 0o644);
    out.out(`✔ wrote ${file}`);
    if (systemctl) run(out, 'systemctl', ['daemon-reload']);
    else
      out.out(
        `• systemctl daemon-reload skipped (${real ? 'systemd is not running here' : `custom unit dir ${dir}`})`,
      );
    if (flags.enable === true && systemctl) run(out, 'systemctl', ['enable', '--now', instance]);
    else out.out(`Enable it with: sudo systemctl enable --now ${instance}`);
    return;
  }
  if (!existsSync(file)) {
    out.out(`• ${file} is not installed; nothing to do`);
    return;
  }
  if (systemctl) run(out, 'systemctl', ['disable', '--now', instance]);
  rmSync(file, { force: true });
  out.out(`✔ removed ${file}`);
  if (systemctl) run(out, 'systemctl', ['daemon-reload']);
}

async function launchd(
  action: 'install' | 'uninstall',
  flags: ServiceFlags,
  ctx: LifecycleContext,
  text: string,
  out: Output,
): Promise<void> {
  const dir = join(homedir(), 'Library', 'LaunchAgents');
  const file = join(dir, `${LAUNCHD_LABEL}.plist`);
  const load = flags.load !== false && hasProgram('launchctl');
  if (action === 'install') {
    await warnDetached(ctx, out);
    mkdirSync(dir, { recursive: true });
    writeTextFileAtomic(file, text, 0o644);
    out.out(`✔ wrote ${ctx.show(file)}`);
    if (load) run(out, 'launchctl', ['load', '-w', file]);
    else out.out(`Load it with: launchctl load -w ${ctx.show(file)}`);
    return;
  }
  if (!existsSync(file)) {
    out.out(`• ${ctx.show(file)} is not installed; nothing to do`);
    return;
  }
  if (load) run(out, 'launchctl', ['unload', '-w', file]);
  rmSync(file, { force: true });
  out.out(`✔ removed ${ctx.show(file)}`);
}

async function warnDetached(ctx: LifecycleContext, out: Output): Promise<void> {
  const found = await checkPidFile(ctx, 'daemon', (line) => out.err(line));
  if (found.status === 'ours') {
    out.err(
      `a detached daemon is running (PID ${found.pid}); run 'defenseclaw-gateway stop' before enabling the service`,
    );
  }
}

function run(out: Output, program: string, args: string[]): void {
  const result = spawnSync(program, args, { encoding: 'utf8', timeout: 30_000 });
  if (result.status !== 0) {
    throw new CliError(
      EXIT_CODES.RUNTIME,
      `${program} ${args.join(' ')} failed: ${(result.stderr || result.error?.message || `exit ${result.status}`).trim()}`,
    );
  }
  out.out(`✔ ${program} ${args.join(' ')}`);
}

function canWrite(dir: string): boolean {
  let probe = dir;
  while (!existsSync(probe) && dirname(probe) !== probe) probe = dirname(probe);
  try {
    accessSync(probe, constants.W_OK);
    return statSync(probe).isDirectory();
  } catch {
    return false;
  }
}

function hasProgram(name: string): boolean {
  return findOnPath(name, process.env.PATH ?? '') !== undefined;
}

function findOnPath(name: string, path: string): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (dir === '' || !isAbsolute(dir)) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}
