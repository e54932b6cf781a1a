import { existsSync, lstatSync, statfsSync } from 'node:fs';
import { connect } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { findMarkedProcesses, LAUNCHD_LABEL, readPidFile, SYSTEMD_UNIT_NAME } from '@defenseclaw/supervisor';
import { defineCommand } from 'citty';
import { CliError, EXIT_CODES, isCliError } from '../cli-error.ts';
import { isConfigError } from '../config/config-error.ts';
import { loadEnvFile } from '../config/env-file.ts';
import { loadConfig } from '../config/load.ts';
import { formatMode } from '../config/paths.ts';
import { type Config, defaultConfig } from '../config/schema.ts';
import { apiAddress, apiRequest, readApiToken } from './_api-client.ts';
import { apiSettingsOf, findDaemonByStatus, listenerAddress, listenersOf, tryBind } from './_daemon.ts';
import { type GlobalFlags, globalArgs } from './_global-args.ts';
import { type LifecycleContext, lifecycleContext, roleMatcher, verifyRole } from './_lifecycle.ts';
import { loadModule } from './_load-module.ts';
import { createOutput } from './_output.ts';

/** One doctor check's outcome. */
export type Check = { id: string; status: 'pass' | 'warn' | 'fail'; message: string; fix?: string };

/** Flags of `doctor`. */
export type DoctorFlags = GlobalFlags & { json?: boolean | undefined };

/** Least free space `doctor` accepts next to `audit.db` before warning. */
export const MIN_FREE_BYTES = 100 * 1024 * 1024;

/** `doctor [--json]`: diagnose config, files, ports, PID files, OpenClaw, token, DB and runtime (spec 20 §2.7). */
export default defineCommand({
  meta: { name: 'doctor', description: 'Check config, files, ports, PID files, OpenClaw, token and DB' },
  args: { ...globalArgs, json: { type: 'boolean', description: 'Print the checks as JSON' } },
  async run({ args }) {
    await doctorCommand(args);
  },
});

/** Runs every check, prints one `[PASS]`/`[WARN]`/`[FAIL]` line each (or JSON), exits 1 if any failed. */
export async function doctorCommand(flags: DoctorFlags): Promise<void> {
  const out = createOutput(flags);
  const ctx = lifecycleContext(flags);
  const checks = await runChecks(ctx);
  const summary = {
    pass: checks.filter((c) => c.status === 'pass').length,
    warn: checks.filter((c) => c.status === 'warn').length,
    fail: checks.filter((c) => c.status === 'fail').length,
  };
  if (flags.json) {
    out.out(JSON.stringify({ checks, summary }));
  } else {
    for (const check of checks) {
      const tag =
        check.status === 'pass'
          ? out.green('[PASS]')
          : check.status === 'warn'
            ? out.yellow('[WARN]')
            : out.red('[FAIL]');
      out.out(`${tag} ${check.id}: ${check.message}${check.fix === undefined ? '' : ` — fix: ${check.fix}`}`);
    }
    out.out(`${summary.pass} passed, ${summary.warn} warnings, ${summary.fail} failed`);
  }
  if (summary.fail > 0) throw new CliError(EXIT_CODES.RUNTIME, '');
}

/** Runs the checks in order; a failed config check leaves the others running on defaults. */
export async function runChecks(ctx: LifecycleContext): Promise<Check[]> {
  const checks: Check[] = [];
  const { check: configCheck, config } = await checkConfig(ctx);
  checks.push(configCheck);
  checks.push(...checkFiles(ctx, config));
  const daemon = await verifyDaemon(ctx);
  checks.push(...(await checkPorts(ctx, config, daemon)));
  checks.push(await checkPidFiles(ctx));
  checks.push(await checkOpenClaw(config));
  checks.push(await checkApiToken(ctx, config, daemon));
  checks.push(await checkDb(config, daemon));
  if (config.splunk.enabled) checks.push(checkSplunk(config));
  checks.push(await checkSupervision(ctx, config, daemon));
  checks.push(await checkRuntime());
  return checks;
}

