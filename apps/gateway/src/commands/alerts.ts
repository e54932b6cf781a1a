import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { defineCommand } from 'citty';
import { CliError, EXIT_CODES } from '../cli-error.ts';
import {
  type ApiResponse,
  type ApiSettings,
  ApiUnreachableError,
  apiErrorMessage,
  apiRequest,
  readApiSettings,
  readApiToken,
} from './_api-client.ts';
import { type GlobalFlags, globalArgs } from './_global-args.ts';
import { type LifecycleContext, lifecycleContext } from './_lifecycle.ts';
import { createOutput, type Output } from './_output.ts';

/** Severities from lowest to highest (spec 30). */
export const SEVERITIES = ['info', 'low', 'medium', 'high', 'critical'] as const;

/** Flags of `alerts`. */
export type AlertsFlags = GlobalFlags & {
  limit?: string | undefined;
  severity?: string | undefined;
  since?: string | undefined;
  tool?: string | undefined;
  session?: string | undefined;
  all?: boolean | undefined;
  ack?: string | undefined;
  ackAll?: boolean | undefined;
  yes?: boolean | undefined;
  json?: boolean | undefined;
  /** Alert ids after `--ack` (`--ack 1 2 3`). */
  ids?: readonly string[];
};

/** One alert as the API (and this command's database fallback) returns it. */
export type WireAlert = {
  id: number;
  ts: string;
  severity: string;
  category?: string;
  title: string;
  action?: string | null;
  tool?: string | null;
  session_key?: string | null;
  rule_ids?: string[];
  acked_at?: string | null;
};

/** `alerts`: list or acknowledge alerts via `GET /alerts` and `POST /alerts/ack` (spec 20 §2.8). */
export default defineCommand({
  meta: { name: 'alerts', description: 'List open alerts, or acknowledge them with --ack / --ack-all' },
  args: {
    ...globalArgs,
    limit: { type: 'string', description: 'How many to show (1–500, default 20)', valueHint: 'n' },
    severity: { type: 'string', description: 'Minimum severity (info, low, medium, high, critical)' },
    since: { type: 'string', description: 'Only newer alerts: 15m, 1h, 7d or an ISO time' },
    tool: { type: 'string', description: 'Only alerts for this tool' },
    session: { type: 'string', description: 'Only alerts for this session key' },
    all: { type: 'boolean', description: 'Include acknowledged alerts' },
    ack: { type: 'string', description: 'Acknowledge alerts by id (--ack 12 13 …)', valueHint: 'id' },
    'ack-all': { type: 'boolean', description: 'Acknowledge every open alert matching the filters' },
    yes: { type: 'boolean', description: 'Do not ask for confirmation (--ack-all)' },
    json: { type: 'boolean', description: 'Print the API page as JSON' },
  },
  async run({ args }) {
    const rest = (args._ ?? []) as string[];
    await alertsCommand({ ...args, ackAll: args['ack-all'], ids: rest });
  },
});

/**
 * Runs `alerts`: prints a table (or the API page with `--json`); with the daemon down reads `audit.db` read-only
 * and notes it; acknowledging needs the daemon (exit 1 otherwise).
 */
export async function alertsCommand(flags: AlertsFlags): Promise<void> {
  const out = createOutput(flags);
  const ctx = lifecycleContext(flags);
  const api = await readApiSettings(ctx.configPath);
  const query = buildQuery(flags);
  if (flags.ack !== undefined || flags.ackAll === true) {
    await acknowledge(ctx, api, out, flags, query);
    return;
  }
  let response: ApiResponse | undefined;
  try {
    response = await apiRequest(api, {
      path: `/alerts?${query.toString()}`,
      token: readApiToken(ctx.dataDir, api.tokenEnv),
      timeoutMs: 5000,
    });
  } catch (error) {
    if (!(error instanceof ApiUnreachableError)) throw error;
  }
  if (response !== undefined && response.status === 200) {
    const alerts = (response.json as { alerts?: WireAlert[] } | undefined)?.alerts ?? [];
    if (flags.json) out.out(response.text.trim());
    else printTable(out, alerts);
    return;
  }
  if (response !== undefined && response.status !== 404) {
    throw new CliError(
      response.status === 400 ? EXIT_CODES.USAGE : EXIT_CODES.RUNTIME,
      `alerts: ${apiErrorMessage(response)}`,
    );
  }
  // The daemon is down, or its API has no /alerts route yet: read the database directly.
  const db = join(ctx.dataDir, 'audit.db');
  if (!existsSync(db)) {
    if (flags.json) out.out(JSON.stringify({ alerts: [], next_cursor: null }));
    else out.out('No open alerts.');
    return;
  }
  const alerts = await readFromDatabase(db, flags);
  if (flags.json) {
    out.out(JSON.stringify({ alerts, next_cursor: null }));
    return;
  }
  out.err(
    response === undefined
      ? `(daemon not running; read from ${ctx.show(db)})`
      : `(the daemon's API has no /alerts yet; read from ${ctx.show(db)})`,
  );
  printTable(out, alerts);
}

