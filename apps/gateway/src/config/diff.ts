import { isDeepStrictEqual } from 'node:util';
import type { Config } from './schema.ts';

/**
 * Key paths that need a restart (spec 20 §4.1 "R"): a hot reload reports them in `restart_required` and keeps the
 * running values. A path covers everything below it. Everything else applies on reload ("H"), or is read by `start`
 * ("S") or the watchdog ("W"), which read the file themselves.
 */
export const RESTART_REQUIRED_PATHS: readonly string[] = [
  'config_version',
  'gateway.connect',
  'gateway.host',
  'gateway.port',
  'gateway.tls',
  'gateway.token',
  'gateway.token_env',
  'gateway.device_key_file',
  'gateway.reconnect_ms',
  'gateway.max_reconnect_ms',
  'gateway.api_host',
  'gateway.api_port',
  'gateway.api_token_env',
  'guardrail.enabled',
  'guardrail.host',
  'guardrail.port',
  'guardrail.master_key_env',
  'audit.path',
  'audit.synchronous',
  'audit.queue_size',
  'audit.batch_max',
  'audit.flush_interval_ms',
  'log.format',
];

/** Lists the dotted key paths whose values differ between two configurations (leaves, or arrays as a whole). */
export function diffConfig(before: Config, after: Config): string[] {
  const out: string[] = [];
  const visit = (a: unknown, b: unknown, prefix: string) => {
    if (isPlainObject(a) && isPlainObject(b)) {
      for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
        visit(a[key], b[key], prefix === '' ? key : `${prefix}.${key}`);
      }
      return;
    }
    if (!isDeepStrictEqual(a, b)) out.push(prefix);
  };
  visit(before, after, '');
  return out.sort();
}

/** Tells whether a changed key path needs a restart to take effect. */
export function needsRestart(path: string): boolean {
  return RESTART_REQUIRED_PATHS.some((prefix) => path === prefix || path.startsWith(`${prefix}.`));
}

// --- internal ---

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
