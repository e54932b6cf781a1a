// --- internal: gateway URL resolution; never re-exported ---

const LOOPBACK_HOSTS: ReadonlySet<string> = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

/** The default OpenClaw host. */
export const DEFAULT_GATEWAY_HOST = '127.0.0.1';

/** The default OpenClaw port. */
export const DEFAULT_GATEWAY_PORT = 18789;

/** Tells whether a host name is loopback (where plain `ws://` is allowed). */
export function isLoopbackHost(host: string): boolean {
  return LOOPBACK_HOSTS.has(host.toLowerCase());
}

/** Builds `ws(s)://host:port` with no path; `wss` when `tls` is set or the host is not loopback. */
export function resolveGatewayUrl(options: {
  url?: string | undefined;
  host?: string | undefined;
  port?: number | undefined;
  tls?: boolean | undefined;
}): string {
  if (options.url !== undefined) return options.url;
  const host = options.host ?? DEFAULT_GATEWAY_HOST;
  const port = options.port ?? DEFAULT_GATEWAY_PORT;
  const secure = options.tls === true || !isLoopbackHost(host);
  const bareHost = host.startsWith('[') ? host : host.includes(':') ? `[${host}]` : host;
  return `${secure ? 'wss' : 'ws'}://${bareHost}:${port}`;
}