/** Parses `--since` (`15m`, `1h`, `7d` or ISO) into epoch milliseconds. */
export function parseSince(value: string, now = Date.now()): number {
  const relative = /^(\d+)([smhd])$/.exec(value);
  if (relative !== null) {
    const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[relative[2] as 's' | 'm' | 'h' | 'd'];
    return now - Number(relative[1]) * unit;
  }
  const at = Date.parse(value);
  if (Number.isNaN(at)) {
    throw new CliError(EXIT_CODES.USAGE, `--since must be like 15m, 1h, 7d or an ISO time; got ${value}`);
  }
  return at;
}

// --- internal ---

function buildQuery(flags: AlertsFlags): URLSearchParams {
  const query = new URLSearchParams();
  const limit = flags.limit === undefined ? 20 : Number(flags.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 500) {
    throw new CliError(EXIT_CODES.USAGE, `--limit must be an integer from 1 to 500; got ${flags.limit}`);
  }
  query.set('limit', String(limit));
  if (flags.severity !== undefined) {
    if (!(SEVERITIES as readonly string[]).includes(flags.severity)) {
      throw new CliError(
        EXIT_CODES.USAGE,
        `--severity must be one of ${SEVERITIES.join(', ')}; got ${flags.severity}`,
      );
    }
    query.set('severity', flags.severity);
  }
  if (flags.since !== undefined) {
    parseSince(flags.since);
    query.set('since', flags.since);
  }
  if (flags.tool !== undefined) query.set('tool', flags.tool);
  if (flags.session !== undefined) query.set('session', flags.session);
  query.set('status', flags.all ? 'all' : 'open');
  return query;
}

async function acknowledge(
  ctx: LifecycleContext,
  api: ApiSettings,
  out: Output,
  flags: AlertsFlags,
  query: URLSearchParams,
): Promise<void> {
  let body: unknown;
  if (flags.ack !== undefined) {
    const raw = [flags.ack, ...(flags.ids ?? [])].flatMap((part) => part.split(','));
    const ids = raw.map((part) => Number(part.trim()));
    if (ids.length === 0 || ids.length > 500 || ids.some((id) => !Number.isInteger(id) || id < 1)) {
      throw new CliError(EXIT_CODES.USAGE, '--ack takes 1 to 500 alert ids (positive integers)');
    }
    body = { ids };
  } else {
    if (flags.yes !== true) {
      if (process.stdin.isTTY !== true) {
        throw new CliError(EXIT_CODES.USAGE, '--ack-all needs --yes when not run from a terminal');
      }
      const { createInterface } = await import('node:readline/promises');
      const rl = createInterface({ input: process.stdin, output: process.stdout });
      const answer = await rl.question('Acknowledge every open alert matching these filters? [y/N] ');
      rl.close();
      if (!/^y(es)?$/i.test(answer.trim())) {
        out.out('Nothing acknowledged.');
        return;
      }
    }
    const filter: Record<string, string> = {};
    for (const key of ['severity', 'since', 'tool', 'session'] as const) {
      const value = query.get(key);
      if (value !== null) filter[key] = value;
    }
    body = { filter };
  }
  const token = readApiToken(ctx.dataDir, api.tokenEnv, { strict: true });
  let response: ApiResponse;
  try {
    response = await apiRequest(api, { method: 'POST', path: '/alerts/ack', token, body, timeoutMs: 5000 });
  } catch (error) {
    if (!(error instanceof ApiUnreachableError)) throw error;
    throw new CliError(EXIT_CODES.RUNTIME, 'Gateway sidecar is not running; acknowledging needs the daemon');
  }
  if (response.status !== 200) {
    throw new CliError(
      response.status === 400 ? EXIT_CODES.USAGE : EXIT_CODES.RUNTIME,
      `alerts --ack: ${apiErrorMessage(response)}`,
    );
  }
  if (flags.json) {
    out.out(response.text.trim());
    return;
  }
  const result = response.json as { acked?: unknown; already_acked?: unknown; not_found?: unknown };
  const count = (value: unknown) =>
    Array.isArray(value) ? value.length : typeof value === 'number' ? value : 0;
  out.out(
    `Acknowledged ${count(result.acked)} alert(s)${count(result.already_acked) > 0 ? `, ${count(result.already_acked)} already acknowledged` : ''}${count(result.not_found) > 0 ? `, not found: ${(result.not_found as unknown[]).join(', ')}` : ''}`,
  );
}