// --- internal ---

type Daemon = { pid: number } | undefined;

async function verifyDaemon(ctx: LifecycleContext): Promise<Daemon> {
  const content = readPidFile(ctx.pidFile);
  if (content.kind !== 'pid') return undefined;
  const verdict = await verifyRole(ctx, 'daemon', content.pid);
  return verdict.status === 'ours' ? { pid: content.pid } : undefined;
}

async function checkConfig(ctx: LifecycleContext): Promise<{ check: Check; config: Config }> {
  const shown = ctx.show(ctx.configPath);
  try {
    loadEnvFile(join(ctx.dataDir, '.env'));
    const loaded = loadConfig({ dataDir: ctx.dataDir, configPath: ctx.configPath });
    const { loadSidecarPolicy } = await loadModule<typeof import('../sidecar/policy-setup.ts')>(
      new URL('../sidecar/policy-setup.ts', import.meta.url),
    );
    const policy = await loadSidecarPolicy(loaded.config);
    return {
      check: {
        id: 'config',
        status: 'pass',
        message: `${loaded.exists ? shown : `${shown} absent (built-in defaults)`} valid; ${policy.policy.rules.length} rules in ${policy.policy.generation.packs.length} packs compile`,
      },
      config: loaded.config,
    };
  } catch (error) {
    if (!isConfigError(error) && !(isCliError(error) && error.exitCode === EXIT_CODES.CONFIG)) throw error;
    const lines = (error as Error).message.split('\n').filter((l) => l.trim() !== '');
    return {
      check: {
        id: 'config',
        status: 'fail',
        message: lines.map((l) => l.trim()).join('; '),
        fix: `edit ${shown} (or the named variable / pack); every issue is listed`,
      },
      config: resolvedDefaults(ctx),
    };
  }
}

function resolvedDefaults(ctx: LifecycleContext): Config {
  const config = defaultConfig();
  return {
    ...config,
    gateway: { ...config.gateway, device_key_file: join(ctx.dataDir, 'device.key') },
    audit: { ...config.audit, path: join(ctx.dataDir, 'audit.db') },
    policy: { ...config.policy, pack_dirs: [join(ctx.dataDir, 'policies')] },
  };
}

function checkFiles(ctx: LifecycleContext, config: Config): Check[] {
  const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
  const problems: { fail: string[]; warn: string[]; fixes: string[] } = { fail: [], warn: [], fixes: [] };
  const inspect = (path: string, want: number, kind: 'dir' | 'file') => {
    let stat: ReturnType<typeof lstatSync>;
    try {
      stat = lstatSync(path);
    } catch {
      return;
    }
    const shown = ctx.show(path);
    if (stat.isSymbolicLink()) {
      problems.fail.push(`${shown} is a symlink`);
      problems.fixes.push(`replace ${shown} with a regular ${kind}`);
      return;
    }
    if (uid !== undefined && stat.uid !== uid) {
      problems.fail.push(`${shown} is owned by uid ${stat.uid}`);
      problems.fixes.push(`chown $(id -u) ${shown}`);
      return;
    }
    const mode = stat.mode & 0o777;
    if ((mode & ~want) !== 0) {
      problems.warn.push(`${shown} has mode ${formatMode(mode)}`);
      problems.fixes.push(`chmod ${want.toString(8)} ${shown}`);
    }
  };
  if (!existsSync(ctx.dataDir)) {
    return [
      {
        id: 'files',
        status: 'warn',
        message: `data dir ${ctx.show(ctx.dataDir)} does not exist yet`,
        fix: 'defenseclaw-gateway init',
      },
    ];
  }
  inspect(ctx.dataDir, 0o700, 'dir');
  inspect(join(ctx.dataDir, '.env'), 0o600, 'file');
  inspect(config.gateway.device_key_file, 0o600, 'file');
  inspect(config.audit.path, 0o600, 'file');
  if (problems.fail.length > 0) {
    return [
      { id: 'files', status: 'fail', message: problems.fail.join('; '), fix: problems.fixes.join('; ') },
    ];
  }
  if (problems.warn.length > 0) {
    return [
      {
        id: 'files',
        status: 'warn',
        message: `too loose: ${problems.warn.join('; ')}`,
        fix: problems.fixes.join('; '),
      },
    ];
  }
  return [
    { id: 'files', status: 'pass', message: 'data dir 0700; .env, device.key and audit.db private to you' },
  ];
}

