import * as v from 'valibot';
import { maybe } from './_schema.ts';

/** The non-connect RPC methods we call (spec 10 §3.1). */
export const METHODS = {
  SKILLS_UPDATE: 'skills.update',
  CONFIG_GET: 'config.get',
  CONFIG_PATCH: 'config.patch',
  STATUS: 'status',
  TOOLS_CATALOG: 'tools.catalog',
  SKILLS_STATUS: 'skills.status',
  SKILLS_BINS: 'skills.bins',
  SESSIONS_LIST: 'sessions.list',
  SESSIONS_SUBSCRIBE: 'sessions.subscribe',
  SESSIONS_MESSAGES_SUBSCRIBE: 'sessions.messages.subscribe',
  SESSIONS_SEND: 'sessions.send',
  EXEC_APPROVAL_RESOLVE: 'exec.approval.resolve',
} as const;

/** One of the methods in `METHODS`. */
export type MethodName = (typeof METHODS)[keyof typeof METHODS];

/** The decisions `exec.approval.resolve` accepts. */
export const APPROVAL_DECISIONS = ['allow-once', 'allow-always', 'deny'] as const;

/** One of `APPROVAL_DECISIONS`. */
export type ApprovalDecision = (typeof APPROVAL_DECISIONS)[number];

/** Tells whether a value is one of `APPROVAL_DECISIONS`. */
export function isApprovalDecision(value: unknown): value is ApprovalDecision {
  return (APPROVAL_DECISIONS as readonly unknown[]).includes(value);
}

// --- param builders: exact key sets, optional keys omitted (never null) ---

/** The params of `skills.update`. */
export type SkillsUpdateParams = { skillKey: string; enabled: boolean };

/** Builds `skills.update` params: exactly `{skillKey, enabled}`. */
export function buildSkillsUpdateParams(p: SkillsUpdateParams): SkillsUpdateParams {
  return { skillKey: p.skillKey, enabled: p.enabled };
}

/** The inputs of `buildConfigPatchParams`. */
export type ConfigPatchInput = {
  raw: string;
  baseHash?: string;
  replacePaths?: readonly string[];
  note?: string;
};

/** The params of `config.patch` as sent. */
export type ConfigPatchParams = { raw: string; baseHash?: string; replacePaths?: string[]; note?: string };

/** Builds `config.patch` params: `raw`, plus `baseHash`, a non-empty `replacePaths` and `note` only when given. */
export function buildConfigPatchParams(p: ConfigPatchInput): ConfigPatchParams {
  const out: ConfigPatchParams = { raw: p.raw };
  if (p.baseHash !== undefined) out.baseHash = p.baseHash;
  // Older servers reject the key outright, so an empty list is not worth sending.
  if (p.replacePaths !== undefined && p.replacePaths.length > 0) out.replacePaths = [...p.replacePaths];
  if (p.note !== undefined) out.note = p.note;
  return out;
}

/** The params of `tools.catalog`. */
export type ToolsCatalogParams = { agentId?: string; includePlugins?: boolean };

/** Builds `tools.catalog` params with only the given keys (`{}` when none). */
export function buildToolsCatalogParams(p: ToolsCatalogParams = {}): ToolsCatalogParams {
  const out: ToolsCatalogParams = {};
  if (p.agentId !== undefined) out.agentId = p.agentId;
  if (p.includePlugins !== undefined) out.includePlugins = p.includePlugins;
  return out;
}

/** The params of `skills.status`. */
export type SkillsStatusParams = { agentId?: string };

/** Builds `skills.status` params with only the given keys (`{}` when none). */
export function buildSkillsStatusParams(p: SkillsStatusParams = {}): SkillsStatusParams {
  return p.agentId !== undefined ? { agentId: p.agentId } : {};
}

/** The filters `sessions.list` accepts. */
export type SessionsListFilters = {
  limit?: number;
  offset?: number;
  agentId?: string;
  search?: string;
  activeMinutes?: number;
  includeGlobal?: boolean;
  includeUnknown?: boolean;
  archived?: boolean;
};

const SESSIONS_LIST_KEYS = [
  'limit',
  'offset',
  'agentId',
  'search',
  'activeMinutes',
  'includeGlobal',
  'includeUnknown',
  'archived',
] as const satisfies readonly (keyof SessionsListFilters)[];

