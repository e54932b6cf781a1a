// Builds audit-store records from normalised records and verdicts: event rows with a short redacted summary and a
// redacted payload (the store applies `audit.capture` and `audit.max_payload_bytes`), verdict and finding rows.
import type { AuditRecord, EventInput, FindingInput, VerdictInput } from '@defenseclaw/audit-store';
import { type Finding, REDACTED_CATEGORIES, type Verdict } from '@defenseclaw/policy';
import type { ApprovalRequest, NormalizedRecord, ToolCall, ToolResult } from '@defenseclaw/protocol';

/** What the exec-approval lane decided, as recorded next to its verdict. */
export type ApprovalDecisionRecord = {
  decision: 'deny' | 'allow-once' | 'pending';
  reason: string;
  wouldBlock: boolean;
};

/** How event payloads are captured (`audit.capture`, `audit.max_payload_bytes`). */
export type CaptureSettings = {
  /** Applied by the store; kept here so that settings read as one block. */
  capture: 'redacted' | 'metadata';
  /** The store keeps only size and hash of a larger payload, so long result texts are cut to fit first. */
  maxPayloadBytes: number;
};

/** The wire facts that locate an event: the connection id and the frame seq. */
export type WireMeta = { connId?: string | undefined; seq?: number | undefined };

/** The longest summary written (spec 20 §7.1 allows 512; shorter reads better in lists). */
export const MAX_SUMMARY_CHARS = 200;

/** The audit event kind of each normalised record. */
export const EVENT_KIND = {
  tool_call: 'tool.call',
  tool_result: 'tool.result',
  approval_request: 'exec.approval',
} as const;

/** Builds the event row of a normalised record. */
export function eventInput(
  record: NormalizedRecord,
  wire: WireMeta,
  capture: CaptureSettings,
  mask: (text: string) => string,
  decision?: ApprovalDecisionRecord,
  findings: readonly Finding[] = [],
): EventInput {
  const event: EventInput = {
    ts: eventTs(record),
    kind: EVENT_KIND[record.kind],
    source: 'ws',
    summary: summaryOf(record, mask, decision),
  };
  if (wire.seq !== undefined && wire.connId !== undefined) event.dedupeKey = `ws:${wire.connId}:${wire.seq}`;
  if (wire.connId !== undefined) event.connId = wire.connId;
  if (wire.seq !== undefined) event.seq = wire.seq;
  if (record.sessionKey) event.sessionKey = record.sessionKey;
  if (record.runId) event.runId = record.runId;
  if (record.agentId) event.agentId = record.agentId;
  if (record.kind === 'approval_request') {
    event.tool = 'exec';
    event.requestId = record.id;
    if (record.toolCallId) event.callId = record.toolCallId;
  } else {
    event.tool = record.tool;
    event.callId = record.id;
  }
  event.payload = payloadOf(record, mask, capture.maxPayloadBytes, decision, findings);
  return event;
}

/** Builds the verdict row (with its findings) of a verdict. */
export function verdictInput(
  verdict: Verdict,
  enforcement: { enforced: boolean; enforcement: VerdictInput['enforcement'] },
  override: Partial<Pick<VerdictInput, 'action' | 'rawAction' | 'wouldBlock' | 'reason'>> = {},
): VerdictInput {
  const row: VerdictInput = {
    lane: verdict.lane,
    action: override.action ?? verdict.action,
    rawAction: override.rawAction ?? verdict.rawAction,
    mode: verdict.mode,
    wouldBlock: override.wouldBlock ?? verdict.wouldBlock,
    severity: verdict.severity,
    ruleIds: verdict.ruleIds,
    reason: override.reason ?? verdict.reason,
    profile: verdict.profile,
    generationId: verdict.generation.id,
    enforced: enforcement.enforced,
    enforcement: enforcement.enforcement,
    scanMicros: Math.round(verdict.timing.scanMicros),
    findings: verdict.findings.map(findingInput),
  };
  if (verdict.error !== undefined) row.errorCode = verdict.error.code;
  return row;
}