async function checkPorts(ctx: LifecycleContext, config: Config, daemon: Daemon): Promise<Check[]> {
  const api = apiSettingsOf(config);
  const out: Check[] = [];
  for (const listener of listenersOf(config)) {
    const address = listenerAddress(listener);
    const code = await tryBind(listener);
    if (code === undefined) {
      out.push({ id: 'ports', status: 'pass', message: `${address} (${listener.key}) is free` });
      continue;
    }
    if (code !== 'EADDRINUSE') {
      out.push({
        id: 'ports',
        status: 'fail',
        message: `cannot bind ${address} (${listener.key}): ${code}`,
        fix: `change ${listener.key}`,
      });
      continue;
    }
    const byStatus = await findDaemonByStatus(ctx, api);
    const ours = byStatus ?? (daemon !== undefined && (await answersHealth(api)) ? daemon.pid : undefined);
    out.push(
      ours !== undefined
        ? {
            id: 'ports',
            status: 'pass',
            message: `${address} (${listener.key}) is held by our daemon (PID ${ours})`,
          }
        : {
            id: 'ports',
            status: 'fail',
            message: `${address} (${listener.key}) is held by another process`,
            fix: `find it with 'lsof -i :${listener.port}', or change ${listener.key} in ${ctx.show(ctx.configPath)}`,
          },
    );
  }
  return out;
}

async function answersHealth(api: ReturnType<typeof apiSettingsOf>): Promise<boolean> {
  try {
    return (await apiRequest(api, { path: '/health', timeoutMs: 1000 })).status === 200;
  } catch {
    return false;
  }
}

async function checkPidFiles(ctx: LifecycleContext): Promise<Check> {
  const warnings: string[] = [];
  const named = new Set<number>();
  for (const role of ['daemon', 'watchdog'] as const) {
    const file = role === 'daemon' ? ctx.pidFile : ctx.watchdogPidFile;
    const content = readPidFile(file);
    if (content.kind === 'absent') continue;
    if (content.kind === 'invalid') {
      warnings.push(`${ctx.show(file)} does not hold a process id`);
      continue;
    }
    named.add(content.pid);
    const verdict = await verifyRole(ctx, role, content.pid);
    if (verdict.status === 'dead')
      warnings.push(`${ctx.show(file)} names PID ${content.pid}, which is not running`);
    if (verdict.status === 'foreign') {
      warnings.push(`${ctx.show(file)} names PID ${content.pid}, which is not a defenseclaw-gateway ${role}`);
    }
  }
  const orphans = [
    ...findMarkedProcesses(roleMatcher(ctx, 'daemon')),
    ...findMarkedProcesses(roleMatcher(ctx, 'watchdog')),
  ].filter((pid) => !named.has(pid));
  if (orphans.length > 0) {
    return {
      id: 'pidfiles',
      status: 'fail',
      message: `orphaned process${orphans.length === 1 ? '' : 'es'} for this data dir that no PID file names: PID ${orphans.join(', ')}`,
      fix: `'defenseclaw-gateway start' stops them, or kill ${orphans.join(' ')}`,
    };
  }
  if (warnings.length > 0) {
    return {
      id: 'pidfiles',
      status: 'warn',
      message: `stale: ${warnings.join('; ')}`,
      fix: "'defenseclaw-gateway status' or 'start' removes stale PID files",
    };
  }
  return { id: 'pidfiles', status: 'pass', message: 'gateway.pid and watchdog.pid are consistent' };
}

