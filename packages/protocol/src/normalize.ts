import * as v from 'valibot';
import { isRecord } from './_schema.ts';
import {
  EVENTS,
  type ExecApprovalRequest,
  ExecApprovalRequestedPayloadSchema,
  SessionToolPayloadSchema,
} from './events.ts';
import { type Logger, silentLogger } from './logger.ts';
import { APPROVAL_DECISIONS, type ApprovalDecision, isApprovalDecision } from './methods.ts';

/** Where a tool record came from: the subscriber broadcast or the run starter's `agent` stream. */
export type ToolEventSource = 'session.tool' | 'agent';

/** A normalised tool invocation (from `data.phase === "start"`); not a wire event. */
export type ToolCall = {
  kind: 'tool_call';
  id: string;
  runId: string;
  sessionKey: string;
  agentId?: string;
  tool: string;
  args: Record<string, unknown>;
  ts: number;
  source: ToolEventSource;
};

/** A normalised tool result (from `data.phase === "result"`); not a wire event. */
export type ToolResult = {
  kind: 'tool_result';
  id: string;
  runId: string;
  sessionKey: string;
  agentId?: string;
  tool: string;
  isError: boolean;
  resultText: string;
  truncated: boolean;
  exitCode?: number;
  meta?: string;
  ts: number;
  source: ToolEventSource;
};

/** A normalised exec approval request (from `exec.approval.requested`). */
export type ApprovalRequest = {
  kind: 'approval_request';
  id: string;
  approvalKind: string;
  command: string;
  commandVariants: string[];
  argv?: string[];
  cwd?: string;
  host?: string;
  nodeId?: string;
  agentId?: string;
  sessionKey?: string;
  runId?: string;
  toolCallId?: string;
  security?: string;
  ask?: string;
  resolvedPath?: string;
  warningText?: string;
  allowedDecisions: ApprovalDecision[];
  createdAtMs?: number;
  expiresAtMs?: number;
  /** True when there is no command and no argv (or the request could not be read): policy must deny. */
  failClosed: boolean;
};

/** Any record the normaliser produces. */
export type NormalizedRecord = ToolCall | ToolResult | ApprovalRequest;

/** Counters kept by a normaliser. */
export type NormalizerStats = {
  toolCalls: number;
  toolResults: number;
  approvals: number;
  updates: number;
  unknownPhases: number;
  duplicates: number;
  invalid: number;
};

/** Turns raw event payloads into `ToolCall`, `ToolResult` and `ApprovalRequest` records. */
export type Normalizer = {
  /** Feeds one event; returns a record, or undefined for events that yield none (or duplicates). */
  push(name: string, payload: unknown): NormalizedRecord | undefined;
  /** Live counters. */
  readonly stats: Readonly<NormalizerStats>;
};

/** Options for `createNormalizer`. */
export type NormalizerOptions = {
  /** How many `runId + toolCallId + phase` keys the dedupe LRU remembers. @default 4096 */
  dedupeSize?: number;
  /** The cap on `resultText`, in UTF-8 bytes. @default 262144 (256 KiB) */
  maxResultBytes?: number;
  /** Receives debug lines about unknown phases and invalid payloads. @default silentLogger */
  logger?: Logger;
};

/** The default cap on `ToolResult.resultText` in UTF-8 bytes (256 KiB). */
export const DEFAULT_MAX_RESULT_BYTES = 256 * 1024;

/** The default size of the tool-event dedupe LRU. */
export const DEFAULT_DEDUPE_SIZE = 4096;

const encoder = new TextEncoder();

/**
 * Extracts the text of a tool result and caps it at `maxBytes` UTF-8 bytes, cutting on a character boundary.
 *
 * A string is used as is, an object with `content[]` yields its text blocks joined with `\n`,
 * `null`/`undefined` yield `""`, and anything else is JSON-encoded.
 */
