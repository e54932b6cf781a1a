// Default method handlers of the fake gateway: closed-schema params, role and scope checks, and the exact
// 2026.9.6 error texts (rpc.jsonl).
import { randomUUID } from 'node:crypto';
import type { SessionsListFilters } from '@defenseclaw/protocol';
import { type ApprovalStore, FAKE_APPROVAL_DECISIONS } from './_fake-approvals.ts';
import type { ConnRecord, FakeCore } from './_fake-core.ts';
import {
  buildSessionsList,
  buildSkillsStatus,
  buildStatus,
  buildToolsCatalog,
  createSessionRow,
  flattenedSessionFields,
  sessionObject,
} from './_fake-data.ts';
import { invalidRequest } from './_fake-errors.ts';
import {
  anyString,
  arrayOf,
  bool,
  closedObject,
  integer,
  nonEmptyString,
  type SchemaNode,
  validateSchema,
} from './_fake-schema.ts';
import type { FakeApprovalDecision, FakeReply } from './fake-types.ts';

type Scope = 'operator.read' | 'operator.write' | 'operator.admin' | 'operator.approvals';

type MethodSpec = {
  /** The role allowed to call the method. */
  role: 'operator' | 'node';
  /** The scope needed (admin satisfies all; write satisfies read). */
  scope?: Scope;
  /** The closed params schema; `undefined` params are validated as `{}`. */
  schema: SchemaNode;
  run(conn: ConnRecord, params: Record<string, unknown>): FakeReply;
};

/** Services the method handlers need besides the core. */
export type MethodDeps = {
  core: FakeCore;
  approvals: ApprovalStore;
  startedAt: number;
};

const listFilterProperties: Record<string, SchemaNode> = {
  limit: integer(1),
  offset: integer(0),
  agentId: nonEmptyString,
  search: anyString,
  activeMinutes: integer(1),
  includeGlobal: bool,
  includeUnknown: bool,
  archived: bool,
};

function ok(payload: unknown): FakeReply {
  return { ok: true, payload };
}

function invalid(message: string, details?: unknown): FakeReply {
  return { ok: false, error: invalidRequest(message, details) };
}

function hasScope(conn: ConnRecord, scope: Scope): boolean {
  if (conn.scopes.includes('operator.admin') || conn.scopes.includes(scope)) return true;
  return scope === 'operator.read' && conn.scopes.includes('operator.write');
}

