import * as v from 'valibot';
import { formatIssues, maybe } from './_schema.ts';
import { ConnectChallengeSchema } from './handshake.ts';

/** The server event names we know (spec 10 §4). */
export const EVENTS = {
  CONNECT_CHALLENGE: 'connect.challenge',
  TICK: 'tick',
  HEALTH: 'health',
  SHUTDOWN: 'shutdown',
  SESSIONS_CHANGED: 'sessions.changed',
  SESSION_TOOL: 'session.tool',
  AGENT: 'agent',
  SESSION_MESSAGE: 'session.message',
  CHAT: 'chat',
  EXEC_APPROVAL_REQUESTED: 'exec.approval.requested',
  EXEC_APPROVAL_RESOLVED: 'exec.approval.resolved',
  CONFIG_CHANGED: 'config.changed',
} as const;

/** One of the event names in `EVENTS`. */
export type EventName = (typeof EVENTS)[keyof typeof EVENTS];

/** The events a live connection consumes: every known event except the pre-hello `connect.challenge`. */
export const CONSUMED_EVENTS: readonly EventName[] = Object.freeze(
  Object.values(EVENTS).filter((name) => name !== EVENTS.CONNECT_CHALLENGE),
);

/**
 * The consumed events a server is expected to list in `hello.features.events`: all but
 * `config.changed`, which OpenClaw 2026.9.6 emits without advertising it.
 */
export const ADVERTISED_EVENTS: readonly EventName[] = Object.freeze(
  CONSUMED_EVENTS.filter((name) => name !== EVENTS.CONFIG_CHANGED),
);

const stringArray = v.array(v.string());

/** Validates the `tick` payload `{ts}`. */
export const TickPayloadSchema = v.looseObject({ ts: v.optional(v.number()) });

/** Validates the `health` payload (informational only). */
export const HealthPayloadSchema = v.looseObject({
  ok: v.optional(v.boolean()),
  ts: v.optional(v.number()),
  durationMs: v.optional(v.number()),
  plugins: v.optional(
    v.looseObject({ loaded: v.optional(stringArray), errors: v.optional(v.array(v.unknown())) }),
  ),
});

/** Validates the `shutdown` payload `{reason, restartExpectedMs?}`. */
export const ShutdownPayloadSchema = v.looseObject({
  reason: maybe(v.string()),
  restartExpectedMs: maybe(v.number()),
});

/** Validates the `sessions.changed` payload; `reason` and `phase` are open strings. */
export const SessionsChangedPayloadSchema = v.looseObject({
  sessionKey: maybe(v.string()),
  agentId: maybe(v.string()),
  reason: maybe(v.string()),
  phase: maybe(v.string()),
  runId: maybe(v.string()),
  ts: v.optional(v.number()),
  session: maybe(v.looseObject({ status: maybe(v.string()) })),
});

/** Validates the tool `data` shared by `session.tool` and `agent` `stream:"tool"`; `phase` is an open string. */
export const ToolEventDataSchema = v.looseObject({
  phase: v.string(),
  name: v.string(),
  toolCallId: v.string(),
  args: v.optional(v.unknown()),
  partialResult: v.optional(v.unknown()),
  result: v.optional(v.unknown()),
  isError: maybe(v.boolean()),
  meta: maybe(v.string()),
  commandBearing: maybe(v.boolean()),
});

/** Validates the `session.tool` payload (the session row fields flattened into it are kept, not read). */
export const SessionToolPayloadSchema = v.looseObject({
  runId: maybe(v.string()),
  sessionKey: maybe(v.string()),
  agentId: maybe(v.string()),
  stream: v.optional(v.string()),
  seq: v.optional(v.number()),
  ts: v.optional(v.number()),
  data: ToolEventDataSchema,
});

/** Validates the `agent` payload; `stream` is an open string and `data` is checked per stream by its reader. */
export const AgentPayloadSchema = v.looseObject({
  runId: maybe(v.string()),
  sessionKey: maybe(v.string()),
  agentId: maybe(v.string()),
  stream: v.string(),
  seq: v.optional(v.number()),
  ts: v.optional(v.number()),
  data: maybe(v.looseObject({ phase: maybe(v.string()) })),
});

/** Validates the `session.message` payload; `message.content` is a string or a list of typed blocks. */
export const SessionMessagePayloadSchema = v.looseObject({
  sessionKey: v.string(),
  agentId: maybe(v.string()),
  senderIsOwner: maybe(v.boolean()),
  messageId: maybe(v.string()),
  messageSeq: maybe(v.number()),
  runId: maybe(v.string()),
  message: v.looseObject({
    role: v.string(),
    content: v.optional(v.union([v.string(), v.array(v.looseObject({ type: v.string() }))])),
    timestamp: maybe(v.number()),
    stopReason: maybe(v.string()),
    provider: maybe(v.string()),
    model: maybe(v.string()),
  }),
});

/** Validates the `chat` payload; `state` (status, delta, final, error, aborted, …) is an open string. */
export const ChatPayloadSchema = v.looseObject({
  runId: maybe(v.string()),
  sessionKey: maybe(v.string()),
  agentId: maybe(v.string()),
  seq: v.optional(v.number()),
  state: v.string(),
  phase: maybe(v.string()),
  deltaText: maybe(v.string()),
  message: v.optional(v.unknown()),
  stopReason: maybe(v.string()),
  errorMessage: maybe(v.string()),
});

const SystemRunPlanSchema = v.looseObject({
  argv: maybe(stringArray),
  cwd: maybe(v.string()),
  commandText: maybe(v.string()),
  commandPreview: maybe(v.string()),
  rawCommand: maybe(v.string()),
});

