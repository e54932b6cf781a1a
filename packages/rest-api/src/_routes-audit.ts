// Alerts, acknowledgement and audit events (spec 20 §6.1, §6.3 paging, §7.3 queries).
import { isAuditStoreError, SEVERITIES } from '@defenseclaw/audit-store';
import { ACTIONS } from '@defenseclaw/policy';
import * as v from 'valibot';
import type { ApiContext } from './_context.ts';
import { readBody, readQuery, timeParam } from './_http.ts';
import { alertToWire, eventToWire } from './_wire.ts';
import { RestApiError } from './errors.ts';
import { unauthorized } from './security.ts';

/** The largest page `/alerts` and `/audit/events` serve. */
export const MAX_API_PAGE = 500;

/** The most alert ids one acknowledgement takes. */
export const MAX_ACK_IDS = 500;

/** Registers `/alerts`, `/alerts/ack` and `/audit/events`. */
export function registerAuditRoutes(api: ApiContext): void {
  const { store } = api.deps;
  const time = timeParam(api.now);
  const text = (max: number) => v.pipe(v.string(), v.minLength(1), v.maxLength(max));
  const limit = v.pipe(
    v.string(),
    v.rawTransform(({ dataset, addIssue, NEVER }) => {
      const n = /^\d{1,4}$/.test(dataset.value) ? Number(dataset.value) : Number.NaN;
      if (!(n >= 1 && n <= MAX_API_PAGE)) {
        addIssue({ message: `must be an integer 1–${MAX_API_PAGE}` });
        return NEVER;
      }
      return n;
    }),
  );
  const cursor = v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{1,200}$/));

  const AlertsQuerySchema = v.object({
    limit: v.optional(limit),
    severity: v.optional(v.picklist(SEVERITIES)),
    since: v.optional(time),
    until: v.optional(time),
    tool: v.optional(text(256)),
    session: v.optional(text(512)),
    status: v.optional(v.picklist(['open', 'acked', 'all'])),
    cursor: v.optional(cursor),
  });

  api.route('GET', '/alerts', 'read', (c) => {
    const q = readQuery(c, AlertsQuerySchema);
    const status = q.status ?? 'open';
    const page = paged(() =>
      store.queries.listAlerts({
        limit: q.limit ?? 50,
        ...(q.severity !== undefined ? { minSeverity: q.severity } : {}),
        ...(q.since !== undefined ? { since: q.since } : {}),
        ...(q.until !== undefined ? { until: q.until } : {}),
        ...(q.tool !== undefined ? { tool: q.tool } : {}),
        ...(q.session !== undefined ? { sessionKey: q.session } : {}),
        ...(status === 'all' ? {} : { acked: status === 'acked' }),
        cursor: q.cursor ?? null,
      }),
    );
    return c.json({ alerts: page.alerts.map(alertToWire), next_cursor: page.nextCursor });
  });

  const AckBodySchema = v.pipe(
    v.object({
      ids: v.optional(
        v.pipe(
          v.array(v.pipe(v.number(), v.integer(), v.minValue(1))),
          v.minLength(1),
          v.maxLength(MAX_ACK_IDS),
        ),
      ),
      filter: v.optional(
        v.object({
          severity: v.nullish(v.picklist(SEVERITIES)),
          since: v.nullish(time),
          until: v.nullish(time),
          tool: v.nullish(text(256)),
          session: v.nullish(text(512)),
        }),
      ),
      note: v.nullish(v.pipe(v.string(), v.maxLength(500))),
    }),
    v.check(
      (b) => (b.ids === undefined) !== (b.filter === undefined),
      'exactly one of ids or filter is required',
    ),
  );

  api.route('POST', '/alerts/ack', 'write', async (c) => {
    const body = await readBody(c, AckBodySchema);
    const by = c.get('client') ?? 'api';
    const options = { by, note: body.note ?? null, nowMs: api.now() };
    let result: { acked: number; already_acked: number; not_found: number[] };
    if (body.ids !== undefined) {
      const r = store.queries.ackAlerts(body.ids, options);
      result = { acked: r.acked.length, already_acked: r.alreadyAcked.length, not_found: r.notFound };
    } else {
      const f = body.filter!;
      const r = store.queries.ackAlertsMatching(
        {
          ...(f.severity != null ? { minSeverity: f.severity } : {}),
          ...(f.since != null ? { since: f.since } : {}),
          ...(f.until != null ? { until: f.until } : {}),
          ...(f.tool != null ? { tool: f.tool } : {}),
          ...(f.session != null ? { sessionKey: f.session } : {}),
        },
        options,
      );
      result = { acked: r.acked, already_acked: 0, not_found: [] };
    }
    // The acknowledgement is committed above; the trail entry is bookkeeping and never holds the answer.
    store
      .enqueue({
        event: {
          ts: api.now(),
          kind: 'alert.ack',
          source: 'api',
          requestId: c.get('requestId'),
          summary: `${result.acked} alert${result.acked === 1 ? '' : 's'} acknowledged by ${by}`,
          payload: {
            by,
            acked: result.acked,
            ...(body.ids !== undefined ? { ids: body.ids } : { filter: body.filter }),
          },
        },
        alert: 'none',
      })
      .catch((error: unknown) => api.log.warn('alert.ack was not recorded', { error: errorName(error) }));
    return c.json(result);
  });

  const IncludeSchema = v.pipe(
    v.string(),
    v.rawTransform(({ dataset, addIssue, NEVER }) => {
      const parts = dataset.value
        .split(',')
        .map((p) => p.trim())
        .filter((p) => p !== '');
      const known = ['verdicts', 'findings', 'payload'];
      if (parts.some((p) => !known.includes(p))) {
        addIssue({ message: 'must be a comma list of verdicts, findings, payload' });
        return NEVER;
      }
      return {
        verdicts: parts.includes('verdicts'),
        findings: parts.includes('findings'),
        payload: parts.includes('payload'),
      };
    }),
  );

  const EventsQuerySchema = v.object({
    limit: v.optional(limit),
    since: v.optional(time),
    until: v.optional(time),
    kind: v.optional(v.pipe(v.string(), v.regex(/^[a-z0-9_]+(?:\.[a-z0-9_]+)*(?:\.\*)?$/), v.maxLength(64))),
    session: v.optional(text(512)),
    tool: v.optional(text(256)),
    action: v.optional(v.picklist(ACTIONS)),
    severity: v.optional(v.picklist(SEVERITIES)),
    cursor: v.optional(cursor),
    include: v.optional(IncludeSchema),
  });

  api.route('GET', '/audit/events', 'read', (c) => {
    const q = readQuery(c, EventsQuerySchema);
    const include = q.include ?? { verdicts: false, findings: false, payload: false };
    // Payloads are redacted, but still the closest thing to content the store holds: always behind the token.
    if (include.payload && !c.get('authenticated')) {
      throw unauthorized('include=payload needs the API token');
    }
    const page = paged(() =>
      store.queries.listEvents({
        limit: q.limit ?? 50,
        ...(q.since !== undefined ? { since: q.since } : {}),
        ...(q.until !== undefined ? { until: q.until } : {}),
        ...(q.kind !== undefined ? { kind: q.kind } : {}),
        ...(q.session !== undefined ? { sessionKey: q.session } : {}),
        ...(q.tool !== undefined ? { tool: q.tool } : {}),
        ...(q.action !== undefined ? { action: q.action } : {}),
        ...(q.severity !== undefined ? { minSeverity: q.severity } : {}),
        cursor: q.cursor ?? null,
        include: {
          verdicts: include.verdicts || include.findings,
          findings: include.findings,
          payload: include.payload,
        },
      }),
    );
    return c.json({
      events: page.events.map((e) => eventToWire(e, include)),
      next_cursor: page.nextCursor,
    });
  });
}

// --- internal ---

/** Runs a paged query, turning a malformed cursor into 400 `invalid_query`. */
function paged<T>(query: () => T): T {
  try {
    return query();
  } catch (error) {
    if (isAuditStoreError(error, 'INVALID_CURSOR')) {
      throw new RestApiError('invalid_query', 'invalid query parameter cursor: is malformed', {
        details: { issues: [{ path: 'cursor', message: 'is malformed' }] },
      });
    }
    throw error;
  }
}

function errorName(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'code' in error) return String(error.code);
  return error instanceof Error ? error.name : 'unknown';
}