/** Builds the table of default method handlers. */
export function createMethodTable(deps: MethodDeps): Map<string, MethodSpec> {
  const { core, approvals } = deps;

  const broadcastConfigWrite = () => {
    core.emit('chat.metadata.changed', {});
    core.emit('config.changed', { path: core.config.path, hash: core.config.hash, ts: Date.now() });
  };

  const table = new Map<string, MethodSpec>();

  table.set('status', {
    role: 'operator',
    scope: 'operator.read',
    schema: closedObject({}),
    run: () => ok(buildStatus(core.sessions.size, Date.now() - deps.startedAt)),
  });

  table.set('config.get', {
    role: 'operator',
    scope: 'operator.read',
    schema: closedObject({}),
    run: () => ok(core.config.snapshot()),
  });

  table.set('config.patch', {
    role: 'operator',
    scope: 'operator.admin',
    schema: closedObject(
      {
        raw: nonEmptyString,
        baseHash: nonEmptyString,
        sessionKey: anyString,
        note: anyString,
        restartDelayMs: integer(0),
        ...(core.legacyConfigPatch ? {} : { replacePaths: arrayOf(nonEmptyString, 256) }),
      },
      ['raw'],
    ),
    run: (_conn, params) => {
      const outcome = core.config.patch({
        raw: params.raw as string,
        baseHash: params.baseHash as string | undefined,
        replacePaths: params.replacePaths as string[] | undefined,
        note: params.note as string | undefined,
        legacy: core.legacyConfigPatch,
      });
      if (!outcome.success) return { ok: false, error: outcome.error };
      if (!outcome.noop) {
        core.emit('config.changed', { path: core.config.path, hash: core.config.hash, ts: Date.now() });
        if (outcome.changedPaths.some((p) => p === 'plugins' || p.startsWith('plugins.'))) {
          core.emit('plugins.changed', { reason: 'config-change', ts: Date.now() });
        }
        core.emit('chat.metadata.changed', {});
      }
      return ok(outcome.payload);
    },
  });

  table.set('tools.catalog', {
    role: 'operator',
    scope: 'operator.read',
    schema: closedObject({ agentId: nonEmptyString, includePlugins: bool }),
    run: (_conn, params) =>
      ok(buildToolsCatalog((params.agentId as string | undefined) ?? 'main', params.includePlugins === true)),
  });

  table.set('skills.status', {
    role: 'operator',
    scope: 'operator.read',
    schema: closedObject({ agentId: nonEmptyString }),
    run: (_conn, params) =>
      ok(
        buildSkillsStatus(core.skills, core.config.config, (params.agentId as string | undefined) ?? 'main'),
      ),
  });

  table.set('skills.bins', {
    role: 'node',
    schema: closedObject({}),
    run: () => ok({ bins: [...new Set(core.skills.flatMap((s) => s.bins))].sort() }),
  });

  table.set('skills.update', {
    role: 'operator',
    scope: 'operator.admin',
    schema: {
      kind: 'anyOf',
      branches: [
        closedObject(
          {
            skillKey: nonEmptyString,
            enabled: bool,
            apiKey: anyString,
            env: { kind: 'record', values: anyString },
          },
          ['skillKey'],
        ),
        closedObject({ source: nonEmptyString, slug: nonEmptyString, version: anyString, enabled: bool }, [
          'source',
        ]),
      ],
    },
    run: (_conn, params) => {
      if (typeof params.skillKey !== 'string')
        return invalid('skills.update by source is not supported by the fake');
      const key = params.skillKey;
      const skillsSection = core.config.config.skills as { entries?: Record<string, unknown> } | undefined;
      const entry = { ...((skillsSection?.entries?.[key] as Record<string, unknown> | undefined) ?? {}) };
      if (typeof params.enabled === 'boolean') entry.enabled = params.enabled;
      if (typeof params.apiKey === 'string') entry.apiKey = params.apiKey;
      if (params.env !== undefined) entry.env = params.env;
      core.config.setAt(['skills', 'entries', key], entry);
      broadcastConfigWrite();
      return ok({ ok: true, skillKey: key, config: entry });
    },
  });

  table.set('sessions.list', {
    role: 'operator',
    scope: 'operator.read',
    schema: closedObject(listFilterProperties),
    run: (_conn, params) => ok(buildSessionsList(core.sessions.values(), params as SessionsListFilters)),
  });

  table.set('sessions.subscribe', {
    role: 'operator',
    scope: 'operator.read',
    schema: closedObject(listFilterProperties),
    run: (conn, params) => {
      conn.subscribed = true;
      core.notify();
      if (Object.keys(params).length === 0) return ok({ subscribed: true });
      return ok({
        subscribed: true,
        list: buildSessionsList(core.sessions.values(), params as SessionsListFilters),
      });
    },
  });

  table.set('sessions.messages.subscribe', {
    role: 'operator',
    scope: 'operator.read',
    schema: closedObject({ key: nonEmptyString, includeApprovals: bool }, ['key']),
    run: (conn, params) => {
      const key = params.key as string;
      conn.messageSubscriptions.add(key);
      if (params.includeApprovals === true) conn.approvalSubscriptions.add(key);
      core.notify();
      const payload: Record<string, unknown> = { subscribed: true, key };
      if (params.includeApprovals === true) {
        payload.approvalReplay = {
          sessionKey: key,
          updatedAtMs: Date.now(),
          approvals: [],
          truncated: false,
        };
      }
      return ok(payload);
    },
  });

  table.set('sessions.send', {
    role: 'operator',
    scope: 'operator.write',
    schema: closedObject(
      {
        key: nonEmptyString,
        message: anyString,
        idempotencyKey: nonEmptyString,
        thinking: anyString,
        timeoutMs: integer(0),
      },
      ['key', 'message'],
    ),
    run: (conn, params) => {
      const key = params.key as string;
      const row = core.sessions.get(key);
      if (!row) return invalid(`session not found: ${key}`);
      // ✓ 2026.9.6: the runId of sessions.send is the idempotencyKey when one is given.
      const runId = (params.idempotencyKey as string | undefined) ?? randomUUID();
      core.runStarters.set(runId, conn.id);
      const now = Date.now();
      row.updatedAt = now;
      row.lastRunId = runId;
      core.emit('sessions.changed', {
        sessionKey: key,
        agentId: row.agentId,
        reason: 'send',
        ts: now,
        ...flattenedSessionFields(row),
        session: sessionObject(row),
      });
      core.emit('session.message', {
        sessionKey: key,
        senderIsOwner: true,
        agentId: row.agentId,
        message: { role: 'user', content: params.message, timestamp: now, idempotencyKey: `${runId}:user` },
        messageId: randomUUID(),
        messageSeq: 1,
        session: sessionObject(row),
      });
      return ok({ runId, status: 'started' });
    },
  });

  table.set('exec.approval.resolve', {
    role: 'operator',
    scope: 'operator.approvals',
    schema: closedObject({ id: nonEmptyString, decision: nonEmptyString }, ['id', 'decision']),
    run: (conn, params) => {
      const decision = params.decision as string;
      if (!FAKE_APPROVAL_DECISIONS.includes(decision as FakeApprovalDecision))
        return invalid('invalid decision');
      const id = approvals.find(params.id as string);
      if (id === undefined) {
        return invalid('unknown or expired approval id', {
          reason: 'APPROVAL_NOT_FOUND',
          remediation: 'Re-request the action; pending approvals are cleared after expiry or restart.',
        });
      }
      approvals.resolve(id, decision as FakeApprovalDecision, conn);
      return ok({ ok: true });
    },
  });

  return table;
}

/** Runs the default pipeline for one request: unknown method → role → scope → params → handler. */
export function runDefaultMethod(
  table: ReadonlyMap<string, MethodSpec>,
  conn: ConnRecord,
  method: string,
  params: unknown,
): FakeReply {
  const spec = table.get(method);
  if (!spec) return invalid(`unknown method: ${method}`);
  const role = conn.role ?? 'operator';
  if (spec.role !== role) return invalid(`unauthorized role: ${role}`);
  if (spec.scope && !hasScope(conn, spec.scope)) {
    return {
      ok: false,
      error: {
        code: 'FORBIDDEN',
        message: `missing scope: ${spec.scope}`,
        details: { code: 'MISSING_SCOPE', missingScope: spec.scope, requiredScopes: [spec.scope] },
      },
    };
  }
  const problem = validateSchema(spec.schema, params ?? {});
  if (problem !== undefined) return invalid(`invalid ${method} params: ${problem}`);
  return spec.run(conn, (params ?? {}) as Record<string, unknown>);
}

/** Adds a session row when the key is new (used by tests to seed sessions). */
export function ensureSession(core: FakeCore, key: string): void {
  if (!core.sessions.has(key)) core.sessions.set(key, createSessionRow(key));
}
