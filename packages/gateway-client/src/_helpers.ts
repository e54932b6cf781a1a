// --- internal: the typed RPC helpers of spec 10 §3; bound onto the client, never re-exported ---

import {
  type ApprovalDecision,
  buildConfigPatchParams,
  buildResolveApprovalParams,
  buildSessionsListParams,
  buildSessionsMessagesSubscribeParams,
  buildSessionsSendParams,
  buildSessionsSubscribeParams,
  buildSkillsStatusParams,
  buildSkillsUpdateParams,
  buildToolsCatalogParams,
  type ConfigGetResult,
  ConfigGetResultSchema,
  type ConfigPatchInput,
  type ConfigPatchResult,
  ConfigPatchResultSchema,
  type ExecApprovalResolveResult,
  ExecApprovalResolveResultSchema,
  isApprovalDecision,
  METHODS,
  type SessionsListFilters,
  type SessionsListResult,
  SessionsListResultSchema,
  type SessionsMessagesSubscribeResult,
  SessionsMessagesSubscribeResultSchema,
  type SessionsSendResult,
  SessionsSendResultSchema,
  type SessionsSubscribeResult,
  SessionsSubscribeResultSchema,
  type SkillsBinsResult,
  SkillsBinsResultSchema,
  type SkillsStatusParams,
  type SkillsStatusResult,
  SkillsStatusResultSchema,
  type SkillsUpdateParams,
  type SkillsUpdateResult,
  SkillsUpdateResultSchema,
  type StatusResult,
  StatusResultSchema,
  type ToolsCatalogParams,
  type ToolsCatalogResult,
  ToolsCatalogResultSchema,
} from '@defenseclaw/protocol';
import * as v from 'valibot';
import { GatewayClientError, isGatewayClientError, prefixError } from './errors.ts';

/** Per-call options every helper accepts. */
export type CallOptions = {
  /** Aborts the wait (the request may still be applied by the server). */
  signal?: AbortSignal | undefined;
  /** Overrides the client's `requestTimeoutMs` for this call. */
  timeoutMs?: number | undefined;
};

/** Options of `sendToSession`. */
export type SendToSessionOptions = CallOptions & {
  /** Lets the server drop a duplicate send. */
  idempotencyKey?: string | undefined;
};

/** Options of `resolveApproval`. */
export type ResolveApprovalOptions = CallOptions & {
  /** The request being answered; a decision outside its `allowedDecisions` is refused locally. */
  request?: { readonly allowedDecisions: readonly string[] } | undefined;
};

/** What the helpers need from the client. */
export type HelperCore = {
  request<T = unknown>(method: string, params?: unknown, options?: CallOptions): Promise<T>;
  /** Warns once per connection when hello-ok's `features.methods` lacks `method`. */
  noteMethod(method: string): void;
};

/** The typed helpers of spec 10 §3 (bound onto the client). */
export type GatewayHelpers = {
  /** Calls `config.get` (no params) and returns `{hash, config, path, exists, …}`. */
  getConfig(options?: CallOptions): Promise<ConfigGetResult>;
  /** Calls `config.patch {raw, baseHash?, replacePaths?, note?}`. */
  patchConfig(input: ConfigPatchInput, options?: CallOptions): Promise<ConfigPatchResult>;
  /** Calls `status` (no params). */
  getStatus(options?: CallOptions): Promise<StatusResult>;
  /** Calls `tools.catalog` with only the given keys. */
  getToolsCatalog(params?: ToolsCatalogParams, options?: CallOptions): Promise<ToolsCatalogResult>;
  /** Calls `skills.status` with only the given keys. */
  getSkillsStatus(params?: SkillsStatusParams, options?: CallOptions): Promise<SkillsStatusResult>;
  /** Calls `skills.bins`, which OpenClaw refuses for operators (`isRoleError` is then true). */
  getSkillsBins(options?: CallOptions): Promise<SkillsBinsResult>;
  /** Calls `sessions.list` with only the given filter keys; the result is an object, not an array. */
  listSessions(filters?: SessionsListFilters, options?: CallOptions): Promise<SessionsListResult>;
  /** Calls `sessions.subscribe {}` (the whole connection). */
  subscribeSessions(options?: CallOptions): Promise<SessionsSubscribeResult>;
  /** Calls `sessions.messages.subscribe {key}`. */
  subscribeSessionMessages(key: string, options?: CallOptions): Promise<SessionsMessagesSubscribeResult>;
  /** Calls `sessions.send {key, message[, idempotencyKey]}`, which starts an agent turn. */
  sendToSession(key: string, message: string, options?: SendToSessionOptions): Promise<SessionsSendResult>;
  /** Calls `skills.update {skillKey, enabled}`. */
  updateSkill(params: SkillsUpdateParams, options?: CallOptions): Promise<SkillsUpdateResult>;
  /** Disables a skill via `skills.update`; errors name the skill. */
  disableSkill(skillKey: string, options?: CallOptions): Promise<SkillsUpdateResult>;
  /** Enables a skill via `skills.update`; errors name the skill. */
  enableSkill(skillKey: string, options?: CallOptions): Promise<SkillsUpdateResult>;
  /** Disables a plugin with `config.get` → `config.patch` (spec 10 §3.3); errors name the plugin. */
  disablePlugin(name: string, options?: CallOptions): Promise<ConfigPatchResult>;
  /** Enables a plugin with `config.get` → `config.patch` (spec 10 §3.3); errors name the plugin. */
  enablePlugin(name: string, options?: CallOptions): Promise<ConfigPatchResult>;
  /** Calls `exec.approval.resolve {id, decision}` once (never retried, never with a `reason`). */
  resolveApproval(
    id: string,
    decision: ApprovalDecision,
    options?: ResolveApprovalOptions,
  ): Promise<ExecApprovalResolveResult>;
};