/** Assembles one audit record: the event, its verdict and automatic alerts. */
export function auditRecord(event: EventInput, verdict: VerdictInput | undefined): AuditRecord {
  return verdict === undefined ? { event } : { event, verdicts: [verdict], alert: 'auto' };
}

// --- internal ---

function findingInput(finding: Verdict['findings'][number]): FindingInput {
  const row: FindingInput = {
    ruleId: finding.ruleId,
    category: finding.category,
    title: finding.title,
    severity: finding.severity,
    target: finding.target,
    basis: finding.basis,
    detectionOnly: finding.detectionOnly,
    snippet: finding.evidence.snippet,
    location: finding.evidence.location,
    fingerprint: finding.evidence.fingerprint,
    tags: finding.tags,
  };
  if (finding.confidence !== undefined) row.confidence = finding.confidence;
  return row;
}

function eventTs(record: NormalizedRecord): number {
  if (record.kind === 'approval_request') return record.createdAtMs ?? Date.now();
  return record.ts;
}

function summaryOf(
  record: NormalizedRecord,
  mask: (text: string) => string,
  decision: ApprovalDecisionRecord | undefined,
): string {
  switch (record.kind) {
    case 'tool_call':
      return clip(`${record.tool} ${describeArgs(record, mask)}`);
    case 'tool_result':
      return clip(
        `${record.tool} ${record.isError ? 'error' : 'ok'}${record.exitCode === undefined ? '' : ` exit=${record.exitCode}`} ${Buffer.byteLength(record.resultText)} bytes${record.truncated ? ' (truncated)' : ''}`,
      );
    case 'approval_request': {
      const head = decision === undefined ? 'exec' : `exec ${decision.decision} (${decision.reason})`;
      return clip(`${head}: ${record.command === '' ? '<no command>' : mask(oneLine(record.command))}`);
    }
  }
}

// A short view of the arguments: the command or path when there is one, else the argument names.
function describeArgs(record: ToolCall, mask: (text: string) => string): string {
  const args = record.args;
  for (const key of ['command', 'cmd', 'path', 'file_path', 'filePath', 'url']) {
    const value = args[key];
    if (typeof value === 'string' && value !== '') return mask(oneLine(value));
  }
  const keys = Object.keys(args);
  return keys.length === 0 ? '{}' : `{${keys.slice(0, 8).join(', ')}${keys.length > 8 ? ', …' : ''}}`;
}

function payloadOf(
  record: NormalizedRecord,
  mask: (text: string) => string,
  maxBytes: number,
  decision: ApprovalDecisionRecord | undefined,
  findings: readonly Finding[],
): Record<string, unknown> {
  switch (record.kind) {
    case 'tool_call':
      return toolCallPayload(record, mask, findings);
    case 'tool_result':
      return toolResultPayload(record, mask, maxBytes, findings);
    case 'approval_request':
      return approvalPayload(record, mask, decision);
  }
}

function toolCallPayload(
  record: ToolCall,
  mask: (text: string) => string,
  findings: readonly Finding[],
): Record<string, unknown> {
  // Spans the engine matched as secrets or PII are cut out of their argument first: the pattern masker only knows
  // token formats, while a rule may have matched e.g. a password assignment.
  const spans = redactedSpans(findings, 'tool_args');
  const leaf =
    spans.length === 0 ? mask : (text: string, pointer: string) => mask(redactSpans(text, spans, pointer));
  return {
    tool: record.tool,
    tool_call_id: record.id,
    source: record.source,
    args: maskDeep(record.args, leaf),
  };
}

function toolResultPayload(
  record: ToolResult,
  mask: (text: string) => string,
  maxBytes: number,
  findings: readonly Finding[],
): Record<string, unknown> {
  const out: Record<string, unknown> = {
    tool: record.tool,
    tool_call_id: record.id,
    source: record.source,
    is_error: record.isError,
    bytes: Buffer.byteLength(record.resultText),
    truncated: record.truncated,
  };
  if (record.exitCode !== undefined) out.exit_code = record.exitCode;
  if (record.meta !== undefined) out.meta = mask(record.meta);
  // Matched secret/PII spans are redacted, then token formats masked, then the text cut: a cut before masking could
  // leave half a secret unrecognised.
  const text = mask(redactSpans(record.resultText, redactedSpans(findings, 'tool_result'), undefined));
  const room = Math.max(0, maxBytes - 1024);
  if (Buffer.byteLength(text) <= room) {
    out.text = text;
  } else {
    out.text = cutUtf8(text, room);
    out.text_cut = true;
  }
  return out;
}

