// The request pipeline's security checks (spec 20 §6.2): Host allow-list, Origin and Sec-Fetch-Site, token, CSRF
// header and content type. Each check is a small pure function the middleware in `app.ts` calls in order.
import { isIPv4, isIPv6 } from 'node:net';
import { RestApiError } from './errors.ts';

/** The header a write must carry (any non-empty value); browsers cannot send it cross-origin without a preflight. */
export const CLIENT_HEADER = 'X-DefenseClaw-Client';

/** The alternative token header (besides `Authorization: Bearer`). */
export const TOKEN_HEADER = 'X-DefenseClaw-Token';

/** Query parameters that look like a credential; their presence is refused with 400 `token_in_query`. */
export const TOKEN_QUERY_PARAMS = ['token', 'access_token', 'api_token', 'api_key', 'apikey'] as const;

/** Tells whether a peer address is loopback: 127.0.0.0/8, ::1 or ::ffff:127.0.0.0/104. */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (address === undefined || address === '') return false;
  let a = address.toLowerCase();
  if (a.startsWith('[') && a.endsWith(']')) a = a.slice(1, -1);
  const zone = a.indexOf('%');
  if (zone >= 0) a = a.slice(0, zone);
  if (isIPv4(a)) return a.startsWith('127.');
  if (!isIPv6(a)) return false;
  if (a === '::1' || a === '0:0:0:0:0:0:0:1') return true;
  // IPv4-mapped loopback, dotted (::ffff:127.0.0.1) or hex (::ffff:7f00:1).
  const dotted = /^(?:::|(?:0{1,4}:){5})ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  if (dotted !== null) return isIPv4(dotted[1]!) && dotted[1]!.startsWith('127.');
  return /^(?:::|(?:0{1,4}:){5})ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}$/.test(a);
}

/** The `Host` values the API answers to: loopback names on its port, its own host, and configured extras. */
export function allowedHosts(
  port: number,
  apiHost: string | undefined,
  extra: readonly string[],
): Set<string> {
  const hosts = new Set([`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]);
  if (apiHost !== undefined && apiHost !== '') {
    const host = apiHost.includes(':') && !apiHost.startsWith('[') ? `[${apiHost}]` : apiHost;
    hosts.add(`${host}:${port}`.toLowerCase());
  }
  for (const entry of extra) hosts.add(entry.trim().toLowerCase());
  return hosts;
}

/** Throws 403 `forbidden_host` unless the Host header is exactly one allowed value (DNS-rebinding defence). */
export function checkHost(host: string | undefined, allowed: ReadonlySet<string>): void {
  if (host === undefined || !allowed.has(host.trim().toLowerCase())) {
    throw new RestApiError('forbidden_host', 'Host header not allowed');
  }
}

/** Throws 403 unless `Origin` is absent or a loopback origin on our port and `Sec-Fetch-Site` is absent or benign. */
export function checkOrigin(origin: string | undefined, fetchSite: string | undefined, port: number): void {
  if (origin !== undefined) {
    const o = origin.trim().toLowerCase();
    const ok =
      o === `http://127.0.0.1:${port}` || o === `http://localhost:${port}` || o === `http://[::1]:${port}`;
    if (!ok) throw new RestApiError('forbidden_origin', 'cross-origin requests are not allowed');
  }
  if (fetchSite !== undefined) {
    const s = fetchSite.trim().toLowerCase();
    if (s !== 'same-origin' && s !== 'none') {
      throw new RestApiError('cross_site', 'cross-site requests are not allowed');
    }
  }
}

/** Extracts the presented token from `Authorization: Bearer` or `X-DefenseClaw-Token`; undefined when absent. */
export function presentedToken(
  authorization: string | undefined,
  tokenHeader: string | undefined,
): string | undefined {
  if (authorization !== undefined) {
    const match = /^bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
    if (match !== null) return match[1];
  }
  const alt = tokenHeader?.trim();
  return alt === undefined || alt === '' ? undefined : alt;
}

/** Throws 400 `token_in_query` when the query string carries something that looks like a credential. */
export function checkNoTokenInQuery(url: string): void {
  const q = url.indexOf('?');
  if (q < 0) return;
  const params = new URLSearchParams(url.slice(q + 1));
  for (const name of TOKEN_QUERY_PARAMS) {
    if (params.has(name)) {
      throw new RestApiError(
        'token_in_query',
        `credentials are not accepted in the query string (${name}); send Authorization: Bearer <token>`,
      );
    }
  }
}

/** The 401 every missing or wrong token gets (the token itself is never echoed). */
export function unauthorized(message = 'missing or invalid API token'): RestApiError {
  return new RestApiError('unauthorized', message, { headers: { 'WWW-Authenticate': 'Bearer' } });
}

/** Throws 403 / 415 unless a mutating request carries the client header and, with a body, a JSON content type. */
export function checkCsrf(
  method: string,
  clientHeader: string | undefined,
  contentType: string | undefined,
  hasBody: boolean,
): void {
  if (clientHeader === undefined || clientHeader.trim() === '') {
    throw new RestApiError('csrf_header_missing', `writes need a non-empty ${CLIENT_HEADER} header`);
  }
  const needsJson = method === 'POST' || method === 'PUT' || method === 'PATCH' || hasBody;
  if (needsJson && !isJson(contentType)) {
    throw new RestApiError('unsupported_media_type', 'request body must be Content-Type: application/json');
  }
}

// --- internal ---

function isJson(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const type = contentType.split(';')[0]!.trim().toLowerCase();
  return type === 'application/json';
}
