import * as v from 'valibot';
import { checkProviderUrl } from './ssrf.ts';

// The `guardrail.*` config keys of spec 30 §B (providers, aliases, limits, stream tuning), as valibot schemas with
// the operator-facing messages of spec 20 §4.3 ("must be …; got …"). Every key is optional with its default.

type Received = { received: string };
type ObjectIssue = { received: string; expected: string | null };

/** The message of a strict mapping: a wrong type, or an unknown key (valibot reports those as `never`). */
function mapping(i: ObjectIssue): string {
  return i.expected === 'never' ? 'is not a known key' : `must be a mapping; got ${i.received}`;
}

const MIB = 1024 * 1024;

/** API flavours a provider speaks (spec 30 §B2): `openai` = chat + responses, `openai-chat` = chat, `anthropic` = messages. */
export const PROVIDER_FLAVOURS = ['openai', 'openai-chat', 'anthropic'] as const;

/** One provider API flavour. */
export type ProviderFlavour = (typeof PROVIDER_FLAVOURS)[number];

/** Request headers an operator may never add to `guardrail.forward_headers` (credentials, hop-by-hop, ours). */
export const UNFORWARDABLE_HEADERS: readonly string[] = [
  'authorization',
  'x-api-key',
  'api-key',
  'cookie',
  'set-cookie',
  'host',
  'content-length',
  'connection',
  'keep-alive',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'accept-encoding',
  'forwarded',
  'proxy-authorization',
  'proxy-connection',
];

function int(defaultValue: number, min: number, max: number = Number.MAX_SAFE_INTEGER) {
  return v.optional(intLeaf(min, max), defaultValue);
}

function intLeaf(min: number, max: number) {
  return v.pipe(
    v.number((i: Received) => `must be an integer; got ${i.received}`),
    v.integer((i: Received) => `must be an integer; got ${i.received}`),
    v.minValue(min, (i: Received) => `must be at least ${min}; got ${i.received}`),
    v.maxValue(max, (i: Received) => `must be at most ${max}; got ${i.received}`),
  );
}

function nonEmpty(what = 'a string') {
  return v.pipe(
    v.string((i: Received) => `must be ${what}; got ${i.received}`),
    v.nonEmpty('must not be empty'),
  );
}

function section<const E extends v.ObjectEntries>(entries: E) {
  return v.optional(v.strictObject(entries, mapping), {} as v.InferInput<v.StrictObjectSchema<E, undefined>>);
}

const envNameSchema = v.pipe(
  v.string((i: Received) => `must be an environment variable name; got ${i.received}`),
  v.regex(
    /^[A-Za-z_][A-Za-z0-9_]*$/,
    (i: Received) => `must be an environment variable name; got ${i.received}`,
  ),
);

/** A provider name: no `/` (model names split at the first one), no spaces. */
const providerNameSchema = v.pipe(
  v.string(),
  v.regex(
    /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/,
    (i: Received) => `provider names use letters, digits, ".", "_" and "-" (no "/"); got ${i.received}`,
  ),
);

/** One `guardrail.providers.<name>` entry; `base_url` passes the SSRF check at load. */
export const ProviderConfigSchema = v.pipe(
  v.strictObject(
    {
      base_url: nonEmpty('a URL'),
      api_key_env: v.optional(envNameSchema),
      flavour: v.picklist(
        PROVIDER_FLAVOURS,
        (i: Received) => `must be one of ${PROVIDER_FLAVOURS.join(', ')}; got ${i.received}`,
      ),
      allow_private: v.optional(
        v.boolean((i: Received) => `must be true or false; got ${i.received}`),
        false,
      ),
      models: v.optional(
        v.array(nonEmpty(), (i: Received) => `must be a list; got ${i.received}`),
        () => [],
      ),
    },
    mapping,
  ),
  v.forward(
    v.check(
      (input) => checkProviderUrl(input.base_url, input.allow_private).success,
      (issue) => {
        const input = issue.input as { base_url: string; allow_private: boolean };
        const check = checkProviderUrl(input.base_url, input.allow_private);
        return check.success ? 'is invalid' : check.message;
      },
    ),
    ['base_url'],
  ),
);

/** One validated provider entry. */
export type ProviderConfig = v.InferOutput<typeof ProviderConfigSchema>;

/** One `guardrail.aliases.<alias>` entry. */
export const AliasConfigSchema = v.strictObject({ provider: nonEmpty(), model: nonEmpty() }, mapping);

const forwardHeaderSchema = v.pipe(
  v.string((i: Received) => `must be a header name; got ${i.received}`),
  v.regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, (i: Received) => `must be a header name; got ${i.received}`),
  v.toLowerCase(),
  v.check(
    (name) =>
      !UNFORWARDABLE_HEADERS.includes(name) &&
      !name.startsWith('x-defenseclaw-') &&
      !name.startsWith('x-forwarded-') &&
      !name.startsWith('proxy-'),
    (i) => `must not be a credential, hop-by-hop or DefenseClaw header; got "${String(i.input)}"`,
  ),
);

/**
 * The entries of the `guardrail` keys spec 30 adds beyond `enabled, host, port, mode, master_key_env,
 * block_message`; the app spreads them into its own `guardrail` section.
 */
