import { GUARDRAIL_PROXY_CONFIG_ENTRIES } from '@defenseclaw/guardrail-proxy/config';
import { LANES, PolicyConfigSchema, SEVERITIES } from '@defenseclaw/policy';
import * as v from 'valibot';
import {
  bool,
  envName,
  int,
  maybeOneOf,
  maybePathStr,
  nonEmptyStr,
  oneOf,
  pathStr,
  port,
  reservedFalse,
  section,
  str,
  strList,
} from './_schema-helpers.ts';

/** Enforcement modes shared by `policy.mode` and `guardrail.mode`. */
export const MODES = ['observe', 'action'] as const;

/** Log levels accepted by `log.level`. */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;

/** A configured log level. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Lanes whose scanner fail mode can be pinned under `policy.fail_mode` (spec 30 §B7): every lane but `dry_run`. */
export const FAIL_MODE_LANES = LANES.filter((lane) => lane !== 'dry_run') as Exclude<
  (typeof LANES)[number],
  'dry_run'
>[];

const failMode = maybeOneOf(['closed', 'open']);

/**
 * Validates `config.yaml` (spec 20 §4.1): strict mappings everywhere, every key optional with its default.
 * Paths stay as written; the loader expands `~` and resolves relative paths against the data dir.
 */
export const ConfigSchema = v.strictObject(
  {
    config_version: v.optional(
      v.literal(1, (i: { received: string }) => `must be 1 (reserved for migrations); got ${i.received}`),
      1,
    ),
    claw: section({
      // No default here: without it the client applies OpenClaw's own lookup order ($OPENCLAW_CONFIG_PATH,
      // $OPENCLAW_STATE_DIR/openclaw.json, then ~/.openclaw/openclaw.json).
      config_file: maybePathStr(),
    }),
    gateway: section({
      connect: bool(true),
      host: nonEmptyStr('127.0.0.1'),
      port: port(18789),
      tls: bool(false),
      token: str(''),
      token_env: envName('OPENCLAW_GATEWAY_TOKEN'),
      device_key_file: pathStr('device.key'),
      reconnect_ms: int(800, 1, 3_600_000),
      max_reconnect_ms: int(15_000, 1, 3_600_000),
      auto_approve_safe: bool(false),
      approval_deny_severity: oneOf(SEVERITIES, 'high'),
      api_host: nonEmptyStr('127.0.0.1'),
      api_port: port(18970),
      api_token_env: envName('DEFENSECLAW_API_TOKEN'),
      api_require_token_for_reads: bool(false),
      api_allowed_hosts: strList([]),
      watchdog: section({
        enabled: bool(false),
        interval_s: int(10, 1, 3600),
        failures: int(3, 1, 100),
        gateway_error_grace_s: int(120, 0),
        max_restarts: int(5, 1),
        restart_window_s: int(600, 1),
      }),
      watcher: section({
        enabled: bool(true),
        take_action: bool(true),
        skill_dirs: strList([]),
        plugin_dirs: strList([]),
        debounce_ms: int(500, 0),
        rescan_interval_s: int(300, 0),
      }),
    }),
    guardrail: section({
      enabled: bool(false),
      host: nonEmptyStr('127.0.0.1'),
      port: port(4000),
      mode: oneOf(MODES, 'observe'),
      master_key_env: envName('DEFENSECLAW_MASTER_KEY'),
      block_message: str('[DefenseClaw] Blocked: {reason}. Ref {ref}.'),
      // Spec 30 §B's own keys (providers, aliases, limits, stream tuning), validated by the proxy package.
      ...GUARDRAIL_PROXY_CONFIG_ENTRIES,
    }),
    policy: section({
      mode: oneOf(MODES, 'action'),
      profile: oneOf(['default', 'strict', 'permissive'], 'default'),
      pack_dirs: strList(['policies']),
      bundled: bool(true),
      fail_mode: section(
        Object.fromEntries(FAIL_MODE_LANES.map((lane) => [lane, failMode])) as {
          [K in (typeof FAIL_MODE_LANES)[number]]: typeof failMode;
        },
      ),
      scan: section({ budget_ms: int(200, 1, 60_000) }),
      // Spec 30's own keys, validated by the policy package's schema (compile checks the cross references).
      profiles: PolicyConfigSchema.entries.profiles,
      profile_by_lane: PolicyConfigSchema.entries.profile_by_lane,
      overrides: PolicyConfigSchema.entries.overrides,
      tool_classes: PolicyConfigSchema.entries.tool_classes,
      approval_tool_name: PolicyConfigSchema.entries.approval_tool_name,
    }),
    audit: section({
      path: pathStr('audit.db'),
      synchronous: oneOf(['normal', 'full'], 'normal'),
      retention_days: int(90, 0),
      capture: oneOf(['redacted', 'metadata'], 'redacted'),
      max_payload_bytes: int(16_384, 0),
      queue_size: int(10_000, 1),
      batch_max: int(256, 1),
      flush_interval_ms: int(10, 1),
      enqueue_timeout_ms: int(2000, 0),
      drain_timeout_ms: int(5000, 0, 8000),
    }),
    telemetry: section({
      metrics: bool(true),
      otlp: section({ enabled: reservedFalse('OTLP export is not supported in this build') }),
    }),
    splunk: section({
      enabled: bool(false),
      hec_url: str(''),
      token_env: envName('SPLUNK_HEC_TOKEN'),
      index: str(''),
      source: str('defenseclaw'),
      sourcetype: str('defenseclaw:event'),
      batch: section({
        max_events: int(100, 1),
        max_bytes: int(1_048_576, 1),
        interval_ms: int(2000, 1),
      }),
      timeout_ms: int(5000, 1),
      max_lag_events: int(100_000, 1),
      include: oneOf(['all', 'alerts'], 'all'),
      include_payload: bool(false),
    }),
    sandbox: section({ enabled: reservedFalse('sandbox is not supported in this build') }),
    log: section({
      level: oneOf(LOG_LEVELS, 'info'),
      format: oneOf(['text', 'json'], 'text'),
    }),
  },
  (i: { received: string }) => `must be a mapping; got ${i.received}`,
);

/** The validated configuration, every default applied. */
export type Config = v.InferOutput<typeof ConfigSchema>;

/** The configuration an absent `config.yaml` yields (paths not yet resolved). */
export function defaultConfig(): Config {
  return v.parse(ConfigSchema, {});
}
