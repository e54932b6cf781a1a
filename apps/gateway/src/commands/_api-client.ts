import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { isConfigError } from '../config/config-error.ts';
import { loadEnvFile } from '../config/env-file.ts';

// Same prefix as config/load.ts's ENV_OVERRIDE_PREFIX; importing that module would load the whole schema.
const ENV_OVERRIDE_PREFIX = 'DEFENSECLAW__';

/** Where the daemon's API listens and which variable holds its token: the keys the API clients need. */
export type ApiSettings = {
  host: string;
  port: number;
  tokenEnv: string;
};

/** The API defaults (spec 20 §4.1). */
export const DEFAULT_API_SETTINGS: ApiSettings = {
  host: '127.0.0.1',
  port: 18970,
  tokenEnv: 'DEFENSECLAW_API_TOKEN',
};

/**
 * Reads `gateway.api_host`, `gateway.api_port` and `gateway.api_token_env` from config.yaml and their
 * `DEFENSECLAW__GATEWAY__…` overrides, without loading the whole config schema (which pulls in the policy
 * engine): `status` must stay fast. Anything unreadable or ill-typed falls back to the default; `start`,
 * `doctor` and the daemon are where the config is validated.
 */
export async function readApiSettings(
  configPath: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ApiSettings> {
  const settings = { ...DEFAULT_API_SETTINGS };
  let text: string | undefined;
  try {
    text = readFileSync(configPath, 'utf8');
  } catch {
    text = undefined;
  }
  const mentionsApi = text
    ?.split('\n')
    .some((line) => !/^[ \t]*#/.test(line) && /\bapi_(?:host|port|token_env)\b/.test(line));
  if (text !== undefined && mentionsApi === true) {
    const simple = scanGatewayKeys(text);
    if (simple !== undefined) {
      applyGateway(settings, simple);
    } else {
      const { parse } = await import('yaml');
      try {
        const doc = parse(text) as { gateway?: Record<string, unknown> } | null;
        applyGateway(settings, doc?.gateway);
      } catch {
        // An invalid file: the defaults; `doctor` reports it.
      }
    }
  }
  const overrides: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(env)) {
    const upper = name.toUpperCase();
    if (value === undefined || !upper.startsWith(`${ENV_OVERRIDE_PREFIX}GATEWAY__`)) continue;
    overrides[upper.slice(`${ENV_OVERRIDE_PREFIX}GATEWAY__`.length).toLowerCase()] = value.trim();
  }
  applyGateway(settings, overrides);
  return settings;
}

/**
 * Resolves the API token: the variable named by `gateway.api_token_env` from the environment, else from
 * `<data dir>/.env`. An insecure or malformed `.env` yields no token when `strict` is false, and throws the
 * `ConfigError` (exit 3) when it is true.
 */
export function readApiToken(
  dataDir: string,
  tokenEnv: string,
  options: { env?: NodeJS.ProcessEnv; strict?: boolean } = {},
): string | undefined {
  const env = options.env ?? process.env;
  const direct = env[tokenEnv]?.trim();
  if (direct) return direct;
  const scratch: NodeJS.ProcessEnv = {};
  try {
    loadEnvFile(join(dataDir, '.env'), scratch);
  } catch (error) {
    if (options.strict === true || !isConfigError(error)) throw error;
    return undefined;
  }
  const fromFile = scratch[tokenEnv]?.trim();
  return fromFile ? fromFile : undefined;
}

/** An HTTP answer from the daemon's API. */
export type ApiResponse = {
  status: number;
  /** The parsed JSON body, or undefined when it was not JSON. */
  json: unknown;
  text: string;
};

/** Options of `apiRequest`. */
export type ApiRequestOptions = {
  method?: 'GET' | 'POST';
  /** The path with its query string. */
  path: string;
  token?: string | undefined;
  /** A JSON body (POST). */
  body?: unknown;
  /** @default 2000 */
  timeoutMs?: number;
  /** Largest body read. @default 4 MiB */
  maxBytes?: number;
};

/** Why the API could not be reached: a connection error code or a timeout. */
export class ApiUnreachableError extends Error {
  override readonly name = 'ApiUnreachableError';
}

/**
 * Sends one request to the daemon's API with `node:http` (cheaper to load than `fetch` for a short-lived CLI),
 * with the token as `Authorization: Bearer` and `X-DefenseClaw-Client: cli`.
 *
 * @throws ApiUnreachableError when the connection fails or times out.
 */
export function apiRequest(api: ApiSettings, options: ApiRequestOptions): Promise<ApiResponse> {
  const timeoutMs = options.timeoutMs ?? 2000;
  const maxBytes = options.maxBytes ?? 4 * 1024 * 1024;
  const body = options.body === undefined ? undefined : JSON.stringify(options.body);
  const host = api.host === '0.0.0.0' ? '127.0.0.1' : api.host === '::' ? '::1' : api.host;
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: host.replace(/^\[(.*)\]$/, '$1'),
        port: api.port,
        method: options.method ?? 'GET',
        path: options.path,
        headers: {
          accept: 'application/json',
          'x-defenseclaw-client': 'cli',
          ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
          ...(body === undefined
            ? {}
            : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }),
        },
        timeout: timeoutMs,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) {
            req.destroy(new ApiUnreachableError(`response larger than ${maxBytes} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, json, text });
        });
        res.on('error', (error) => reject(new ApiUnreachableError(error.message)));
      },
    );
    req.on('timeout', () => req.destroy(new ApiUnreachableError(`timeout after ${timeoutMs} ms`)));
    req.on('error', (error: NodeJS.ErrnoException) => {
      reject(
        error instanceof ApiUnreachableError
          ? error
          : new ApiUnreachableError(error.code === undefined ? error.message : `connect ${error.code}`),
      );
    });
    req.end(body);
  });
}

/** Formats the API address as `host:port` (IPv6 in brackets). */
export function apiAddress(api: ApiSettings): string {
  return api.host.includes(':') && !api.host.startsWith('[')
    ? `[${api.host}]:${api.port}`
    : `${api.host}:${api.port}`;
}

/** Reads an error body's `error.message` (spec 20 §6.3), if any. */
export function apiErrorMessage(response: ApiResponse): string {
  const error = (response.json as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  if (typeof error?.message === 'string') {
    return typeof error.code === 'string' ? `${error.message} (${error.code})` : error.message;
  }
  return `HTTP ${response.status}`;
}

/**
 * Reads `gateway.api_host`, `api_port` and `api_token_env` from a block-style config.yaml without a YAML parser
 * (loading one costs more than the rest of `status`). Returns undefined whenever the file uses anything beyond
 * plain `key: scalar` lines in the `gateway:` block (flow style, anchors, tags, multi-line or duplicate keys), so
 * the caller falls back to the real parser.
 */
export function scanGatewayKeys(text: string): Record<string, string | number> | undefined {
  const lines = text.split(/\r?\n/);
  const start = lines.findIndex((line) => /^gateway[ \t]*:/.test(line));
  if (start === -1) return {};
  if (!/^gateway[ \t]*:[ \t]*(#.*)?$/.test(lines[start]!)) return undefined;
  if (lines.slice(start + 1).some((line) => /^gateway[ \t]*:/.test(line))) return undefined;
  const out: Record<string, string | number> = {};
  let indent: string | undefined;
  for (const line of lines.slice(start + 1)) {
    if (/^[ \t]*(#.*)?$/.test(line)) continue;
    const lead = /^[ \t]*/.exec(line)![0];
    if (lead === '') break; // the next top-level key
    indent ??= lead;
    if (lead !== indent) continue; // deeper (watchdog:, watcher:) or odd indentation
    const match = /^[ \t]+([A-Za-z_][\w]*)[ \t]*:[ \t]*(.*)$/.exec(line);
    if (match === null) return undefined;
    const key = match[1]!;
    if (key !== 'api_host' && key !== 'api_port' && key !== 'api_token_env') continue;
    if (key in out) return undefined;
    const raw = match[2]!.replace(/[ \t]+#.*$/, '').trim();
    if (raw === '' || /^[[{&*!|>%@`]/.test(raw)) return undefined;
    const quoted = /^(['"])(.*)\1$/.exec(raw);
    if (quoted !== null) {
      if (quoted[2]!.includes('\\') || quoted[2]!.includes(quoted[1]!)) return undefined;
      out[key] = quoted[2]!;
    } else if (/^[0-9]+$/.test(raw)) {
      out[key] = Number(raw);
    } else if (/^[\w.:-]+$/.test(raw)) {
      out[key] = raw;
    } else {
      return undefined;
    }
  }
  return out;
}

// --- internal ---

function applyGateway(settings: ApiSettings, gateway: unknown): void {
  if (typeof gateway !== 'object' || gateway === null) return;
  const g = gateway as Record<string, unknown>;
  if (typeof g.api_host === 'string' && g.api_host.trim() !== '') settings.host = g.api_host.trim();
  const port = typeof g.api_port === 'string' ? Number(g.api_port) : g.api_port;
  if (typeof port === 'number' && Number.isInteger(port) && port >= 1 && port <= 65_535) settings.port = port;
  if (typeof g.api_token_env === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(g.api_token_env)) {
    settings.tokenEnv = g.api_token_env;
  }
}