export function extractResultText(
  result: unknown,
  maxBytes: number = DEFAULT_MAX_RESULT_BYTES,
): { text: string; truncated: boolean } {
  let text: string;
  if (typeof result === 'string') text = result;
  else if (result === undefined || result === null) text = '';
  else if (isRecord(result) && Array.isArray(result.content)) {
    const parts: string[] = [];
    for (const block of result.content) {
      if (isRecord(block) && block.type === 'text' && typeof block.text === 'string') parts.push(block.text);
    }
    text = parts.join('\n');
  } else {
    try {
      text = JSON.stringify(result) ?? '';
    } catch {
      text = String(result);
    }
  }
  // A UTF-16 code unit never takes more than 3 UTF-8 bytes, so short texts skip the encoding work.
  if (text.length * 3 <= maxBytes) return { text, truncated: false };
  const limit = Math.max(0, Math.floor(maxBytes));
  // encodeInto writes whole characters only, and `read` counts the UTF-16 units it consumed.
  const { read } = encoder.encodeInto(text, new Uint8Array(limit));
  return read < text.length ? { text: text.slice(0, read), truncated: true } : { text, truncated: false };
}

function firstNonEmpty(values: readonly (string | undefined)[]): string {
  for (const value of values) if (value !== undefined && value.trim() !== '') return value;
  return '';
}

function buildApproval(
  id: string,
  approvalKind: string | undefined,
  request: ExecApprovalRequest | undefined,
  createdAtMs: number | undefined,
  expiresAtMs: number | undefined,
): ApprovalRequest {
  const plan = request?.systemRunPlan;
  const candidates = [
    request?.command,
    plan?.commandText,
    plan?.rawCommand,
    request?.commandPreview,
    plan?.commandPreview,
  ];
  const argv = plan?.argv?.length
    ? plan.argv
    : request?.commandArgv?.length
      ? request.commandArgv
      : undefined;
  // With no command text at all, the joined argv is the best single string for policy to read.
  const command = firstNonEmpty(candidates) || (argv?.join(' ') ?? '');
  const variants: string[] = [];
  for (const candidate of [...candidates, plan?.argv?.join(' '), request?.commandArgv?.join(' ')]) {
    if (candidate !== undefined && candidate.trim() !== '' && !variants.includes(candidate)) {
      variants.push(candidate);
    }
  }
  const allowed = request?.allowedDecisions;
  const record: ApprovalRequest = {
    kind: 'approval_request',
    id,
    approvalKind: approvalKind ?? 'exec',
    command,
    commandVariants: variants,
    allowedDecisions: allowed ? allowed.filter(isApprovalDecision) : [...APPROVAL_DECISIONS],
    failClosed: command.trim() === '',
  };
  if (argv) record.argv = [...argv];
  const optional = {
    cwd: request?.cwd ?? plan?.cwd,
    host: request?.host,
    nodeId: request?.nodeId,
    agentId: request?.agentId,
    sessionKey: request?.sessionKey,
    runId: request?.runId,
    toolCallId: request?.toolCallId,
    security: request?.security,
    ask: request?.ask,
    resolvedPath: request?.resolvedPath,
    warningText: request?.warningText,
  } as const;
  for (const [key, value] of Object.entries(optional)) {
    if (value !== undefined) (record as Record<string, unknown>)[key] = value;
  }
  if (createdAtMs !== undefined) record.createdAtMs = createdAtMs;
  if (expiresAtMs !== undefined) record.expiresAtMs = expiresAtMs;
  return record;
}

/**
 * Creates a stateful normaliser that turns `session.tool`, `agent` `stream:"tool"` and
 * `exec.approval.requested` payloads into internal records, deduping tool events on
 * `runId + toolCallId + phase`.
 *
 * @example
 * const normalizer = createNormalizer();
 * client.on('event', ({ name, payload }) => {
 *   const record = normalizer.push(name, payload);
 *   if (record?.kind === 'tool_call') inspect(record);
 * });
 */