function checkOpenClaw(config: Config): Promise<Check> {
  if (!config.gateway.connect) {
    return Promise.resolve({
      id: 'openclaw',
      status: 'pass',
      message: 'not connecting (gateway.connect: false)',
    });
  }
  const { host, port } = config.gateway;
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: 2000 });
    const done = (check: Check) => {
      socket.destroy();
      resolve(check);
    };
    socket.once('connect', () =>
      done({
        id: 'openclaw',
        status: 'pass',
        message: `OpenClaw gateway reachable at ${host}:${port} (TCP)`,
      }),
    );
    socket.once('timeout', () =>
      done({
        id: 'openclaw',
        status: 'fail',
        message: `OpenClaw gateway at ${host}:${port} did not answer within 2 s`,
        fix: 'start OpenClaw, or set gateway.host / gateway.port',
      }),
    );
    socket.once('error', (error: NodeJS.ErrnoException) =>
      done({
        id: 'openclaw',
        status: 'fail',
        message: `OpenClaw gateway at ${host}:${port} is unreachable (${error.code ?? error.message})`,
        fix: 'start OpenClaw, or set gateway.host / gateway.port',
      }),
    );
  });
}

async function checkApiToken(ctx: LifecycleContext, config: Config, daemon: Daemon): Promise<Check> {
  const api = apiSettingsOf(config);
  let token: string | undefined;
  try {
    token = readApiToken(ctx.dataDir, api.tokenEnv, { strict: true });
  } catch {
    token = undefined;
  }
  if (token === undefined) {
    return {
      id: 'api-token',
      status: 'fail',
      message: `${api.tokenEnv} is not set`,
      fix: "'defenseclaw-gateway init' writes one to .env",
    };
  }
  if (daemon === undefined) {
    return { id: 'api-token', status: 'pass', message: `${api.tokenEnv} set (${token.length} chars)` };
  }
  try {
    const response = await apiRequest(api, {
      method: 'POST',
      path: '/policy/evaluate',
      token,
      body: { subject: { kind: 'tool_call', tool: 'read', args: { path: 'README.md' } } },
      timeoutMs: 3000,
    });
    if (response.status === 401) {
      return {
        id: 'api-token',
        status: 'fail',
        message: `the daemon at ${apiAddress(api)} rejects ${api.tokenEnv} (401)`,
        fix: "the daemon has a different token; run 'policy reload' or restart",
      };
    }
    if (response.status === 404) {
      return {
        id: 'api-token',
        status: 'pass',
        message: `${api.tokenEnv} set (${token.length} chars); this daemon has no /policy/evaluate to test it against`,
      };
    }
    return {
      id: 'api-token',
      status: 'pass',
      message: `${api.tokenEnv} set and accepted by the daemon (HTTP ${response.status})`,
    };
  } catch (error) {
    return {
      id: 'api-token',
      status: 'warn',
      message: `${api.tokenEnv} set, but the daemon did not answer: ${error instanceof Error ? error.message : String(error)}`,
    };
  }
}