function printTable(out: Output, alerts: readonly WireAlert[]): void {
  if (alerts.length === 0) {
    out.out('No open alerts.');
    return;
  }
  const rows = alerts.map((a) => [
    a.ts.replace(/\.\d{3}Z$/, 'Z'),
    a.severity,
    a.action ?? '-',
    a.tool ?? '-',
    a.session_key ?? '-',
    (a.rule_ids ?? []).join(',') || '-',
  ]);
  const header = ['TIME', 'SEV', 'ACTION', 'TOOL', 'SESSION', 'RULES'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ');
  out.out(line(header));
  for (const row of rows) {
    const paint =
      row[1] === 'critical' || row[1] === 'high'
        ? out.red
        : row[1] === 'medium'
          ? out.yellow
          : (t: string) => t;
    out.out(paint(line(row)));
  }
}

async function readFromDatabase(path: string, flags: AlertsFlags): Promise<WireAlert[]> {
  const { default: Database } = await import('better-sqlite3');
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const where: string[] = [];
    const params: Record<string, unknown> = {};
    if (!flags.all) where.push('acked_at IS NULL');
    if (flags.severity !== undefined) {
      where.push('severity_rank >= @rank');
      // audit-store's SEVERITY_RANK: info 1 … critical 5.
      params.rank = SEVERITIES.indexOf(flags.severity as (typeof SEVERITIES)[number]) + 1;
    }
    if (flags.since !== undefined) {
      where.push('ts >= @since');
      params.since = parseSince(flags.since);
    }
    if (flags.tool !== undefined) {
      where.push('tool = @tool');
      params.tool = flags.tool;
    }
    if (flags.session !== undefined) {
      where.push('session_key = @session');
      params.session = flags.session;
    }
    params.limit = flags.limit === undefined ? 20 : Number(flags.limit);
    const rows = db
      .prepare(
        `SELECT id, ts, severity, category, title, action, tool, session_key, rule_ids, acked_at FROM alerts ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT @limit`,
      )
      .all(params) as {
      id: number;
      ts: number;
      severity: string;
      category: string;
      title: string;
      action: string | null;
      tool: string | null;
      session_key: string | null;
      rule_ids: string;
      acked_at: number | null;
    }[];
    return rows.map((row) => ({
      id: row.id,
      ts: new Date(row.ts).toISOString(),
      severity: row.severity,
      category: row.category,
      title: row.title,
      action: row.action,
      tool: row.tool,
      session_key: row.session_key,
      rule_ids: parseRuleIds(row.rule_ids),
      acked_at: row.acked_at === null ? null : new Date(row.acked_at).toISOString(),
    }));
  } finally {
    db.close();
  }
}

function parseRuleIds(text: string): string[] {
  try {
    const value = JSON.parse(text) as unknown;
    return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
  } catch {
    return [];
  }
}