/** The result of planning a plugin toggle from a `config.get` result. */
export type PluginTogglePlan =
  | { success: true; patch: ConfigPatchInput & { replacePaths?: string[] } }
  | { success: false; message: string };

/** Plans the `config.patch` that enables or disables a plugin (spec 10 §3.3 steps 1–3). */
export function planPluginToggle(current: ConfigGetResult, name: string, enabled: boolean): PluginTogglePlan {
  const plugins = current.config.plugins;
  const allow =
    typeof plugins === 'object' &&
    plugins !== null &&
    Array.isArray((plugins as Record<string, unknown>).allow)
      ? ((plugins as Record<string, unknown>).allow as unknown[])
      : undefined;
  const patchPlugins: Record<string, unknown> = { entries: { [name]: { enabled } } };
  let replacePaths: string[] | undefined;
  if (allow !== undefined) {
    if (!enabled && allow.includes(name)) {
      patchPlugins.allow = allow.filter((entry) => entry !== name);
      replacePaths = ['plugins.allow'];
    } else if (enabled && !allow.includes(name)) {
      patchPlugins.allow = [...allow, name];
    }
  }
  let baseHash: string | undefined;
  if (current.exists !== false) {
    if (typeof current.hash !== 'string' || current.hash === '') {
      return { success: false, message: 'config.get returned no hash for an existing config file' };
    }
    baseHash = current.hash;
  }
  const patch: ConfigPatchInput & { replacePaths?: string[] } = {
    raw: JSON.stringify({ plugins: patchPlugins }),
  };
  if (baseHash !== undefined) patch.baseHash = baseHash;
  if (replacePaths !== undefined) patch.replacePaths = replacePaths;
  return { success: true, patch };
}

