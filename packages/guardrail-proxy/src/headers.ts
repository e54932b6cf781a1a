import type { ProviderFlavour } from './config.ts';

// Header hygiene, allow-list based in both directions (spec 30 §B2). Anything not listed never crosses: hop-by-hop
// headers, host, content-length, credentials, cookies, forwarding headers and our own x-defenseclaw-* headers.

/** Incoming headers as Node gives them (lowercase names). */
export type HeaderRecord = Record<string, string | string[] | undefined>;

/** Client request headers forwarded upstream (besides `x-stainless-*` and `guardrail.forward_headers`). */
export const UPSTREAM_REQUEST_HEADERS: ReadonlySet<string> = new Set([
  'content-type',
  'accept',
  'user-agent',
  'anthropic-version',
  'anthropic-beta',
  'openai-beta',
  'idempotency-key',
]);

/** Upstream response headers relayed to the client (besides the rate-limit prefixes). */
export const CLIENT_RESPONSE_HEADERS: ReadonlySet<string> = new Set([
  'content-type',
  'x-request-id',
  'request-id',
  'openai-processing-ms',
  'retry-after',
]);

const CLIENT_RESPONSE_PREFIXES = ['x-ratelimit-', 'anthropic-ratelimit-'];

/** The Anthropic API version sent when the client names none. */
export const DEFAULT_ANTHROPIC_VERSION = '2023-06-01';

/** Options of `upstreamRequestHeaders`. */
export type UpstreamHeaderOptions = {
  flavour: ProviderFlavour;
  /** The provider key from the registry (never a client credential); absent for keyless providers. */
  apiKey?: string | undefined;
  /** Extra lowercase header names from `guardrail.forward_headers`. */
  forward: ReadonlySet<string>;
};

/** Builds the upstream request headers from the client's, allow-listed, with the provider's credential added. */
export function upstreamRequestHeaders(
  client: HeaderRecord,
  options: UpstreamHeaderOptions,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name in client) {
    const value = client[name];
    if (value === undefined) continue;
    if (UPSTREAM_REQUEST_HEADERS.has(name) || name.startsWith('x-stainless-') || options.forward.has(name)) {
      out[name] = Array.isArray(value) ? value.join(', ') : value;
    }
  }
  out['content-type'] = 'application/json';
  // The proxy must scan plain bytes.
  out['accept-encoding'] = 'identity';
  if (options.flavour === 'anthropic') {
    out['anthropic-version'] ??= DEFAULT_ANTHROPIC_VERSION;
    if (options.apiKey) out['x-api-key'] = options.apiKey;
  } else if (options.apiKey) {
    out.authorization = `Bearer ${options.apiKey}`;
  }
  return out;
}

/** Filters upstream response headers down to the client allow-list. */
export function clientResponseHeaders(upstream: HeaderRecord): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const name in upstream) {
    const value = upstream[name];
    if (value === undefined) continue;
    if (CLIENT_RESPONSE_HEADERS.has(name) || CLIENT_RESPONSE_PREFIXES.some((p) => name.startsWith(p))) {
      out[name] = value;
    }
  }
  return out;
}

/** Returns one header value (the first when repeated). */
export function headerValue(headers: HeaderRecord, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}
