import type { Config } from './schema.ts';

/** Builds the OpenClaw WebSocket URL from `gateway.host`, `gateway.port` and `gateway.tls` (IPv6 in brackets). */
export function gatewayUrl(config: Config): string {
  const { gateway } = config;
  const host =
    gateway.host.includes(':') && !gateway.host.startsWith('[') ? `[${gateway.host}]` : gateway.host;
  return `${gateway.tls ? 'wss' : 'ws'}://${host}:${gateway.port}`;
}
