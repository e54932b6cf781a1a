import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import JSON5 from 'json5';
import * as v from 'valibot';

/** Options of `resolveOpenClawConfigPath` and `readOpenClawToken`. */
export type OpenClawConfigOptions = {
  /** An explicit config path (the sidecar's `claw.config_file`); wins over the environment. */
  configPath?: string | undefined;
  /**
   * The environment consulted for `OPENCLAW_CONFIG_PATH` and `OPENCLAW_STATE_DIR`.
   * @default process.env
   */
  env?: Readonly<Record<string, string | undefined>>;
  /**
   * The home directory used for `~` and the `~/.openclaw/openclaw.json` fallback.
   * @default os.homedir()
   */
  homeDir?: string;
};

/** The outcome of `readOpenClawToken`; the failure `message` never contains a token. */
export type ReadOpenClawTokenResult =
  | { success: true; token: string; path: string }
  | {
      success: false;
      path: string;
      reason:
        | 'missing'
        | 'unreadable'
        | 'parse-error'
        | 'no-token'
        | 'secret-ref'
        | 'env-template'
        | 'invalid';
      message: string;
    };

/**
 * Returns the OpenClaw config path: the explicit option, then `$OPENCLAW_CONFIG_PATH`, then
 * `$OPENCLAW_STATE_DIR/openclaw.json`, then `~/.openclaw/openclaw.json`.
 *
 * @example
 * resolveOpenClawConfigPath({ env: process.env }); // '/home/me/.openclaw/openclaw.json'
 */
export function resolveOpenClawConfigPath(options: OpenClawConfigOptions = {}): string {
  const env = options.env ?? process.env;
  const home = options.homeDir ?? homedir();
  const explicit = nonEmpty(options.configPath) ?? nonEmpty(env.OPENCLAW_CONFIG_PATH);
  if (explicit !== undefined) return expandHome(explicit, home);
  const stateDir = nonEmpty(env.OPENCLAW_STATE_DIR);
  if (stateDir !== undefined) return join(expandHome(stateDir, home), 'openclaw.json');
  return join(home, '.openclaw', 'openclaw.json');
}

/**
 * Reads `gateway.auth.token` from the OpenClaw config (JSON5). Only a non-empty literal string without
 * `${` is accepted; SecretRef objects and env templates are reported, never resolved.
 *
 * @example
 * const result = await readOpenClawToken({ configPath: '/etc/openclaw/openclaw.json' });
 * if (result.success) useToken(result.token);
 */
export async function readOpenClawToken(
  options: OpenClawConfigOptions = {},
): Promise<ReadOpenClawTokenResult> {
  const path = resolveOpenClawConfigPath(options);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : '';
    if (code === 'ENOENT') {
      return { success: false, path, reason: 'missing', message: `OpenClaw config ${path} does not exist` };
    }
    return {
      success: false,
      path,
      reason: 'unreadable',
      message: `cannot read OpenClaw config ${path} (${code})`,
    };
  }
  let parsed: unknown;
  try {
    parsed = JSON5.parse(text);
  } catch (error) {
    // JSON5 messages quote the offending character; keep only the position so no secret leaks.
    const position = error instanceof Error ? /at (\d+:\d+)/.exec(error.message)?.[1] : undefined;
    const where = position === undefined ? '' : ` at ${position}`;
    return {
      success: false,
      path,
      reason: 'parse-error',
      message: `cannot parse OpenClaw config ${path}: JSON5 syntax error${where}`,
    };
  }
  const result = v.safeParse(ConfigTokenSchema, parsed);
  const token = result.success ? result.output.gateway?.auth?.token : undefined;
  if (token === undefined || token === null || token === '') {
    return {
      success: false,
      path,
      reason: 'no-token',
      message: `OpenClaw config ${path} has no gateway.auth.token`,
    };
  }
  if (typeof token === 'object') {
    return {
      success: false,
      path,
      reason: 'secret-ref',
      message: `gateway.auth.token in ${path} is a SecretRef, which we do not resolve; set OPENCLAW_GATEWAY_TOKEN instead`,
    };
  }
  if (typeof token !== 'string') {
    return {
      success: false,
      path,
      reason: 'invalid',
      message: `gateway.auth.token in ${path} is not a string`,
    };
  }
  if (token.includes('${')) {
    return {
      success: false,
      path,
      reason: 'env-template',
      message: `gateway.auth.token in ${path} is an env template, which we do not expand; set OPENCLAW_GATEWAY_TOKEN instead`,
    };
  }
  return { success: true, token, path };
}

// --- internal ---

const ConfigTokenSchema = v.looseObject({
  gateway: v.optional(
    v.looseObject({
      auth: v.optional(v.looseObject({ token: v.optional(v.unknown()) })),
    }),
  ),
});

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}

function expandHome(path: string, home: string): string {
  if (path === '~') return home;
  if (path.startsWith('~/')) return join(home, path.slice(2));
  return path;
}