export const GUARDRAIL_PROXY_CONFIG_ENTRIES = {
  providers: v.optional(
    v.record(
      providerNameSchema,
      ProviderConfigSchema,
      (i: Received) => `must be a mapping; got ${i.received}`,
    ),
    () => ({}),
  ),
  aliases: v.optional(
    v.record(nonEmpty(), AliasConfigSchema, (i: Received) => `must be a mapping; got ${i.received}`),
    () => ({}),
  ),
  default_provider: v.optional(providerNameSchema),
  forward_headers: v.optional(
    v.array(forwardHeaderSchema, (i: Received) => `must be a list; got ${i.received}`),
    () => [],
  ),
  block_compat: v.optional(
    v.picklist(['native', 'lenient'], (i: Received) => `must be one of native, lenient; got ${i.received}`),
    'native',
  ),
  seen_cache_entries: int(50_000, 0, 10_000_000),
  max_streams: int(1024, 1, 1_000_000),
  max_inflight: int(1024, 1, 1_000_000),
  limits: section({
    request_body_bytes: int(10 * MIB, 1024, 1024 * MIB),
    response_body_bytes: int(20 * MIB, 1024, 1024 * MIB),
    connect_timeout_ms: int(5_000, 1, 600_000),
    first_byte_timeout_ms: int(600_000, 1, 86_400_000),
    stream_first_byte_timeout_ms: int(120_000, 1, 86_400_000),
    stream_idle_timeout_ms: int(120_000, 1, 86_400_000),
    total_timeout_ms: int(600_000, 1, 86_400_000),
    stream_total_timeout_ms: int(1_800_000, 1, 86_400_000),
  }),
  stream: section({
    holdback_chars: v.optional(v.nullable(intLeaf(0, 1_000_000)), null),
    scan_step_chars: int(128, 1, 1_000_000),
    overlap_chars: int(512, 0, 1_000_000),
    max_event_bytes: int(MIB, 1024, 256 * MIB),
    max_held_bytes: int(4 * MIB, 1024, 1024 * MIB),
  }),
} as const;

/** The `guardrail` keys apps/gateway already validates, repeated here with the same defaults. */
const BASE_ENTRIES = {
  enabled: v.optional(
    v.boolean((i: Received) => `must be true or false; got ${i.received}`),
    false,
  ),
  host: v.optional(nonEmpty(), '127.0.0.1'),
  port: int(4000, 1, 65535),
  mode: v.optional(
    v.picklist(['observe', 'action'], (i: Received) => `must be one of observe, action; got ${i.received}`),
    'observe',
  ),
  master_key_env: v.optional(envNameSchema, 'DEFENSECLAW_MASTER_KEY'),
  block_message: v.optional(
    v.string((i: Received) => `must be a string; got ${i.received}`),
    '[DefenseClaw] Blocked: {reason}. Ref {ref}.',
  ),
} as const;

/** One cross-reference problem in a guardrail config, with its key path. */
export type GuardrailConfigIssue = { path: string[]; message: string };

/**
 * Returns the cross-key problems valibot cannot see per leaf: an alias or `default_provider` naming a provider
 * that does not exist.
 */
export function guardrailConfigIssues(config: {
  providers?: Record<string, unknown>;
  aliases?: Record<string, { provider: string }>;
  default_provider?: string | undefined;
}): GuardrailConfigIssue[] {
  const issues: GuardrailConfigIssue[] = [];
  const names = Object.keys(config.providers ?? {});
  for (const [alias, target] of Object.entries(config.aliases ?? {})) {
    if (!names.includes(target.provider)) {
      issues.push({
        path: ['guardrail', 'aliases', alias, 'provider'],
        message: `names an unknown provider "${target.provider}"${names.length > 0 ? ` (known: ${names.join(', ')})` : ''}`,
      });
    }
  }
  if (config.default_provider !== undefined && !names.includes(config.default_provider)) {
    issues.push({
      path: ['guardrail', 'default_provider'],
      message: `names an unknown provider "${config.default_provider}"`,
    });
  }
  return issues;
}

/**
 * Validates a whole `guardrail` section (the app's six keys plus spec 30's), defaults applied, cross references
 * checked.
 * @example
 * const config = v.parse(GuardrailConfigSchema, { mode: 'action', providers: { openai: { base_url: 'https://api.openai.com/v1', api_key_env: 'OPENAI_API_KEY', flavour: 'openai' } } });
 */
export const GuardrailConfigSchema = v.pipe(
  v.strictObject({ ...BASE_ENTRIES, ...GUARDRAIL_PROXY_CONFIG_ENTRIES }, mapping),
  v.rawCheck(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    for (const issue of guardrailConfigIssues(dataset.value)) {
      addIssue({ message: `guardrail.${issue.path.slice(1).join('.')}: ${issue.message}` });
    }
  }),
);

/** The validated guardrail config, every default applied. */
export type GuardrailConfig = v.InferOutput<typeof GuardrailConfigSchema>;

/** The guardrail config as written (every key optional). */
export type GuardrailConfigInput = v.InferInput<typeof GuardrailConfigSchema>;

/** Returns the effective text hold-back: the configured value, else 256 in action mode and 0 in observe. */
export function effectiveHoldbackChars(config: Pick<GuardrailConfig, 'mode' | 'stream'>): number {
  const configured = config.stream.holdback_chars;
  if (configured !== null && configured !== undefined) return configured;
  return config.mode === 'action' ? 256 : 0;
}

/** Parses a guardrail section, returning every problem as `guardrail.<path>: <message>` lines. */
export function parseGuardrailConfig(
  input: unknown,
): { success: true; config: GuardrailConfig } | { success: false; errors: string[] } {
  const result = v.safeParse(GuardrailConfigSchema, input ?? {});
  if (result.success) return { success: true, config: result.output };
  return {
    success: false,
    errors: result.issues.map((issue) => {
      const path = v.getDotPath(issue);
      return path ? `guardrail.${path}: ${issue.message}` : issue.message;
    }),
  };
}
