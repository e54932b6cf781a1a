// Store rows → snake_case wire objects (spec 20 §6.1 "Shapes"); times become ISO-8601 UTC.
import type { AlertRow, EventRow, FindingRow, ListRow, VerdictRow } from '@defenseclaw/audit-store';
import { iso } from './_http.ts';

/** An alert on the wire. */
export function alertToWire(a: AlertRow): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: a.id,
    ts: iso(a.ts),
    severity: a.severity,
    category: a.category,
    title: a.title,
    lane: a.lane,
    action: a.action,
    raw_action: a.rawAction,
    mode: a.mode,
    enforced: a.enforced,
    tool: a.tool,
    session_key: a.sessionKey,
    rule_ids: a.ruleIds,
    event_id: a.eventId,
  };
  if (a.verdictId !== null) out.verdict_id = a.verdictId;
  if (a.ackedAt !== null) {
    out.acked_at = iso(a.ackedAt);
    out.acked_by = a.ackedBy;
    if (a.ackNote !== null) out.ack_note = a.ackNote;
  }
  return out;
}

/** An event on the wire; verdicts, findings (flattened over its verdicts) and payload when asked for. */
export function eventToWire(
  e: EventRow,
  include: { verdicts: boolean; findings: boolean; payload: boolean },
): Record<string, unknown> {
  const out: Record<string, unknown> = { id: e.id, ts: iso(e.ts), kind: e.kind, source: e.source };
  if (e.sessionKey !== null) out.session_key = e.sessionKey;
  if (e.tool !== null) out.tool = e.tool;
  if (e.callId !== null) out.call_id = e.callId;
  if (e.runId !== null) out.run_id = e.runId;
  if (e.agentId !== null) out.agent_id = e.agentId;
  if (e.requestId !== null) out.request_id = e.requestId;
  out.summary = e.summary ?? '';
  if (include.verdicts) out.verdicts = (e.verdicts ?? []).map(verdictToWire);
  if (include.findings)
    out.findings = (e.verdicts ?? []).flatMap((v) => (v.findings ?? []).map(findingToWire));
  if (include.payload) {
    out.payload = e.payload ?? null;
    if (e.payloadBytes !== null) out.payload_bytes = e.payloadBytes;
    if (e.payloadSha256 !== null) out.payload_sha256 = e.payloadSha256;
  }
  return out;
}

/** A stored verdict on the wire (without its findings). */
export function verdictToWire(v: VerdictRow): Record<string, unknown> {
  return {
    id: v.id,
    lane: v.lane,
    action: v.action,
    raw_action: v.rawAction,
    mode: v.mode,
    would_block: v.wouldBlock,
    severity: v.severity,
    rule_ids: v.ruleIds,
    reason: v.reason,
    profile: v.profile,
    generation_id: v.generationId,
    enforced: v.enforced,
    enforcement: v.enforcement,
    scan_micros: v.scanMicros,
    error_code: v.errorCode,
  };
}

/** A stored, redacted finding on the wire. */
export function findingToWire(f: FindingRow): Record<string, unknown> {
  return {
    verdict_id: f.verdictId,
    rule_id: f.ruleId,
    category: f.category,
    title: f.title,
    severity: f.severity,
    confidence: f.confidence,
    target: f.target,
    basis: f.basis,
    detection_only: f.detectionOnly,
    snippet: f.snippet,
    location: f.location,
    fingerprint: f.fingerprint,
    tags: f.tags,
  };
}

/** A block/allow list entry on the wire. */
export function entryToWire(r: ListRow): Record<string, unknown> {
  const out: Record<string, unknown> = {
    target_type: r.targetType,
    target_name: r.targetName,
    connector: r.connector,
    list: r.list,
    reason: r.reason,
    source: r.source,
    created_at: iso(r.createdAt),
    updated_at: iso(r.updatedAt),
  };
  if (r.expiresAt !== null) out.expires_at = iso(r.expiresAt);
  return out;
}