function approvalPayload(
  record: ApprovalRequest,
  mask: (text: string) => string,
  decision: ApprovalDecisionRecord | undefined,
): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: record.id,
    approval_kind: record.approvalKind,
    command: mask(record.command),
    command_variants: record.commandVariants.map(mask),
    allowed_decisions: record.allowedDecisions,
    fail_closed: record.failClosed,
  };
  if (record.argv !== undefined) out.argv = record.argv.map(mask);
  const optional: [string, unknown][] = [
    ['cwd', record.cwd],
    ['host', record.host],
    ['node_id', record.nodeId],
    ['security', record.security],
    ['ask', record.ask],
    ['resolved_path', record.resolvedPath],
    ['created_at_ms', record.createdAtMs],
    ['expires_at_ms', record.expiresAtMs],
  ];
  for (const [key, value] of optional) if (value !== undefined) out[key] = value;
  if (decision !== undefined) {
    out.decision = { decision: decision.decision, reason: decision.reason, would_block: decision.wouldBlock };
  }
  return out;
}

// Masks every string leaf (and secret-looking keys' values) of tool arguments; bounded depth. `pointer` is the
// leaf's JSON pointer, as the engine reports it in finding locations.
const SECRET_KEY_RE = /token|secret|passw(or)?d|api[-_]?key|authorization|credential|private[-_]?key|cookie/i;
function maskDeep(
  value: unknown,
  mask: (text: string, pointer: string) => string,
  depth = 0,
  pointer = '',
): unknown {
  if (typeof value === 'string') return mask(value, pointer);
  if (depth > 16 || typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map((item, i) => maskDeep(item, mask, depth + 1, `${pointer}/${i}`));
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value)) {
    out[key] =
      SECRET_KEY_RE.test(key) && typeof child === 'string' && child !== ''
        ? '[REDACTED]'
        : maskDeep(child, mask, depth + 1, `${pointer}/${escapePointer(key)}`);
  }
  return out;
}

function escapePointer(key: string): string {
  return key.replaceAll('~', '~0').replaceAll('/', '~1');
}

type Span = { start: number; end: number; ruleId: string; pointer: string | undefined };

// The locations of findings whose category is redacted in evidence (secrets, PII), on one target.
function redactedSpans(findings: readonly Finding[], target: Finding['target']): Span[] {
  const spans: Span[] = [];
  for (const finding of findings) {
    if (finding.target !== target || !REDACTED_CATEGORIES.has(finding.category)) continue;
    const { start, end, pointer } = finding.evidence.location;
    if (end > start) spans.push({ start, end, ruleId: finding.ruleId, pointer });
  }
  return spans;
}

// Replaces the spans that belong to `pointer` with `[REDACTED:<ruleId> len=<n>]`, rightmost first so that earlier
// offsets stay valid; overlapping spans merge.
function redactSpans(text: string, spans: readonly Span[], pointer: string | undefined): string {
  const mine = spans
    .filter((span) => span.pointer === pointer && span.end <= text.length)
    .sort((a, b) => b.start - a.start);
  let out = text;
  let floor = Number.POSITIVE_INFINITY;
  for (const span of mine) {
    const end = Math.min(span.end, floor);
    if (end <= span.start) continue;
    out = `${out.slice(0, span.start)}[REDACTED:${span.ruleId} len=${end - span.start}]${out.slice(end)}`;
    floor = span.start;
  }
  return out;
}

// Cuts text to at most `maxBytes` UTF-8 bytes on a character boundary.
function cutUtf8(text: string, maxBytes: number): string {
  if (text.length * 3 <= maxBytes) return text;
  const { read } = new TextEncoder().encodeInto(text, new Uint8Array(maxBytes));
  return text.slice(0, read);
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

function clip(text: string, max = MAX_SUMMARY_CHARS): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