/** Builds `sessions.list` params with only the given filter keys (`{}` when none; unknown keys dropped). */
export function buildSessionsListParams(p: SessionsListFilters = {}): SessionsListFilters {
  const out: Record<string, unknown> = {};
  for (const key of SESSIONS_LIST_KEYS) if (p[key] !== undefined) out[key] = p[key];
  return out as SessionsListFilters;
}

/** Builds `sessions.subscribe` params, which are always `{}` (a `sessionId` is rejected by the server). */
export function buildSessionsSubscribeParams(): Record<string, never> {
  return {};
}

/** Builds `sessions.messages.subscribe` params: exactly `{key}`. */
export function buildSessionsMessagesSubscribeParams(key: string): { key: string } {
  return { key };
}

/** The params of `sessions.send`. */
export type SessionsSendParams = { key: string; message: string; idempotencyKey?: string };

/** Builds `sessions.send` params: `{key, message}` plus `idempotencyKey` when given. */
export function buildSessionsSendParams(p: SessionsSendParams): SessionsSendParams {
  const out: SessionsSendParams = { key: p.key, message: p.message };
  if (p.idempotencyKey !== undefined) out.idempotencyKey = p.idempotencyKey;
  return out;
}

/** The params of `exec.approval.resolve`. */
export type ResolveApprovalParams = { id: string; decision: ApprovalDecision };

/** Builds `exec.approval.resolve` params: exactly `{id, decision}` (never a `reason`, which the server rejects). */
export function buildResolveApprovalParams(p: ResolveApprovalParams): ResolveApprovalParams {
  return { id: p.id, decision: p.decision };
}

// --- result schemas: loose, requiring only what we read ---

const stringArray = v.array(v.string());

/** Validates the `skills.update` result `{ok, skillKey, config:{enabled}}`. */
export const SkillsUpdateResultSchema = v.looseObject({
  ok: v.optional(v.boolean()),
  skillKey: v.optional(v.string()),
  config: v.optional(v.looseObject({ enabled: v.optional(v.boolean()) })),
});

/** Validates the `config.get` result; `config` is required, `hash`/`raw` may be null or absent. */
export const ConfigGetResultSchema = v.looseObject({
  hash: maybe(v.string()),
  config: v.record(v.string(), v.unknown()),
  path: maybe(v.string()),
  exists: v.optional(v.boolean()),
  valid: v.optional(v.boolean()),
  raw: maybe(v.string()),
});

/** Validates the `config.patch` result `{ok, path, hash, config, changedPaths}`. */
export const ConfigPatchResultSchema = v.looseObject({
  ok: v.boolean(),
  path: maybe(v.string()),
  hash: maybe(v.string()),
  config: v.optional(v.record(v.string(), v.unknown())),
  changedPaths: v.optional(stringArray),
});

/** Validates the `status` result, an opaque record. */
export const StatusResultSchema = v.looseObject({});

const CatalogToolSchema = v.looseObject({
  id: v.string(),
  label: v.optional(v.string()),
  description: v.optional(v.string()),
  source: v.optional(v.string()),
  pluginId: maybe(v.string()),
  optional: v.optional(v.boolean()),
  defaultProfiles: v.optional(stringArray),
});

/** Validates the `tools.catalog` result `{agentId, profiles[], groups[{id, tools[]}]}`. */
export const ToolsCatalogResultSchema = v.looseObject({
  agentId: maybe(v.string()),
  profiles: v.optional(v.array(v.looseObject({ id: v.string(), label: v.optional(v.string()) }))),
  groups: v.array(
    v.looseObject({
      id: v.string(),
      label: v.optional(v.string()),
      source: v.optional(v.string()),
      pluginId: maybe(v.string()),
      tools: v.array(CatalogToolSchema),
    }),
  ),
});

/** Validates the `skills.status` result `{skills[{name, skillKey?, disabled?, …}], …}`. */
export const SkillsStatusResultSchema = v.looseObject({
  workspaceDir: maybe(v.string()),
  managedSkillsDir: maybe(v.string()),
  agentId: maybe(v.string()),
  skills: v.array(
    v.looseObject({
      name: v.string(),
      skillKey: v.optional(v.string()),
      description: v.optional(v.string()),
      source: v.optional(v.string()),
      bundled: v.optional(v.boolean()),
      disabled: v.optional(v.boolean()),
      eligible: v.optional(v.boolean()),
      blockedByAllowlist: v.optional(v.boolean()),
    }),
  ),
});

/** Validates the `skills.bins` result `{bins: string[]}` (node role only). */
export const SkillsBinsResultSchema = v.looseObject({ bins: stringArray });

