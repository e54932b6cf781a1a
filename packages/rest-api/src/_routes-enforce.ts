// Block/allow lists (spec 20 §6.1, spec 30 §A3.4) and the skill/plugin/catalog passthrough to OpenClaw.
import {
  LIST_TARGET_TYPES,
  type ListName,
  type ListRow,
  type ListTargetType,
} from '@defenseclaw/audit-store';
import type { Context } from 'hono';
import * as v from 'valibot';
import type { ApiContext } from './_context.ts';
import { gatewayFailure, withGateway } from './_gateway.ts';
import { type AppEnv, parseBody, parseTime, readBody, readBodyText, readQuery } from './_http.ts';
import { entryToWire } from './_wire.ts';
import { RestApiError } from './errors.ts';

/** Registers `/enforce/*`, `/skill/*`, `/plugin/*`, `/skills` and `/tools/catalog`. */
export function registerEnforceRoutes(api: ApiContext): void {
  const { store } = api.deps;

  const name = v.pipe(v.string(), v.minLength(1), v.maxLength(512));
  const EntryBodySchema = v.object({
    target_type: v.picklist(LIST_TARGET_TYPES),
    target_name: name,
    connector: v.nullish(v.pipe(v.string(), v.maxLength(256))),
    reason: v.nullish(v.pipe(v.string(), v.maxLength(500))),
    expires_at: v.nullish(
      v.pipe(
        v.string(),
        v.rawTransform(({ dataset, addIssue, NEVER }) => {
          const ms = /^\d{4}-/.test(dataset.value) ? parseTime(dataset.value, api.now()) : undefined;
          if (ms === undefined || ms <= api.now()) {
            addIssue({ message: 'must be an ISO-8601 time in the future' });
            return NEVER;
          }
          return ms;
        }),
      ),
    ),
  });
  const KeySchema = v.object({
    target_type: v.picklist(LIST_TARGET_TYPES),
    target_name: name,
    connector: v.nullish(v.pipe(v.string(), v.maxLength(256))),
  });

  /** Swaps the engine's list snapshot after a change (spec 30 §A3.4: atomic `setLists`). */
  const refreshLists = () => {
    api.deps.policy.engine.setLists({ entries: store.lists.entries(api.now()) });
  };

  const recordChange = (c: Context<AppEnv>, change: string, payload: Record<string, unknown>) => {
    store
      .enqueue({
        event: {
          ts: api.now(),
          kind: 'enforce.change',
          source: 'api',
          requestId: c.get('requestId'),
          summary: change,
          payload: { ...payload, by: c.get('client') ?? 'api' },
        },
        alert: 'none',
      })
      .catch((error: unknown) =>
        api.log.warn('enforce.change was not recorded', { code: (error as { code?: unknown }).code }),
      );
  };

  const put = async (c: Context<AppEnv>, list: ListName) => {
    const body = await readBody(c, EntryBodySchema);
    const { row, previous } = store.lists.upsert({
      targetType: body.target_type,
      targetName: body.target_name,
      connector: body.connector ?? '',
      list,
      reason: body.reason ?? null,
      source: c.get('client') === 'cli' ? 'cli' : 'api',
      expiresAt: body.expires_at ?? null,
      nowMs: api.now(),
    });
    refreshLists();
    recordChange(c, `${body.target_type} ${body.target_name} ${list === 'block' ? 'blocked' : 'allowed'}`, {
      target_type: row.targetType,
      target_name: row.targetName,
      connector: row.connector,
      list,
      previous,
    });
    return { row, previous };
  };

  api.route('POST', '/enforce/block', 'write', async (c) => {
    const { row } = await put(c, 'block');
    let runtime: 'disabled' | 'pending' | 'n/a' = 'n/a';
    const target = runtimeTarget(row);
    if (target !== undefined && api.deps.enforcer !== undefined) {
      try {
        runtime = (await api.deps.enforcer.setEnabled(target, false)) === 'applied' ? 'disabled' : 'pending';
      } catch (error) {
        // The entry is recorded and the engine already blocks the target's tool calls; say so with the error.
        throw withListNote(
          gatewayFailure(error, `disable ${row.targetType} ${JSON.stringify(row.targetName)}`),
          row,
        );
      }
    }
    return c.json({ status: 'blocked', entry: entryToWire(row), runtime });
  });

  api.route('POST', '/enforce/allow', 'write', async (c) => {
    const { row, previous } = await put(c, 'allow');
    let runtime: 'enabled' | 'pending' | 'n/a' = 'n/a';
    const target = runtimeTarget(row);
    // Re-enable only what we disabled: a target that was on our block list.
    if (target !== undefined && previous === 'block' && api.deps.enforcer !== undefined) {
      try {
        runtime = (await api.deps.enforcer.setEnabled(target, true)) === 'applied' ? 'enabled' : 'pending';
      } catch (error) {
        throw withListNote(
          gatewayFailure(error, `enable ${row.targetType} ${JSON.stringify(row.targetName)}`),
          row,
        );
      }
    }
    return c.json({ status: 'allowed', entry: entryToWire(row), runtime });
  });

  const remove = (list: ListName, status: string) => async (c: Context<AppEnv>) => {
    // The key comes as a JSON body or, for clients that cannot send a DELETE body, as a query string.
    const text = await readBodyText(c);
    const key = text.trim() === '' ? readQuery(c, KeySchema) : parseBody(text, KeySchema);
    const removed = store.lists.remove({
      targetType: key.target_type,
      targetName: key.target_name,
      connector: key.connector ?? '',
      list,
    });
    if (!removed) {
      throw new RestApiError(
        'not_found',
        `no ${list} entry for ${key.target_type} ${JSON.stringify(key.target_name)}`,
      );
    }
    refreshLists();
    recordChange(c, `${key.target_type} ${key.target_name} removed from the ${list} list`, {
      target_type: key.target_type,
      target_name: key.target_name,
      connector: key.connector ?? '',
      list,
      removed: true,
    });
    return c.json({ status });
  };
  api.route('DELETE', '/enforce/block', 'write', remove('block', 'unblocked'));
  api.route('DELETE', '/enforce/allow', 'write', remove('allow', 'unallowed'));

  const ListQuerySchema = v.object({ target_type: v.optional(v.picklist(LIST_TARGET_TYPES)) });
  const listRoute = (list: ListName, key: 'blocked' | 'allowed') => (c: Context<AppEnv>) => {
    const q = readQuery(c, ListQuerySchema);
    const rows = store.lists.list({
      list,
      ...(q.target_type !== undefined ? { targetType: q.target_type as ListTargetType } : {}),
      nowMs: api.now(),
    });
    return c.json({ [key]: rows.map(entryToWire) });
  };
  api.route('GET', '/enforce/blocked', 'read', listRoute('block', 'blocked'));
  api.route('GET', '/enforce/allowed', 'read', listRoute('allow', 'allowed'));

  // --- OpenClaw passthrough ---

  const SkillBodySchema = v.object({ skill_key: name });
  const PluginBodySchema = v.object({ plugin_name: name });

  const skillToggle = (enabled: boolean) => async (c: Context<AppEnv>) => {
    const body = await readBody(c, SkillBodySchema);
    await withGateway(
      api.deps.gateway,
      `skills.update ${JSON.stringify(body.skill_key)}`,
      api.rpcTimeoutMs,
      (gw, o) => gw.request('skills.update', { skillKey: body.skill_key, enabled }, o),
    );
    recordChange(c, `skill ${body.skill_key} ${enabled ? 'enabled' : 'disabled'}`, {
      target_type: 'skill',
      target_name: body.skill_key,
      enabled,
    });
    return c.json({ skill_key: body.skill_key, enabled });
  };
  api.route('POST', '/skill/disable', 'write', skillToggle(false));
  api.route('POST', '/skill/enable', 'write', skillToggle(true));

  const pluginToggle = (enabled: boolean) => async (c: Context<AppEnv>) => {
    const body = await readBody(c, PluginBodySchema);
    const what = `${enabled ? 'enable' : 'disable'} plugin ${JSON.stringify(body.plugin_name)}`;
    await withGateway(api.deps.gateway, what, api.rpcTimeoutMs, (gw, o) => {
      if (gw.setPluginEnabled === undefined) {
        throw new RestApiError('gateway_error', `${what} failed: no plugin helper is wired`, {
          details: { upstream_code: 'UNSUPPORTED' },
        });
      }
      return gw.setPluginEnabled(body.plugin_name, enabled, o);
    });
    recordChange(c, `plugin ${body.plugin_name} ${enabled ? 'enabled' : 'disabled'}`, {
      target_type: 'plugin',
      target_name: body.plugin_name,
      enabled,
    });
    return c.json({ plugin_name: body.plugin_name, enabled });
  };
  api.route('POST', '/plugin/disable', 'write', pluginToggle(false));
  api.route('POST', '/plugin/enable', 'write', pluginToggle(true));

  const AgentQuerySchema = v.object({
    agent_id: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(256))),
  });
  const passthrough = (method: string) => async (c: Context<AppEnv>) => {
    const q = readQuery(c, AgentQuerySchema);
    const params = q.agent_id !== undefined ? { agentId: q.agent_id } : {};
    const payload = await withGateway(api.deps.gateway, method, api.rpcTimeoutMs, (gw, o) =>
      gw.request(method, params, o),
    );
    return c.json((payload ?? null) as Record<string, unknown>);
  };
  api.route('GET', '/skills', 'read', passthrough('skills.status'));
  api.route('GET', '/tools/catalog', 'read', passthrough('tools.catalog'));
}

// --- internal ---

function runtimeTarget(row: ListRow): { targetType: 'skill' | 'plugin'; name: string } | undefined {
  return row.targetType === 'skill' || row.targetType === 'plugin'
    ? { targetType: row.targetType, name: row.targetName }
    : undefined;
}

function withListNote(error: RestApiError, row: ListRow): RestApiError {
  return new RestApiError(error.code, `${error.message} (the list entry was saved)`, {
    details: { ...error.details, list_updated: true, entry: entryToWire(row) },
    cause: error,
  });
}
