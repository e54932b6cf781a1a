import type { GuardrailConfig, ProviderFlavour } from '../config.ts';
import { guardrailConfigIssues } from '../config.ts';
import { checkProviderUrl } from '../ssrf.ts';

// The provider registry (spec 30 §B2): provider name → base URL, key variable and flavour, plus model aliases and
// LiteLLM-style `provider/model` resolution. Immutable; a reload builds a new one.

/** The three proxied endpoints, named by the wire format a client speaks. */
export type Endpoint = 'chat' | 'messages' | 'responses';

/** One configured provider, validated. */
export type ProviderEntry = {
  name: string;
  flavour: ProviderFlavour;
  /** The origin (`scheme://host:port`) its connection pool is keyed by. */
  origin: string;
  /** The base path without a trailing slash (`/v1`, or `''`). */
  basePath: string;
  apiKeyEnv?: string;
  allowPrivate: boolean;
  models: string[];
};

/** A model name resolved to a provider and the model the upstream sees. */
export type ResolvedModel = { provider: ProviderEntry; model: string; via: 'alias' | 'prefix' | 'default' };

/** A provider as the REST API shows it: variable names, never values. */
export type ProviderView = {
  name: string;
  base_url: string;
  flavour: ProviderFlavour;
  api_key_env: string | null;
  key_present: boolean;
  allow_private: boolean;
  models: string[];
};

/** The registry part of a guardrail config. */
export type RegistryConfig = Pick<GuardrailConfig, 'providers' | 'aliases' | 'default_provider'>;

/** An immutable provider registry. */
export type ProviderRegistry = {
  /** Providers by name, in config order. */
  readonly providers: ReadonlyMap<string, ProviderEntry>;
  /** Aliases by name. */
  readonly aliases: ReadonlyMap<string, { provider: string; model: string }>;
  /** The fallback provider, if any. */
  readonly defaultProvider: string | undefined;
  /** Resolves a requested model: exact alias, then `provider/model` split at the first `/`, then the default. */
  resolve(model: string): ResolvedModel | undefined;
};

/** Which flavours serve which endpoint (no cross-format translation in v1). */
export const ENDPOINT_FLAVOURS: Readonly<Record<Endpoint, readonly ProviderFlavour[]>> = {
  chat: ['openai', 'openai-chat'],
  responses: ['openai'],
  messages: ['anthropic'],
};

/**
 * Builds a registry from a validated config, re-checking every URL (SSRF) and cross reference; all-or-nothing.
 * @example
 * const built = createProviderRegistry(config);
 * if (built.success) built.registry.resolve('openai/gpt-4o');
 */
export function createProviderRegistry(
  config: RegistryConfig,
): { success: true; registry: ProviderRegistry } | { success: false; errors: string[] } {
  const errors: string[] = [];
  const providers = new Map<string, ProviderEntry>();
  for (const [name, p] of Object.entries(config.providers ?? {})) {
    const check = checkProviderUrl(p.base_url, p.allow_private ?? false);
    if (!check.success) {
      errors.push(`guardrail.providers.${name}.base_url: ${check.message}`);
      continue;
    }
    const entry: ProviderEntry = {
      name,
      flavour: p.flavour,
      origin: check.url.origin,
      basePath: check.url.pathname.replace(/\/+$/, ''),
      allowPrivate: p.allow_private ?? false,
      models: [...(p.models ?? [])],
    };
    if (p.api_key_env !== undefined) entry.apiKeyEnv = p.api_key_env;
    providers.set(name, entry);
  }
  for (const issue of guardrailConfigIssues(config)) errors.push(`${issue.path.join('.')}: ${issue.message}`);
  if (errors.length > 0) return { success: false, errors };
  const aliases = new Map(Object.entries(config.aliases ?? {}).map(([k, a]) => [k, { ...a }]));
  const defaultProvider = config.default_provider;
  const registry: ProviderRegistry = {
    providers,
    aliases,
    defaultProvider,
    resolve(model) {
      const alias = aliases.get(model);
      if (alias) {
        const provider = providers.get(alias.provider);
        return provider ? { provider, model: alias.model, via: 'alias' } : undefined;
      }
      const slash = model.indexOf('/');
      if (slash > 0 && slash < model.length - 1) {
        const provider = providers.get(model.slice(0, slash));
        if (provider) return { provider, model: model.slice(slash + 1), via: 'prefix' };
      }
      if (defaultProvider !== undefined) {
        const provider = providers.get(defaultProvider);
        if (provider) return { provider, model, via: 'default' };
      }
      return undefined;
    },
  };
  return { success: true, registry };
}

/** Returns the upstream URL of an endpoint on a provider (Anthropic bases may omit `/v1`). */
export function upstreamUrl(provider: ProviderEntry, endpoint: Endpoint): string {
  const base = `${provider.origin}${provider.basePath}`;
  switch (endpoint) {
    case 'chat':
      return `${base}/chat/completions`;
    case 'responses':
      return `${base}/responses`;
    case 'messages':
      return provider.basePath.endsWith('/v1') ? `${base}/messages` : `${base}/v1/messages`;
  }
}

/** Lists providers for the REST API: names of key variables and whether they resolve, never their values. */
export function providerViews(
  registry: ProviderRegistry,
  env: (name: string) => string | undefined,
): ProviderView[] {
  return [...registry.providers.values()].map((p) => ({
    name: p.name,
    base_url: `${p.origin}${p.basePath}`,
    flavour: p.flavour,
    api_key_env: p.apiKeyEnv ?? null,
    key_present: p.apiKeyEnv === undefined ? true : Boolean(env(p.apiKeyEnv)),
    allow_private: p.allowPrivate,
    models: [...p.models],
  }));
}

/** One entry of `GET /v1/models`. */
export type ModelEntry = { id: string; object: 'model'; created: number; owned_by: string };

/** Lists the models the proxy serves: every alias, then each provider's configured models as `provider/model`. */
export function listModels(registry: ProviderRegistry): ModelEntry[] {
  const out: ModelEntry[] = [];
  const seen = new Set<string>();
  for (const [alias, target] of registry.aliases) {
    seen.add(alias);
    out.push({ id: alias, object: 'model', created: 0, owned_by: target.provider });
  }
  for (const p of registry.providers.values()) {
    for (const m of p.models) {
      const id = `${p.name}/${m}`;
      if (seen.has(id)) continue;
      seen.add(id);
      out.push({ id, object: 'model', created: 0, owned_by: p.name });
    }
  }
  return out;
}

/**
 * Describes a guardrail config's registry in the shape of `GET /v1/config/providers` (usable without a running
 * proxy); invalid configs list their errors instead.
 */
export function describeProviders(
  config: RegistryConfig,
  env: (name: string) => string | undefined,
):
  | {
      success: true;
      providers: ProviderView[];
      models: Record<string, { provider: string; model: string }>;
      default_provider?: string;
    }
  | { success: false; errors: string[] } {
  const built = createProviderRegistry(config);
  if (!built.success) return built;
  const out: {
    success: true;
    providers: ProviderView[];
    models: Record<string, { provider: string; model: string }>;
    default_provider?: string;
  } = {
    success: true,
    providers: providerViews(built.registry, env),
    models: Object.fromEntries([...built.registry.aliases].map(([k, a]) => [k, { ...a }])),
  };
  if (built.registry.defaultProvider !== undefined) out.default_provider = built.registry.defaultProvider;
  return out;
}
