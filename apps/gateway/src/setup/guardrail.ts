import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { GatewayClient } from '@defenseclaw/gateway-client';
import JSON5 from 'json5';
import { Document, isMap, parseDocument } from 'yaml';
import { writeEnvVar } from '../config/env-file.ts';
import { displayPath } from '../config/paths.ts';
import type { Config } from '../config/schema.ts';
import { ensureMasterKey } from '../config/secrets.ts';

/** The file in the data dir that remembers what `setup guardrail` changed, so `--disable` can undo it. */
export const SETUP_STATE_FILE = 'guardrail-setup.json';

/** Maps OpenClaw's model-provider `api` to the proxy's provider flavour (spec 30 §B2). */
export const FLAVOUR_BY_OPENCLAW_API: Readonly<Record<string, 'openai' | 'openai-chat' | 'anthropic'>> = {
  'openai-completions': 'openai-chat',
  'openai-responses': 'openai',
  'anthropic-messages': 'anthropic',
};

/** How the provider's original API key was written in openclaw.json, so it can be put back verbatim. */
export type OriginalApiKey =
  | { kind: 'dotenv'; name: string }
  | { kind: 'template'; text: string; name: string }
  | { kind: 'none' }
  | { kind: 'unsupported' };

/** What `setup guardrail` remembers in `<data dir>/guardrail-setup.json` (names and URLs, never key values). */
export type GuardrailSetupState = {
  version: 1;
  provider: string;
  originalBaseUrl: string;
  originalApiKey: OriginalApiKey;
  proxyBaseUrl: string;
  openclawConfigPath: string;
  at: string;
};

/** What the command needs from a connected gateway client. */
export type SetupClient = Pick<GatewayClient, 'getConfig' | 'patchConfig'>;

/** Options of `enableGuardrail` and `disableGuardrail`. */
export type GuardrailSetupOptions = {
  client: SetupClient;
  config: Config;
  dataDir: string;
  configPath: string;
  envFile: string;
  /** The environment merged with `.env`; generated values are set in it too. */
  env: NodeJS.ProcessEnv;
  /** openclaw.json on this machine, read for the provider's raw API key (config.get redacts it). */
  openclawConfigPath: string;
  /** The OpenClaw model provider to route through the proxy; default: the provider of the agents' primary model. */
  provider?: string | undefined;
};

/** The outcome of a setup step, with one line per change for the operator (never a secret). */
export type GuardrailSetupOutcome =
  | { success: true; changed: boolean; provider: string; lines: string[]; warnings: string[] }
  | { success: false; message: string };

/**
 * Points an OpenClaw model provider at the guardrail proxy (spec: issue "Guardrail proxy" item 5): registers the
 * provider's real upstream in `guardrail.providers` (its key moved to `.env`), aliases its models, enables the
 * proxy in config.yaml, makes sure a master key exists, and patches openclaw.json through `config.patch` so the
 * provider's `baseUrl` is the proxy and its `apiKey` the master key. Idempotent; `disableGuardrail` undoes it.
 */