/** Validates the `request` object inside exec approval events (null fields read as absent). */
export const ExecApprovalRequestSchema = v.looseObject({
  command: maybe(v.string()),
  commandArgv: maybe(stringArray),
  commandPreview: maybe(v.string()),
  systemRunPlan: maybe(SystemRunPlanSchema),
  cwd: maybe(v.string()),
  nodeId: maybe(v.string()),
  host: maybe(v.string()),
  security: maybe(v.string()),
  ask: maybe(v.string()),
  warningText: maybe(v.string()),
  allowedDecisions: maybe(stringArray),
  unavailableDecisions: maybe(stringArray),
  agentId: maybe(v.string()),
  resolvedPath: maybe(v.string()),
  sessionKey: maybe(v.string()),
  sessionId: maybe(v.string()),
  runId: maybe(v.string()),
  toolCallId: maybe(v.string()),
});

/** Validates the `exec.approval.requested` payload. */
export const ExecApprovalRequestedPayloadSchema = v.looseObject({
  approvalKind: maybe(v.string()),
  id: v.pipe(v.string(), v.minLength(1)),
  request: ExecApprovalRequestSchema,
  createdAtMs: maybe(v.number()),
  expiresAtMs: maybe(v.number()),
});

/** Validates the `exec.approval.resolved` payload; `decision` is an open string. */
export const ExecApprovalResolvedPayloadSchema = v.looseObject({
  id: v.string(),
  decision: maybe(v.string()),
  resolvedBy: maybe(v.string()),
  ts: v.optional(v.number()),
  request: v.optional(v.unknown()),
});

/** Validates the `config.changed` payload `{path, hash, ts}`. */
export const ConfigChangedPayloadSchema = v.looseObject({
  path: maybe(v.string()),
  hash: maybe(v.string()),
  ts: v.optional(v.number()),
});

/** The parsed `tick` payload. */
export type TickPayload = v.InferOutput<typeof TickPayloadSchema>;
/** The parsed `health` payload. */
export type HealthPayload = v.InferOutput<typeof HealthPayloadSchema>;
/** The parsed `shutdown` payload. */
export type ShutdownPayload = v.InferOutput<typeof ShutdownPayloadSchema>;
/** The parsed `sessions.changed` payload. */
export type SessionsChangedPayload = v.InferOutput<typeof SessionsChangedPayloadSchema>;
/** The parsed tool `data` of `session.tool` and `agent` `stream:"tool"`. */
export type ToolEventData = v.InferOutput<typeof ToolEventDataSchema>;
/** The parsed `session.tool` payload. */
export type SessionToolPayload = v.InferOutput<typeof SessionToolPayloadSchema>;
/** The parsed `agent` payload. */
export type AgentPayload = v.InferOutput<typeof AgentPayloadSchema>;
/** The parsed `session.message` payload. */
export type SessionMessagePayload = v.InferOutput<typeof SessionMessagePayloadSchema>;
/** The parsed `chat` payload. */
export type ChatPayload = v.InferOutput<typeof ChatPayloadSchema>;
/** The parsed `request` of an exec approval event. */
export type ExecApprovalRequest = v.InferOutput<typeof ExecApprovalRequestSchema>;
/** The parsed `exec.approval.requested` payload. */
export type ExecApprovalRequestedPayload = v.InferOutput<typeof ExecApprovalRequestedPayloadSchema>;
/** The parsed `exec.approval.resolved` payload. */
export type ExecApprovalResolvedPayload = v.InferOutput<typeof ExecApprovalResolvedPayloadSchema>;
/** The parsed `config.changed` payload. */
export type ConfigChangedPayload = v.InferOutput<typeof ConfigChangedPayloadSchema>;

/** Maps each known event name to the schema of its payload. */
export const EVENT_PAYLOAD_SCHEMAS: { readonly [K in EventName]: v.GenericSchema } = {
  [EVENTS.CONNECT_CHALLENGE]: ConnectChallengeSchema,
  [EVENTS.TICK]: TickPayloadSchema,
  [EVENTS.HEALTH]: HealthPayloadSchema,
  [EVENTS.SHUTDOWN]: ShutdownPayloadSchema,
  [EVENTS.SESSIONS_CHANGED]: SessionsChangedPayloadSchema,
  [EVENTS.SESSION_TOOL]: SessionToolPayloadSchema,
  [EVENTS.AGENT]: AgentPayloadSchema,
  [EVENTS.SESSION_MESSAGE]: SessionMessagePayloadSchema,
  [EVENTS.CHAT]: ChatPayloadSchema,
  [EVENTS.EXEC_APPROVAL_REQUESTED]: ExecApprovalRequestedPayloadSchema,
  [EVENTS.EXEC_APPROVAL_RESOLVED]: ExecApprovalResolvedPayloadSchema,
  [EVENTS.CONFIG_CHANGED]: ConfigChangedPayloadSchema,
};

/** Tells whether a name is one of `EVENTS`. */
export function isKnownEvent(name: string): name is EventName {
  return Object.hasOwn(EVENT_PAYLOAD_SCHEMAS, name);
}

/**
 * Validates an event payload on demand; names we do not know pass through untouched with `known: false`.
 *
 * @example
 * const parsed = parseEventPayload(frame.event, frame.payload);
 * if (parsed.success && parsed.known) use(parsed.output);
 */
export function parseEventPayload(
  name: string,
  payload: unknown,
): { success: true; known: boolean; output: unknown } | { success: false; reason: string } {
  if (!isKnownEvent(name)) return { success: true, known: false, output: payload };
  const result = v.safeParse(EVENT_PAYLOAD_SCHEMAS[name], payload);
  return result.success
    ? { success: true, known: true, output: result.output }
    : { success: false, reason: formatIssues(`invalid ${name} payload`, result.issues) };
}