export function createNormalizer(options: NormalizerOptions = {}): Normalizer {
  const dedupeSize = Math.max(1, options.dedupeSize ?? DEFAULT_DEDUPE_SIZE);
  const maxResultBytes = options.maxResultBytes ?? DEFAULT_MAX_RESULT_BYTES;
  const logger = options.logger ?? silentLogger;
  const stats: NormalizerStats = {
    toolCalls: 0,
    toolResults: 0,
    approvals: 0,
    updates: 0,
    unknownPhases: 0,
    duplicates: 0,
    invalid: 0,
  };
  // A Map iterates in insertion order, which makes it a compact LRU.
  const seen = new Map<string, true>();

  function isDuplicate(key: string): boolean {
    if (seen.has(key)) {
      seen.delete(key);
      seen.set(key, true);
      return true;
    }
    seen.set(key, true);
    if (seen.size > dedupeSize) {
      const oldest = seen.keys().next();
      if (!oldest.done) seen.delete(oldest.value);
    }
    return false;
  }

  function pushTool(name: string, payload: unknown, source: ToolEventSource): NormalizedRecord | undefined {
    const parsed = v.safeParse(SessionToolPayloadSchema, payload);
    if (!parsed.success) {
      stats.invalid++;
      logger.debug('normalizer: invalid tool event payload', {
        event: name,
        issue: parsed.issues[0].message,
      });
      return undefined;
    }
    const { data } = parsed.output;
    const runId = parsed.output.runId ?? '';
    const sessionKey = parsed.output.sessionKey ?? '';
    const agentId = parsed.output.agentId;
    const ts = parsed.output.ts ?? Date.now();
    if (data.phase === 'update') {
      stats.updates++;
      return undefined;
    }
    if (data.phase !== 'start' && data.phase !== 'result') {
      stats.unknownPhases++;
      logger.debug('normalizer: unknown tool phase', {
        event: name,
        phase: data.phase,
        toolCallId: data.toolCallId,
      });
      return undefined;
    }
    if (isDuplicate(`${runId}\u0000${data.toolCallId}\u0000${data.phase}`)) {
      stats.duplicates++;
      return undefined;
    }
    if (data.phase === 'start') {
      stats.toolCalls++;
      const args =
        data.args === undefined || data.args === null
          ? {}
          : isRecord(data.args)
            ? data.args
            : // Keep non-object args visible to policy rather than dropping them.
              { value: data.args };
      const call: ToolCall = {
        kind: 'tool_call',
        id: data.toolCallId,
        runId,
        sessionKey,
        tool: data.name,
        args,
        ts,
        source,
      };
      if (agentId !== undefined) call.agentId = agentId;
      return call;
    }
    stats.toolResults++;
    const { text, truncated } = extractResultText(data.result, maxResultBytes);
    const result: ToolResult = {
      kind: 'tool_result',
      id: data.toolCallId,
      runId,
      sessionKey,
      tool: data.name,
      isError: data.isError === true,
      resultText: text,
      truncated,
      ts,
      source,
    };
    if (agentId !== undefined) result.agentId = agentId;
    const details = isRecord(data.result) ? data.result.details : undefined;
    const exitCode = isRecord(details) ? details.exitCode : undefined;
    if (typeof exitCode === 'number' && Number.isFinite(exitCode)) result.exitCode = exitCode;
    if (data.meta !== undefined) result.meta = data.meta;
    return result;
  }

  function pushApproval(payload: unknown): ApprovalRequest | undefined {
    const parsed = v.safeParse(ExecApprovalRequestedPayloadSchema, payload);
    if (parsed.success) {
      stats.approvals++;
      const p = parsed.output;
      return buildApproval(p.id, p.approvalKind, p.request, p.createdAtMs, p.expiresAtMs);
    }
    stats.invalid++;
    logger.debug('normalizer: invalid exec.approval.requested payload', { issue: parsed.issues[0].message });
    // An approval we cannot read but can still answer is surfaced fail-closed so that policy denies it.
    if (isRecord(payload) && typeof payload.id === 'string' && payload.id !== '') {
      stats.approvals++;
      return buildApproval(payload.id, undefined, undefined, undefined, undefined);
    }
    return undefined;
  }

  return {
    push(name, payload) {
      switch (name) {
        case EVENTS.SESSION_TOOL:
          return pushTool(name, payload, 'session.tool');
        case EVENTS.AGENT:
          return isRecord(payload) && payload.stream === 'tool'
            ? pushTool(name, payload, 'agent')
            : undefined;
        case EVENTS.EXEC_APPROVAL_REQUESTED:
          return pushApproval(payload);
        default:
          return undefined;
      }
    },
    stats,
  };
}
