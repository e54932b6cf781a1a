import { copyFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { writeTextFileAtomic } from '@defenseclaw/supervisor';
import { defineCommand } from 'citty';
import { stringify } from 'yaml';
import { CliError, EXIT_CODES } from '../cli-error.ts';
import { isConfigError } from '../config/config-error.ts';
import { loadEnvFile, writeEnvVar } from '../config/env-file.ts';
import { loadConfig } from '../config/load.ts';
import { ensureDataDir } from '../config/paths.ts';
import { type Config, defaultConfig } from '../config/schema.ts';
import { ensureSidecarSecrets } from '../config/secrets.ts';
import { resolveGatewayToken } from '../config/token.ts';
import { APP_VERSION } from '../version-info.ts';
import { type GlobalFlags, globalArgs } from './_global-args.ts';
import { checkPidFile, type LifecycleContext, lifecycleContext } from './_lifecycle.ts';
import { loadModule } from './_load-module.ts';
import { createOutput } from './_output.ts';

/** Flags of `init`. */
export type InitFlags = GlobalFlags & {
  force?: boolean | undefined;
  start?: boolean | undefined;
  importOpenclawToken?: boolean | undefined;
  json?: boolean | undefined;
};

/** One step's outcome: `ok` (✔ done), `skip` (• nothing to do) or `fail` (✖). */
export type InitStep = { step: string; status: 'ok' | 'skip' | 'fail'; message: string };

/** `init`: create the data dir, config.yaml, device key, tokens and audit DB; idempotent (spec 20 §2.2). */
export default defineCommand({
  meta: { name: 'init', description: 'Create the data dir, config.yaml, device key, API token and audit DB' },
  args: {
    ...globalArgs,
    force: { type: 'boolean', description: 'Rewrite config.yaml with defaults (after a timestamped backup)' },
    start: { type: 'boolean', description: 'Start the daemon afterwards' },
    'import-openclaw-token': {
      type: 'boolean',
      description: "Copy OpenClaw's gateway.auth.token into .env when no token is set",
    },
    json: { type: 'boolean', description: 'Print the steps as JSON' },
  },
  async run({ args }) {
    await initCommand({ ...args, importOpenclawToken: args['import-openclaw-token'] });
  },
});

/**
 * Runs `init`: one `✔`/`•`/`✖` line per step; never overwrites without `--force`. An invalid existing config is
 * reported and the remaining steps still run; the exit code is then 3.
 */
export async function initCommand(flags: InitFlags): Promise<void> {
  process.umask(0o077);
  const out = createOutput(flags);
  const steps: InitStep[] = [];
  const report = (step: InitStep) => {
    steps.push(step);
    if (flags.json) return;
    const mark = step.status === 'ok' ? out.green('✔') : step.status === 'skip' ? out.dim('•') : out.red('✖');
    out.out(`${mark} ${step.message}`);
  };
  let ctx = lifecycleContext(flags);
  const existed = existsSync(ctx.dataDir);
  const { warnings } = ensureDataDir(ctx.dataDir);
  ctx = lifecycleContext(flags);
  report({
    step: 'data_dir',
    status: existed && warnings.length === 0 ? 'skip' : 'ok',
    message: existed
      ? warnings.length > 0
        ? warnings[0]!
        : `data dir ${ctx.show(ctx.dataDir)} exists`
      : `created ${ctx.show(ctx.dataDir)} (0700)`,
  });

  const configResult = writeConfig(ctx, flags.force === true);
  report(configResult.step);
  const envFile = join(ctx.dataDir, '.env');
  loadEnvFile(envFile);
  // With an invalid config.yaml the remaining steps use the defaults, resolved against the data dir.
  const config = configResult.config ?? resolvedDefaults(ctx);

  report(await deviceKey(ctx, config));
  for (const step of secrets(ctx, config, envFile)) report(step);
  report(await openclawToken(ctx, config, envFile, flags.importOpenclawToken === true));
  report(await auditDb(ctx, config));

  if (flags.json) out.out(JSON.stringify({ steps }));
  if (configResult.error !== undefined) {
    throw new CliError(EXIT_CODES.CONFIG, configResult.error);
  }
  if (steps.some((step) => step.status === 'fail')) throw new CliError(EXIT_CODES.RUNTIME, '');
  if (flags.start === true) {
    const { startCommand } = await loadModule<typeof import('./start.ts')>(
      new URL('./start.ts', import.meta.url),
    );
    await startCommand(flags);
    return;
  }
  if (!flags.json) out.out("Next: run 'defenseclaw-gateway doctor', then 'defenseclaw-gateway start'");
}

/** The default config.yaml: `config_version: 1` and every other key commented out with its default. */
export function defaultConfigText(): string {
  const { config_version: _version, ...rest } = defaultConfig();
  const commented = stringify(rest, { lineWidth: 0 })
    .trimEnd()
    .split('\n')
    .map((line) => `# ${line}`)
    .join('\n');
  return [
    `# DefenseClaw gateway sidecar configuration (written by defenseclaw-gateway ${APP_VERSION} init).`,
    '# Every key is optional; uncomment one to change its default. Secrets belong in .env, not here.',
    'config_version: 1',
    '',
    commented,
    '',
  ].join('\n');
}

// --- internal ---

function resolvedDefaults(ctx: LifecycleContext): Config {
  const config = defaultConfig();
  return {
    ...config,
    gateway: { ...config.gateway, device_key_file: join(ctx.dataDir, 'device.key') },
    audit: { ...config.audit, path: join(ctx.dataDir, 'audit.db') },
  };
}

function writeConfig(
  ctx: LifecycleContext,
  force: boolean,
): { step: InitStep; config?: Config; error?: string } {
  const shown = ctx.show(ctx.configPath);
  if (existsSync(ctx.configPath) && !force) {
    try {
      const { config } = loadConfig({ dataDir: ctx.dataDir, configPath: ctx.configPath });
      return { step: { step: 'config', status: 'skip', message: `${shown} exists and is valid` }, config };
    } catch (error) {
      if (!isConfigError(error)) throw error;
      return {
        step: { step: 'config', status: 'fail', message: `${shown} is invalid (kept as is; see below)` },
        error: error.message,
      };
    }
  }
  let backup: string | undefined;
  if (existsSync(ctx.configPath)) {
    backup = `${ctx.configPath}.bak-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    copyFileSync(ctx.configPath, backup);
  }
  writeTextFileAtomic(ctx.configPath, defaultConfigText(), 0o600);
  const { config } = loadConfig({ dataDir: ctx.dataDir, configPath: ctx.configPath });
  return {
    step: {
      step: 'config',
      status: 'ok',
      message:
        backup === undefined
          ? `wrote ${shown} (defaults, 0600)`
          : `wrote ${shown} with defaults; the previous file is ${ctx.show(backup)}`,
    },
    config,
  };
}

async function deviceKey(ctx: LifecycleContext, config: Config): Promise<InitStep> {
  const file = config.gateway.device_key_file;
  const existed = existsSync(file);
  try {
    const { loadOrCreateDeviceIdentity } = await loadModule<typeof import('@defenseclaw/gateway-client')>(
      '@defenseclaw/gateway-client',
    );
    const identity = await loadOrCreateDeviceIdentity(file);
    return {
      step: 'device_key',
      status: existed ? 'skip' : 'ok',
      message: `${existed ? 'device key' : 'created device key'} ${ctx.show(file)} (device id ${identity.deviceId}; OpenClaw shows it when pairing)`,
    };
  } catch (error) {
    return {
      step: 'device_key',
      status: 'fail',
      message: `device key ${ctx.show(file)}: ${error instanceof Error ? error.message : String(error)}`,
    };
  }
}

function secrets(ctx: LifecycleContext, config: Config, envFile: string): InitStep[] {
  const tokenEnv = config.gateway.api_token_env;
  try {
    const result = ensureSidecarSecrets({ envFile, apiTokenEnv: tokenEnv });
    const steps: InitStep[] = [];
    steps.push(
      result.generated.includes(tokenEnv)
        ? {
            step: 'api_token',
            status: 'ok',
            message: `API token written to ${ctx.show(envFile)} (${tokenEnv})`,
          }
        : result.apiToken === undefined
          ? { step: 'api_token', status: 'fail', message: result.warnings.join('; ') || `no ${tokenEnv}` }
          : { step: 'api_token', status: 'skip', message: `API token already set (${tokenEnv})` },
    );
    steps.push(
      result.generated.includes('DEFENSECLAW_EVIDENCE_KEY')
        ? {
            step: 'evidence_key',
            status: 'ok',
            message: `evidence key written to ${ctx.show(envFile)} (DEFENSECLAW_EVIDENCE_KEY)`,
          }
        : {
            step: 'evidence_key',
            status: 'skip',
            message: 'evidence key already set (DEFENSECLAW_EVIDENCE_KEY)',
          },
    );
    return steps;
  } catch (error) {
    return [
      { step: 'api_token', status: 'fail', message: error instanceof Error ? error.message : String(error) },
    ];
  }
}

async function openclawToken(
  ctx: LifecycleContext,
  config: Config,
  envFile: string,
  importToken: boolean,
): Promise<InitStep> {
  if (resolveGatewayToken(config).token !== undefined) {
    return { step: 'openclaw_token', status: 'skip', message: 'OpenClaw gateway token is set' };
  }
  const { readOpenClawToken } = await loadModule<typeof import('@defenseclaw/gateway-client')>(
    '@defenseclaw/gateway-client',
  );
  const read = await readOpenClawToken(
    config.claw.config_file === undefined ? {} : { configPath: config.claw.config_file },
  );
  if (!read.success) {
    return {
      step: 'openclaw_token',
      status: 'skip',
      message: `no OpenClaw gateway token: set OPENCLAW_GATEWAY_TOKEN in ${ctx.show(envFile)} (${read.message})`,
    };
  }
  if (!importToken) {
    return {
      step: 'openclaw_token',
      status: 'skip',
      message: `OpenClaw's ${ctx.show(read.path)} holds gateway.auth.token; re-run with --import-openclaw-token to copy it to ${ctx.show(envFile)}`,
    };
  }
  writeEnvVar(envFile, 'OPENCLAW_GATEWAY_TOKEN', read.token);
  return {
    step: 'openclaw_token',
    status: 'ok',
    message: `OpenClaw gateway token copied to ${ctx.show(envFile)} (OPENCLAW_GATEWAY_TOKEN)`,
  };
}

async function auditDb(ctx: LifecycleContext, config: Config): Promise<InitStep> {
  const path = config.audit.path;
  const existed = existsSync(path);
  // A running daemon owns the DB: a second writer would reset its clean-shutdown marker.
  if (existed && (await checkPidFile(ctx, 'daemon', () => {})).status !== 'none') {
    return {
      step: 'audit_db',
      status: 'skip',
      message: `audit DB ${ctx.show(path)} is in use by the running daemon`,
    };
  }
  try {
    const { openAuditStore } =
      await loadModule<typeof import('@defenseclaw/audit-store')>('@defenseclaw/audit-store');
    const store = openAuditStore({ path, synchronous: config.audit.synchronous, version: APP_VERSION });
    const schema = store.schema;
    await store.close({ drainTimeoutMs: 0 });
    return {
      step: 'audit_db',
      status: existed ? 'skip' : 'ok',
      message: `${existed ? 'audit DB' : 'created audit DB'} ${ctx.show(path)} (schema ${schema})`,
    };
  } catch (error) {
    return {
      step: 'audit_db',
      status: 'fail',
      message: `audit DB ${ctx.show(path)}: ${error instanceof Error ? error.message : String(error)}`,
    };
  }
}
