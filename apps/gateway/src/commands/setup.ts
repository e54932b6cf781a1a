import { join } from 'node:path';
import { createGatewayClient, resolveOpenClawConfigPath } from '@defenseclaw/gateway-client';
import { defineCommand } from 'citty';
import { CliError, EXIT_CODES } from '../cli-error.ts';
import { loadEnvFile } from '../config/env-file.ts';
import { gatewayUrl } from '../config/gateway-url.ts';
import { loadConfig } from '../config/load.ts';
import { ensureDataDir, resolveConfigPath, resolveDataDir } from '../config/paths.ts';
import { resolveGatewayToken } from '../config/token.ts';
import { disableGuardrail, enableGuardrail } from '../setup/guardrail.ts';
import { APP_VERSION } from '../version-info.ts';
import { type GlobalFlags, globalArgs } from './_global-args.ts';

/** How long `setup guardrail` waits for OpenClaw's hello-ok before giving up. */
export const SETUP_CONNECT_TIMEOUT_MS = 15_000;

const guardrail = defineCommand({
  meta: {
    name: 'guardrail',
    description:
      'Route an OpenClaw model provider through the guardrail proxy (config.patch; --disable undoes it)',
  },
  args: {
    ...globalArgs,
    disable: {
      type: 'boolean',
      description: 'Point the provider back at its own upstream and disable the proxy',
    },
    provider: {
      type: 'string',
      description: "OpenClaw model provider (default: the agents' primary model's provider)",
      valueHint: 'name',
    },
    json: { type: 'boolean', description: 'Print the outcome as JSON' },
  },
  async run({ args }) {
    await setupGuardrail(args);
  },
});

/** `setup`: one-time integration steps with OpenClaw. */
export default defineCommand({
  meta: { name: 'setup', description: 'Integrate with OpenClaw (setup guardrail [--disable])' },
  args: { ...globalArgs },
  subCommands: { guardrail },
});

/**
 * Runs `setup guardrail [--disable]`: connects to OpenClaw with the sidecar's identity and token, applies or undoes
 * the provider routing, and prints one line per change (or JSON).
 *
 * @throws CliError exit 1 when OpenClaw is unreachable or refuses the patch; ConfigError exit 3 for bad config.
 */
export async function setupGuardrail(
  flags: GlobalFlags & { disable?: boolean; provider?: string; json?: boolean },
): Promise<void> {
  process.umask(0o077);
  const dataDir = resolveDataDir({ home: flags.home });
  ensureDataDir(dataDir);
  const envFile = join(dataDir, '.env');
  loadEnvFile(envFile);
  const configPath = resolveConfigPath({ config: flags.config, dataDir });
  const { config } = loadConfig({ dataDir, configPath });
  const url = gatewayUrl(config);
  const client = createGatewayClient({
    url,
    token: resolveGatewayToken(config).token,
    deviceKeyFile: config.gateway.device_key_file,
    ...(config.claw.config_file === undefined ? {} : { openclawConfigPath: config.claw.config_file }),
    clientVersion: APP_VERSION,
  });
  try {
    try {
      await client.connect({ signal: AbortSignal.timeout(SETUP_CONNECT_TIMEOUT_MS) });
    } catch (error) {
      throw new CliError(
        EXIT_CODES.RUNTIME,
        `setup guardrail: FAILED: cannot connect to OpenClaw at ${url}: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
    const options = {
      client,
      config,
      dataDir,
      configPath,
      envFile,
      env: process.env,
      openclawConfigPath: resolveOpenClawConfigPath({ configPath: config.claw.config_file }),
      provider: flags.provider,
    };
    let outcome: Awaited<ReturnType<typeof enableGuardrail>>;
    try {
      outcome = flags.disable === true ? await disableGuardrail(options) : await enableGuardrail(options);
    } catch (error) {
      throw new CliError(
        EXIT_CODES.RUNTIME,
        `setup guardrail: FAILED: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
    if (!outcome.success) throw new CliError(EXIT_CODES.RUNTIME, outcome.message);
    if (flags.json === true) {
      process.stdout.write(`${JSON.stringify({ ok: true, ...outcome, success: undefined })}\n`);
      return;
    }
    for (const warning of outcome.warnings) process.stderr.write(`warning: ${warning}\n`);
    for (const line of outcome.lines) process.stdout.write(`${line}\n`);
    if (outcome.changed)
      process.stdout.write(
        flags.disable === true
          ? 'guardrail: disabled; restart the sidecar to close port ' +
              `${config.guardrail.port} (defenseclaw-gateway restart)\n`
          : `guardrail: enabled in ${config.guardrail.mode} mode; restart the sidecar to start the proxy (defenseclaw-gateway restart)\n`,
      );
  } finally {
    await client.close();
  }
}