async function checkDb(config: Config, daemon: Daemon): Promise<Check> {
  const path = config.audit.path;
  if (daemon !== undefined) {
    try {
      const response = await apiRequest(apiSettingsOf(config), { path: '/health', timeoutMs: 2000 });
      const audit = (response.json as { audit?: { state?: string; last_error?: string } } | undefined)?.audit;
      if (audit?.state === 'running')
        return { id: 'db', status: 'pass', message: 'audit store running in the daemon' };
      return {
        id: 'db',
        status: 'fail',
        message: `audit store in the daemon is ${audit?.state ?? 'unknown'}${audit?.last_error ? `: ${audit.last_error}` : ''}`,
        fix: 'free disk space or stop the other writer; see docs/operations.md',
      };
    } catch {
      // fall through to the file check
    }
  }
  if (!existsSync(path)) {
    return {
      id: 'db',
      status: 'warn',
      message: `${path} does not exist yet`,
      fix: "'defenseclaw-gateway init' creates it",
    };
  }
  let quick: string;
  try {
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(path, { readonly: true, fileMustExist: true, timeout: 5000 });
    try {
      quick = String((db.prepare('PRAGMA quick_check').pluck().get() as unknown) ?? '');
    } finally {
      db.close();
    }
  } catch (error) {
    return {
      id: 'db',
      status: 'fail',
      message: `cannot read ${path}: ${error instanceof Error ? error.message : String(error)}`,
      fix: 'check the file; doctor never deletes or repairs a database',
    };
  }
  if (quick !== 'ok') {
    return {
      id: 'db',
      status: 'fail',
      message: `quick_check: ${quick}`,
      fix: 'restore audit.db from a backup',
    };
  }
  try {
    const fs = statfsSync(path);
    const free = fs.bavail * fs.bsize;
    if (free < MIN_FREE_BYTES) {
      return {
        id: 'db',
        status: 'warn',
        message: `audit.db ok, but only ${Math.floor(free / 1024 / 1024)} MiB free`,
        fix: 'free disk space',
      };
    }
  } catch {
    // statfs unsupported: skip the space check
  }
  return { id: 'db', status: 'pass', message: 'audit.db passes quick_check' };
}

function checkSplunk(config: Config): Check {
  const name = config.splunk.token_env;
  return process.env[name]
    ? { id: 'splunk', status: 'pass', message: `${name} set` }
    : {
        id: 'splunk',
        status: 'fail',
        message: `splunk.enabled but ${name} is not set`,
        fix: `set ${name} in .env`,
      };
}

async function checkSupervision(ctx: LifecycleContext, config: Config, daemon: Daemon): Promise<Check> {
  const systemdUnit = join('/etc/systemd/system', SYSTEMD_UNIT_NAME);
  const launchdUnit = join(homedir(), 'Library', 'LaunchAgents', `${LAUNCHD_LABEL}.plist`);
  const unit = existsSync(systemdUnit) ? systemdUnit : existsSync(launchdUnit) ? launchdUnit : undefined;
  if (unit !== undefined && daemon !== undefined) {
    return {
      id: 'supervision',
      status: 'warn',
      message: `two supervisors: ${ctx.show(unit)} is installed while a detached daemon runs (PID ${daemon.pid})`,
      fix: "run 'defenseclaw-gateway stop', then start it through the service manager",
    };
  }
  if (unit !== undefined && config.gateway.watchdog.enabled) {
    return {
      id: 'supervision',
      status: 'warn',
      message: `two supervisors: ${ctx.show(unit)} is installed and gateway.watchdog.enabled is true`,
      fix: 'set gateway.watchdog.enabled: false; the service manager restarts the daemon',
    };
  }
  return {
    id: 'supervision',
    status: 'pass',
    message:
      unit !== undefined
        ? `service unit ${ctx.show(unit)}`
        : config.gateway.watchdog.enabled
          ? 'watchdog enabled'
          : 'no unit installed, watchdog disabled',
  };
}

async function checkRuntime(): Promise<Check> {
  const major = Number(process.versions.node.split('.')[0]);
  if (major < 20) {
    return {
      id: 'runtime',
      status: 'fail',
      message: `Node ${process.version}; 20 or later is needed`,
      fix: 'upgrade Node',
    };
  }
  try {
    const { default: Database } = await import('better-sqlite3');
    new Database(':memory:').close();
  } catch (error) {
    return {
      id: 'runtime',
      status: 'fail',
      message: `better-sqlite3 does not load: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`,
      fix: 'reinstall dependencies (pnpm install) so the native module is built for this Node',
    };
  }
  return { id: 'runtime', status: 'pass', message: `Node ${process.version}; better-sqlite3 loads` };
}