export async function enableGuardrail(options: GuardrailSetupOptions): Promise<GuardrailSetupOutcome> {
  const state = readState(options.dataDir);
  const current = await options.client.getConfig();
  const effective = current.config as OpenClawShape;
  const providerName = options.provider ?? state?.provider ?? primaryProvider(effective);
  if (providerName === undefined) {
    return {
      success: false,
      message: 'setup guardrail: cannot tell which model provider to route; pass --provider <name>',
    };
  }
  const provider = effective.models?.providers?.[providerName];
  if (provider === undefined) {
    const known = Object.keys(effective.models?.providers ?? {});
    return {
      success: false,
      message: `setup guardrail: OpenClaw has no model provider ${JSON.stringify(providerName)}${known.length > 0 ? ` (known: ${known.join(', ')})` : ''}`,
    };
  }
  const proxyBaseUrl = proxyUrlFor(options.config, provider.api);
  if (state !== undefined && state.provider === providerName && provider.baseUrl === proxyBaseUrl) {
    return {
      success: true,
      changed: false,
      provider: providerName,
      lines: [`guardrail already enabled for provider ${providerName} (${proxyBaseUrl})`],
      warnings: [],
    };
  }
  if (state === undefined && provider.baseUrl === proxyBaseUrl) {
    return {
      success: false,
      message: `setup guardrail: provider ${providerName} already points at ${proxyBaseUrl}, but ${SETUP_STATE_FILE} is missing from the data dir, so its real upstream is unknown; set its baseUrl back in openclaw.json and run setup again`,
    };
  }
  const flavour = FLAVOUR_BY_OPENCLAW_API[provider.api ?? 'openai-completions'];
  if (flavour === undefined) {
    return {
      success: false,
      message: `setup guardrail: provider ${providerName} uses api ${JSON.stringify(provider.api)}, which the proxy does not speak (openai-completions, openai-responses, anthropic-messages)`,
    };
  }
  if (typeof provider.baseUrl !== 'string' || provider.baseUrl === '') {
    return { success: false, message: `setup guardrail: provider ${providerName} has no baseUrl` };
  }

  const warnings: string[] = [];
  const lines: string[] = [];
  const rawKey = readRawApiKey(options.openclawConfigPath, providerName);
  const keyEnv = `DEFENSECLAW_UPSTREAM_${providerName.toUpperCase().replace(/[^A-Z0-9]+/g, '_')}_API_KEY`;
  let originalApiKey: OriginalApiKey;
  let apiKeyEnv: string | undefined;
  if (typeof rawKey === 'string' && /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/.test(rawKey)) {
    apiKeyEnv = rawKey.slice(2, -1);
    originalApiKey = { kind: 'template', text: rawKey, name: apiKeyEnv };
    if (options.env[apiKeyEnv] === undefined)
      warnings.push(
        `the upstream key variable ${apiKeyEnv} is not set for the sidecar; add it to ${displayPath(options.envFile)}`,
      );
  } else if (typeof rawKey === 'string' && rawKey !== '' && !rawKey.includes('${')) {
    writeEnvVar(options.envFile, keyEnv, rawKey);
    options.env[keyEnv] = rawKey;
    apiKeyEnv = keyEnv;
    originalApiKey = { kind: 'dotenv', name: keyEnv };
    lines.push(`moved the ${providerName} API key into ${displayPath(options.envFile)} as ${keyEnv}`);
  } else if (rawKey === undefined) {
    originalApiKey = { kind: 'none' };
  } else {
    return {
      success: false,
      message: `setup guardrail: the ${providerName} apiKey in ${displayPath(options.openclawConfigPath)} is a secret reference; set it as a plain value or \${VAR} first`,
    };
  }

  const masterKeyEnv = options.config.guardrail.master_key_env;
  const master = ensureMasterKey({ envFile: options.envFile, name: masterKeyEnv, env: options.env });
  if (master.value === undefined)
    return { success: false, message: `setup guardrail: ${master.warnings.join('; ')}` };
  const masterKey = master.value;
  if (master.generated)
    lines.push(`generated the proxy master key ${masterKeyEnv} into ${displayPath(options.envFile)}`);

  const upstream = new URL(provider.baseUrl);
  const loopback = ['127.0.0.1', 'localhost', '[::1]', '::1'].includes(upstream.hostname);
  const models = (provider.models ?? [])
    .map((model) => model.id)
    .filter((id): id is string => typeof id === 'string');
  editConfigYaml(options.configPath, (doc) => {
    doc.setIn(['guardrail', 'enabled'], true);
    // OpenClaw 2026.9.x fails a run whose stream ends with finish_reason content_filter ("Agent run failed"),
    // which hides the block message; with `lenient` the block text is the assistant's reply. Kept if set.
    if (!doc.hasIn(['guardrail', 'block_compat'])) {
      doc.setIn(['guardrail', 'block_compat'], 'lenient');
      lines.push('set guardrail.block_compat: lenient (OpenClaw shows block messages as the reply)');
    }
    const entry: Record<string, unknown> = { base_url: provider.baseUrl, flavour };
    if (apiKeyEnv !== undefined) entry.api_key_env = apiKeyEnv;
    if (loopback) entry.allow_private = true;
    if (models.length > 0) entry.models = models;
    doc.setIn(['guardrail', 'providers', providerName], doc.createNode(entry));
    for (const model of models) {
      doc.setIn(['guardrail', 'aliases', model], doc.createNode({ provider: providerName, model }));
    }
  });
  lines.push(
    `registered upstream ${providerName} (${upstream.origin}, ${flavour}) and enabled the proxy in ${displayPath(options.configPath)}`,
  );

  writeState(options.dataDir, {
    version: 1,
    provider: providerName,
    originalBaseUrl: state?.provider === providerName ? state.originalBaseUrl : provider.baseUrl,
    originalApiKey: state?.provider === providerName ? state.originalApiKey : originalApiKey,
    proxyBaseUrl,
    openclawConfigPath: options.openclawConfigPath,
    at: new Date().toISOString(),
  });
  await options.client.patchConfig({
    raw: JSON.stringify({
      models: { providers: { [providerName]: { baseUrl: proxyBaseUrl, apiKey: masterKey } } },
    }),
    ...(current.exists ? { baseHash: current.hash } : {}),
    note: 'defenseclaw-gateway setup guardrail',
  });
  lines.push(`OpenClaw provider ${providerName} now calls the guardrail proxy at ${proxyBaseUrl}`);
  return { success: true, changed: true, provider: providerName, lines, warnings };
}

