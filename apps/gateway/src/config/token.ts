import type { Config } from './schema.ts';

/** Where the upstream OpenClaw token came from: a variable name, or `gateway.token`. */
export type TokenSource = string;

/** The resolved upstream token (undefined when none is set) and its source. */
export type ResolvedToken = { token: string; source: TokenSource } | { token: undefined; source: undefined };

/**
 * Resolves the OpenClaw gateway token: the first non-empty of `$<gateway.token_env>`, `OPENCLAW_GATEWAY_TOKEN`,
 * `DEFENSECLAW_GATEWAY_TOKEN` and `gateway.token` (spec 20 §4.2).
 */
export function resolveGatewayToken(config: Config, env: NodeJS.ProcessEnv = process.env): ResolvedToken {
  const candidates: [TokenSource, string | undefined][] = [
    [config.gateway.token_env, env[config.gateway.token_env]],
    ['OPENCLAW_GATEWAY_TOKEN', env.OPENCLAW_GATEWAY_TOKEN],
    ['DEFENSECLAW_GATEWAY_TOKEN', env.DEFENSECLAW_GATEWAY_TOKEN],
    ['gateway.token', config.gateway.token],
  ];
  for (const [source, token] of candidates) {
    if (token !== undefined && token.trim() !== '') return { token, source };
  }
  return { token: undefined, source: undefined };
}

/** Describes a token for logs without revealing it: `set (<n> chars)` or `not set`. */
export function describeToken(token: string | undefined): string {
  return token === undefined ? 'not set' : `set (${token.length} chars)`;
}
