// Turns an AuditRecord into bind parameters once, at enqueue time: payload serialised and hashed,
// summary and snippets cut, severities ranked, alerts derived. The writer binds these as they are.
import { hash } from 'node:crypto';
import {
  ALERTING_ACTIONS,
  type AlertInput,
  type AuditRecord,
  type CaptureMode,
  type FindingInput,
  SEVERITY_RANK,
  type Severity,
  type VerdictInput,
} from './types.ts';

/** The longest stored summary, in UTF-16 code units. */
export const MAX_SUMMARY_CHARS = 512;
/** The longest stored finding snippet, in UTF-16 code units. */
export const MAX_SNIPPET_CHARS = 120;

/** The columns of an `events` row, as inserted and as read back (the payload aside). */
export type EventColumns = {
  ts: number;
  kind: string;
  source: string;
  dedupeKey: string | null;
  sessionKey: string | null;
  runId: string | null;
  agentId: string | null;
  tool: string | null;
  callId: string | null;
  requestId: string | null;
  connId: string | null;
  seq: number | null;
  summary: string | null;
  payloadBytes: number | null;
  payloadSha256: string | null;
};

/** Positional bind values of one `events` insert. */
export type EventParams = EventColumns & { payload: string | null };

/** Positional bind values of one `verdicts` insert. */
export type VerdictParams = {
  eventId: number;
  ts: number;
  lane: string;
  action: string;
  rawAction: string;
  mode: string;
  wouldBlock: number;
  severity: string | null;
  severityRank: number;
  ruleIds: string;
  reason: string | null;
  profile: string | null;
  generationId: string | null;
  enforced: number;
  enforcement: string;
  scanMicros: number | null;
  errorCode: string | null;
};

/** Positional bind values of one `findings` insert. */
export type FindingParams = {
  verdictId: number;
  ruleId: string;
  category: string;
  title: string;
  severity: string;
  severityRank: number;
  confidence: number | null;
  target: string | null;
  basis: string | null;
  detectionOnly: number;
  snippet: string | null;
  location: string | null;
  fingerprint: string | null;
  tags: string;
};

/** Positional bind values of one `alerts` insert. */
export type AlertParams = {
  ts: number;
  eventId: number;
  verdictId: number | null;
  category: string;
  severity: string;
  severityRank: number;
  title: string;
  lane: string | null;
  action: string | null;
  rawAction: string | null;
  mode: string | null;
  enforced: number;
  tool: string | null;
  sessionKey: string | null;
  ruleIds: string;
};

/** A record reduced to bind parameters; ids are filled in while it is inserted. */
export type PreparedRecord = {
  event: EventParams;
  verdicts: readonly { params: VerdictParams; findings: readonly FindingParams[] }[];
  alerts: readonly { params: AlertParams; verdictIndex: number | null }[];
};

/** Shared by every record without verdicts, findings or alerts: a queued record is kept small (B1, GC). */
const NONE: readonly never[] = Object.freeze([]);

/** Settings that shape how a record is prepared for insert (capture mode, payload cap). */
export type PrepareOptions = { capture: CaptureMode; maxPayloadBytes: number };

/** Builds the bind parameters of a record; throws only on a record that breaks the types. */
export function prepareRecord(record: AuditRecord, options: PrepareOptions): PreparedRecord {
  const e = record.event;
  const event: EventParams = {
    ts: e.ts,
    kind: e.kind,
    source: e.source,
    dedupeKey: e.dedupeKey ?? null,
    sessionKey: e.sessionKey ?? null,
    runId: e.runId ?? null,
    agentId: e.agentId ?? null,
    tool: e.tool ?? null,
    callId: e.callId ?? null,
    requestId: e.requestId ?? null,
    connId: e.connId ?? null,
    seq: e.seq ?? null,
    summary: e.summary == null ? null : cut(e.summary, MAX_SUMMARY_CHARS),
    payload: null,
    payloadBytes: null,
    payloadSha256: null,
  };
  if (e.payload !== undefined) {
    const json = serialise(e.payload);
    if (json !== undefined) {
      const bytes = Buffer.byteLength(json);
      event.payloadBytes = bytes;
      event.payloadSha256 = hash('sha256', json, 'hex');
      if (options.capture === 'redacted' && bytes <= options.maxPayloadBytes) event.payload = json;
    }
  }

  const inputs = record.verdicts ?? NONE;
  const verdicts =
    inputs.length === 0
      ? NONE
      : inputs.map((v) => ({
          params: verdictParams(v, e.ts),
          findings: v.findings.length === 0 ? NONE : v.findings.map(findingParams),
        }));

  let alerts: PreparedRecord['alerts'] = NONE;
  const mode = record.alert ?? 'auto';
  if (mode === 'auto') {
    for (let i = 0; i < inputs.length; i++) {
      const v = inputs[i]!;
      if (ALERTING_ACTIONS.has(v.rawAction)) {
        if (alerts === NONE) alerts = [];
        (alerts as PreparedRecord['alerts'][number][]).push({ params: autoAlert(v, e), verdictIndex: i });
      }
    }
  } else if (mode !== 'none') {
    alerts = [{ params: explicitAlert(mode, e, inputs), verdictIndex: mode.verdictIndex ?? null }];
  }
  return { event, verdicts, alerts };
}