/** Undoes `enableGuardrail`: the OpenClaw provider gets its own `baseUrl` and `apiKey` back, the proxy is disabled. */
export async function disableGuardrail(options: GuardrailSetupOptions): Promise<GuardrailSetupOutcome> {
  const state = readState(options.dataDir);
  if (state === undefined) {
    return {
      success: true,
      changed: false,
      provider: options.provider ?? '',
      lines: ['guardrail is not set up; nothing to undo'],
      warnings: [],
    };
  }
  const current = await options.client.getConfig();
  let apiKey: string | null;
  switch (state.originalApiKey.kind) {
    case 'dotenv': {
      const value = options.env[state.originalApiKey.name];
      if (value === undefined)
        return {
          success: false,
          message: `setup guardrail --disable: ${state.originalApiKey.name} is missing from ${displayPath(options.envFile)}; cannot restore the ${state.provider} API key`,
        };
      apiKey = value;
      break;
    }
    case 'template':
      apiKey = state.originalApiKey.text;
      break;
    default:
      apiKey = null;
  }
  await options.client.patchConfig({
    raw: JSON.stringify({
      models: { providers: { [state.provider]: { baseUrl: state.originalBaseUrl, apiKey } } },
    }),
    ...(current.exists ? { baseHash: current.hash } : {}),
    note: 'defenseclaw-gateway setup guardrail --disable',
  });
  editConfigYaml(options.configPath, (doc) => doc.setIn(['guardrail', 'enabled'], false));
  rmSync(join(options.dataDir, SETUP_STATE_FILE), { force: true });
  return {
    success: true,
    changed: true,
    provider: state.provider,
    lines: [
      `OpenClaw provider ${state.provider} calls ${new URL(state.originalBaseUrl).origin} directly again`,
      `disabled the proxy in ${displayPath(options.configPath)} (its provider entry is kept)`,
    ],
    warnings: [],
  };
}

/** Reads the setup state, or undefined when guardrail setup has not run. */
export function readState(dataDir: string): GuardrailSetupState | undefined {
  try {
    return JSON.parse(readFileSync(join(dataDir, SETUP_STATE_FILE), 'utf8')) as GuardrailSetupState;
  } catch {
    return undefined;
  }
}

// --- internal ---

type OpenClawProvider = { baseUrl?: string; api?: string; apiKey?: unknown; models?: { id?: string }[] };
type OpenClawShape = {
  agents?: { defaults?: { model?: { primary?: string } | string } };
  models?: { providers?: Record<string, OpenClawProvider> };
};

function primaryProvider(config: OpenClawShape): string | undefined {
  const model = config.agents?.defaults?.model;
  const primary = typeof model === 'string' ? model : model?.primary;
  if (primary === undefined || !primary.includes('/')) return undefined;
  return primary.slice(0, primary.indexOf('/'));
}

function proxyUrlFor(config: Config, api: string | undefined): string {
  const host = config.guardrail.host.includes(':') ? `[${config.guardrail.host}]` : config.guardrail.host;
  const base = `http://${host}:${config.guardrail.port}`;
  return api === 'anthropic-messages' ? base : `${base}/v1`;
}

function readRawApiKey(path: string, provider: string): unknown {
  let parsed: OpenClawShape;
  try {
    parsed = JSON5.parse(readFileSync(path, 'utf8')) as OpenClawShape;
  } catch {
    return undefined;
  }
  return parsed.models?.providers?.[provider]?.apiKey;
}

function editConfigYaml(path: string, edit: (doc: Document) => void): void {
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  // A missing or empty file becomes a mapping; comments and key order of an existing one are kept.
  const doc: Document = text.trim() === '' ? new Document({}) : parseDocument(text);
  if (!isMap(doc.contents)) throw new Error(`${displayPath(path)} is not a mapping`);
  edit(doc);
  const tmp = join(dirname(path), `.${SETUP_STATE_FILE}.${process.pid}.tmp`);
  writeFileSync(tmp, doc.toString(), { mode: 0o600 });
  renameSync(tmp, path);
}

function writeState(dataDir: string, state: GuardrailSetupState): void {
  const file = join(dataDir, SETUP_STATE_FILE);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, file);
}
