import type { Finding, Verdict } from './types.ts';

function findingToWire(f: Finding): Record<string, unknown> {
  const location: Record<string, unknown> = {
    start: f.evidence.location.start,
    end: f.evidence.location.end,
  };
  if (f.evidence.location.pointer !== undefined) location.pointer = f.evidence.location.pointer;
  if (f.evidence.location.messageIndex !== undefined)
    location.message_index = f.evidence.location.messageIndex;
  const out: Record<string, unknown> = {
    rule_id: f.ruleId,
    title: f.title,
    category: f.category,
    severity: f.severity,
    target: f.target,
    basis: f.basis,
    tags: [...f.tags],
    detection_only: f.detectionOnly,
    evidence: { snippet: f.evidence.snippet, location, fingerprint: f.evidence.fingerprint },
  };
  if (f.confidence !== undefined) out.confidence = f.confidence;
  if (f.alreadyEnforced !== undefined) out.already_enforced = f.alreadyEnforced;
  return out;
}

/** Returns the verdict as snake_case JSON for the REST API and the audit store (evidence is already redacted). */
export function toWire(verdict: Verdict): Record<string, unknown> {
  const meta: Record<string, unknown> = {};
  if (verdict.meta.sessionKey !== undefined) meta.session_key = verdict.meta.sessionKey;
  if (verdict.meta.runId !== undefined) meta.run_id = verdict.meta.runId;
  if (verdict.meta.agentId !== undefined) meta.agent_id = verdict.meta.agentId;
  if (verdict.meta.requestId !== undefined) meta.request_id = verdict.meta.requestId;
  if (verdict.meta.toolCallId !== undefined) meta.tool_call_id = verdict.meta.toolCallId;
  const out: Record<string, unknown> = {
    action: verdict.action,
    raw_action: verdict.rawAction,
    mode: verdict.mode,
    would_block: verdict.wouldBlock,
    severity: verdict.severity,
    findings: verdict.findings.map(findingToWire),
    rule_ids: [...verdict.ruleIds],
    dropped_findings: verdict.droppedFindings,
    reason: verdict.reason,
    explanation: verdict.explanation,
    lane: verdict.lane,
    profile: verdict.profile,
    enforceable: verdict.enforceable,
    generation: { id: verdict.generation.id, digest: verdict.generation.digest },
    trace: [...verdict.trace],
    timing: { scan_micros: verdict.timing.scanMicros, scanned_bytes: verdict.timing.scannedBytes },
    meta,
  };
  if (verdict.error) out.error = { code: verdict.error.code, message: verdict.error.message };
  return out;
}