/** Validates the `sessions.list` result, an object with a `sessions` array (not an array itself). */
export const SessionsListResultSchema = v.looseObject({
  ts: v.optional(v.number()),
  path: maybe(v.string()),
  count: v.optional(v.number()),
  totalCount: maybe(v.number()),
  hasMore: maybe(v.boolean()),
  nextOffset: maybe(v.number()),
  sessions: v.array(
    v.looseObject({
      key: v.string(),
      sessionId: maybe(v.string()),
      status: maybe(v.string()),
      updatedAt: maybe(v.number()),
    }),
  ),
});

/** Validates the `sessions.subscribe` result `{subscribed: true}`. */
export const SessionsSubscribeResultSchema = v.looseObject({ subscribed: v.boolean() });

/** Validates the `sessions.messages.subscribe` result `{subscribed, key, approvalReplay?}`. */
export const SessionsMessagesSubscribeResultSchema = v.looseObject({
  subscribed: v.boolean(),
  key: v.optional(v.string()),
  approvalReplay: v.optional(v.unknown()),
});

/** Validates the `sessions.send` result `{runId, status: "started", messageSeq?}`. */
export const SessionsSendResultSchema = v.looseObject({
  runId: v.string(),
  status: v.optional(v.string()),
  messageSeq: maybe(v.number()),
});

/** Validates the `exec.approval.resolve` result `{ok: true}`. */
export const ExecApprovalResolveResultSchema = v.looseObject({ ok: v.optional(v.boolean()) });

/** The parsed `skills.update` result. */
export type SkillsUpdateResult = v.InferOutput<typeof SkillsUpdateResultSchema>;
/** The parsed `config.get` result. */
export type ConfigGetResult = v.InferOutput<typeof ConfigGetResultSchema>;
/** The parsed `config.patch` result. */
export type ConfigPatchResult = v.InferOutput<typeof ConfigPatchResultSchema>;
/** The parsed `status` result. */
export type StatusResult = v.InferOutput<typeof StatusResultSchema>;
/** The parsed `tools.catalog` result. */
export type ToolsCatalogResult = v.InferOutput<typeof ToolsCatalogResultSchema>;
/** The parsed `skills.status` result. */
export type SkillsStatusResult = v.InferOutput<typeof SkillsStatusResultSchema>;
/** The parsed `skills.bins` result. */
export type SkillsBinsResult = v.InferOutput<typeof SkillsBinsResultSchema>;
/** The parsed `sessions.list` result. */
export type SessionsListResult = v.InferOutput<typeof SessionsListResultSchema>;
/** The parsed `sessions.subscribe` result. */
export type SessionsSubscribeResult = v.InferOutput<typeof SessionsSubscribeResultSchema>;
/** The parsed `sessions.messages.subscribe` result. */
export type SessionsMessagesSubscribeResult = v.InferOutput<typeof SessionsMessagesSubscribeResultSchema>;
/** The parsed `sessions.send` result. */
export type SessionsSendResult = v.InferOutput<typeof SessionsSendResultSchema>;
/** The parsed `exec.approval.resolve` result. */
export type ExecApprovalResolveResult = v.InferOutput<typeof ExecApprovalResolveResultSchema>;

/** Maps each method to the schema of its result, for generic callers and fixture replays. */
export const METHOD_RESULT_SCHEMAS = {
  [METHODS.SKILLS_UPDATE]: SkillsUpdateResultSchema,
  [METHODS.CONFIG_GET]: ConfigGetResultSchema,
  [METHODS.CONFIG_PATCH]: ConfigPatchResultSchema,
  [METHODS.STATUS]: StatusResultSchema,
  [METHODS.TOOLS_CATALOG]: ToolsCatalogResultSchema,
  [METHODS.SKILLS_STATUS]: SkillsStatusResultSchema,
  [METHODS.SKILLS_BINS]: SkillsBinsResultSchema,
  [METHODS.SESSIONS_LIST]: SessionsListResultSchema,
  [METHODS.SESSIONS_SUBSCRIBE]: SessionsSubscribeResultSchema,
  [METHODS.SESSIONS_MESSAGES_SUBSCRIBE]: SessionsMessagesSubscribeResultSchema,
  [METHODS.SESSIONS_SEND]: SessionsSendResultSchema,
  [METHODS.EXEC_APPROVAL_RESOLVE]: ExecApprovalResolveResultSchema,
} as const;