/** Binds the helpers to a client core. */
export function createHelpers(core: HelperCore): GatewayHelpers {
  const call = async <T>(
    method: string,
    params: unknown,
    schema: v.GenericSchema<unknown, T>,
    options?: CallOptions,
  ): Promise<T> => {
    core.noteMethod(method);
    const payload = await core.request(method, params, options);
    const result = v.safeParse(schema, payload);
    if (!result.success) {
      const issue = result.issues[0];
      const where = issue === undefined ? '' : ` at ${v.getDotPath(issue) ?? 'root'}: ${issue.message}`;
      throw new GatewayClientError('RESULT_INVALID', `${method}: unexpected result${where}`, { method });
    }
    return result.output;
  };

  const getConfig = (options?: CallOptions) =>
    call(METHODS.CONFIG_GET, undefined, ConfigGetResultSchema, options);
  const patchConfig = (input: ConfigPatchInput, options?: CallOptions) =>
    call(METHODS.CONFIG_PATCH, buildConfigPatchParams(input), ConfigPatchResultSchema, options);
  const updateSkill = (params: SkillsUpdateParams, options?: CallOptions) =>
    call(METHODS.SKILLS_UPDATE, buildSkillsUpdateParams(params), SkillsUpdateResultSchema, options);

  const toggleSkill = async (skillKey: string, enabled: boolean, options?: CallOptions) => {
    try {
      return await updateSkill({ skillKey, enabled }, options);
    } catch (error) {
      throw prefixError(error, `${enabled ? 'enable' : 'disable'} skill "${skillKey}"`);
    }
  };

  const togglePlugin = async (name: string, enabled: boolean, options?: CallOptions) => {
    const label = `${enabled ? 'enable' : 'disable'} plugin "${name}"`;
    try {
      let staleRetried = false;
      let withoutReplacePaths = false;
      for (;;) {
        const current = await getConfig(options);
        const plan = planPluginToggle(current, name, enabled);
        if (!plan.success) {
          throw new GatewayClientError('RESULT_INVALID', plan.message, { method: METHODS.CONFIG_GET });
        }
        for (;;) {
          const patch = withoutReplacePaths ? { ...plan.patch, replacePaths: undefined } : plan.patch;
          try {
            return await patchConfig(patch, options);
          } catch (error) {
            const message = isGatewayClientError(error, 'REQUEST_FAILED')
              ? (error.serverError?.message ?? '')
              : '';
            if (
              !withoutReplacePaths &&
              plan.patch.replacePaths !== undefined &&
              message.includes("unexpected property 'replacePaths'")
            ) {
              // Older servers have no replacePaths and replace arrays whole anyway.
              withoutReplacePaths = true;
              continue;
            }
            if (!staleRetried && message.includes('config changed since last load')) {
              staleRetried = true;
              break;
            }
            throw error;
          }
        }
      }
    } catch (error) {
      throw prefixError(error, label);
    }
  };

  return {
    getConfig,
    patchConfig,
    getStatus: (options) => call(METHODS.STATUS, undefined, StatusResultSchema, options),
    getToolsCatalog: (params, options) =>
      call(METHODS.TOOLS_CATALOG, buildToolsCatalogParams(params), ToolsCatalogResultSchema, options),
    getSkillsStatus: (params, options) =>
      call(METHODS.SKILLS_STATUS, buildSkillsStatusParams(params), SkillsStatusResultSchema, options),
    getSkillsBins: (options) => call(METHODS.SKILLS_BINS, undefined, SkillsBinsResultSchema, options),
    listSessions: (filters, options) =>
      call(METHODS.SESSIONS_LIST, buildSessionsListParams(filters), SessionsListResultSchema, options),
    subscribeSessions: (options) =>
      call(
        METHODS.SESSIONS_SUBSCRIBE,
        buildSessionsSubscribeParams(),
        SessionsSubscribeResultSchema,
        options,
      ),
    subscribeSessionMessages: (key, options) =>
      call(
        METHODS.SESSIONS_MESSAGES_SUBSCRIBE,
        buildSessionsMessagesSubscribeParams(key),
        SessionsMessagesSubscribeResultSchema,
        options,
      ),
    sendToSession: (key, message, options = {}) => {
      const params = buildSessionsSendParams(
        options.idempotencyKey === undefined
          ? { key, message }
          : { key, message, idempotencyKey: options.idempotencyKey },
      );
      return call(METHODS.SESSIONS_SEND, params, SessionsSendResultSchema, options);
    },
    updateSkill,
    disableSkill: (skillKey, options) => toggleSkill(skillKey, false, options),
    enableSkill: (skillKey, options) => toggleSkill(skillKey, true, options),
    disablePlugin: (name, options) => togglePlugin(name, false, options),
    enablePlugin: (name, options) => togglePlugin(name, true, options),
    resolveApproval: async (id, decision, options = {}) => {
      if (!isApprovalDecision(decision)) {
        throw new GatewayClientError(
          'INVALID_ARGUMENT',
          `resolve approval ${id}: invalid decision "${decision}"`,
          {
            method: METHODS.EXEC_APPROVAL_RESOLVE,
          },
        );
      }
      const allowed = options.request?.allowedDecisions;
      if (allowed !== undefined && !allowed.includes(decision)) {
        throw new GatewayClientError(
          'INVALID_ARGUMENT',
          `resolve approval ${id}: decision "${decision}" is not allowed (allowed: ${allowed.join(', ') || 'none'})`,
          { method: METHODS.EXEC_APPROVAL_RESOLVE },
        );
      }
      return call(
        METHODS.EXEC_APPROVAL_RESOLVE,
        buildResolveApprovalParams({ id, decision }),
        ExecApprovalResolveResultSchema,
        options,
      );
    },
  };
}