// --- internal ---

function verdictParams(v: VerdictInput, ts: number): VerdictParams {
  return {
    eventId: 0,
    ts,
    lane: v.lane,
    action: v.action,
    rawAction: v.rawAction,
    mode: v.mode,
    wouldBlock: v.wouldBlock ? 1 : 0,
    severity: v.severity ?? null,
    severityRank: rank(v.severity),
    ruleIds: jsonList(v.ruleIds),
    reason: v.reason ?? null,
    profile: v.profile ?? null,
    generationId: v.generationId ?? null,
    enforced: v.enforced ? 1 : 0,
    enforcement: v.enforcement ?? 'none',
    scanMicros: v.scanMicros ?? null,
    errorCode: v.errorCode ?? null,
  };
}

function findingParams(f: FindingInput): FindingParams {
  return {
    verdictId: 0,
    ruleId: f.ruleId,
    category: f.category,
    title: f.title,
    severity: f.severity,
    severityRank: rank(f.severity),
    confidence: f.confidence ?? null,
    target: f.target ?? null,
    basis: f.basis ?? null,
    detectionOnly: f.detectionOnly ? 1 : 0,
    snippet: f.snippet == null ? null : cut(f.snippet, MAX_SNIPPET_CHARS),
    location: f.location === undefined ? null : (serialise(f.location) ?? null),
    fingerprint: f.fingerprint ?? null,
    tags: jsonList(f.tags),
  };
}

function autoAlert(v: VerdictInput, e: AuditRecord['event']): AlertParams {
  // Findings arrive sorted by severity (highest first), so the first one names the alert.
  const top = v.findings[0];
  const severity: Severity = v.severity ?? top?.severity ?? 'medium';
  return {
    ts: e.ts,
    eventId: 0,
    verdictId: null,
    category: top?.category ?? 'verdict',
    severity,
    severityRank: rank(severity),
    title: cut(top?.title ?? (v.reason || `${v.lane} ${v.rawAction}`), MAX_SUMMARY_CHARS),
    lane: v.lane,
    action: v.action,
    rawAction: v.rawAction,
    mode: v.mode,
    enforced: v.enforced ? 1 : 0,
    tool: e.tool ?? null,
    sessionKey: e.sessionKey ?? null,
    ruleIds: jsonList(v.ruleIds),
  };
}

function explicitAlert(
  a: AlertInput,
  e: AuditRecord['event'],
  verdicts: readonly VerdictInput[],
): AlertParams {
  const linked = a.verdictIndex === undefined ? undefined : verdicts[a.verdictIndex];
  return {
    ts: e.ts,
    eventId: 0,
    verdictId: null,
    category: a.category,
    severity: a.severity,
    severityRank: rank(a.severity),
    title: cut(a.title, MAX_SUMMARY_CHARS),
    lane: a.lane ?? linked?.lane ?? null,
    action: a.action ?? linked?.action ?? null,
    rawAction: a.rawAction ?? linked?.rawAction ?? null,
    mode: a.mode ?? linked?.mode ?? null,
    enforced: (a.enforced ?? linked?.enforced ?? false) ? 1 : 0,
    tool: a.tool === undefined ? (e.tool ?? null) : a.tool,
    sessionKey: a.sessionKey === undefined ? (e.sessionKey ?? null) : a.sessionKey,
    ruleIds: jsonList(a.ruleIds ?? linked?.ruleIds),
  };
}

function jsonList(list: readonly string[] | undefined): string {
  return list === undefined || list.length === 0 ? '[]' : JSON.stringify(list);
}

function rank(severity: Severity | null | undefined): number {
  return severity == null ? 0 : (SEVERITY_RANK[severity] ?? 0);
}

/** Serialises a JSON value; undefined for values JSON cannot carry (cycles, BigInt, functions). */
function serialise(value: unknown): string | undefined {
  try {
    return JSON.stringify(value);
  } catch {
    return undefined;
  }
}

/** Cuts text to `max` code units with a trailing ellipsis, never splitting a surrogate pair. */
function cut(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = max - 1;
  const code = text.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end--;
  return `${text.slice(0, end)}…`;
}
