import type { AuditRecord, FindingInput, Severity, VerdictInput } from '@defenseclaw/audit-store';
import type { ProxyAuditRecord } from '@defenseclaw/guardrail-proxy';

/** The audit event kind of one LLM request through the guardrail proxy. */
export const PROXY_EVENT_KIND = 'proxy.request';

/**
 * Turns the proxy's per-request record (spec 30 §B8) into an audit record: one `proxy.request` event whose payload
 * holds the routing facts, outcome, latency split and counts, plus one verdict per judged side (request, response)
 * with its redacted findings. Verdicts that alert raise alerts as usual. No content ever: the proxy's record has none.
 */
export function proxyAuditRecord(record: ProxyAuditRecord): AuditRecord {
  const { request_verdict: requestVerdict, response_verdict: responseVerdict, ...facts } = record;
  const verdicts: VerdictInput[] = [];
  const blockedRequest = record.outcome === 'blocked_request';
  const blockedResponse = record.outcome === 'blocked_response' || record.outcome === 'cut_midstream';
  if (requestVerdict !== undefined)
    verdicts.push(verdictFromWire(requestVerdict, blockedRequest ? 'proxy.block' : 'none'));
  if (responseVerdict !== undefined)
    verdicts.push(
      verdictFromWire(
        responseVerdict,
        blockedResponse ? (record.outcome === 'cut_midstream' ? 'stream.cut' : 'proxy.block') : 'none',
      ),
    );
  const route = [record.provider, record.model_upstream].filter((part) => part !== undefined).join('/');
  return {
    event: {
      ts: record.ts,
      kind: PROXY_EVENT_KIND,
      source: 'proxy',
      sessionKey: record.session_key ?? null,
      runId: record.run_id ?? null,
      agentId: record.agent_id ?? null,
      requestId: record.request_id,
      summary:
        `${record.endpoint}${record.stream ? ' (stream)' : ''} ${route || (record.model_requested ?? '?')} → ` +
        `${record.outcome} (${record.status})`,
      payload: facts,
    },
    verdicts,
  };
}

// --- internal ---

type WireFinding = {
  rule_id: string;
  title: string;
  category: string;
  severity: Severity;
  target: string;
  basis: string;
  tags?: string[];
  detection_only?: boolean;
  confidence?: number;
  evidence?: { snippet?: string; location?: unknown; fingerprint?: string };
};

function verdictFromWire(wire: Record<string, unknown>, enforcement: string): VerdictInput {
  const findings = (wire.findings as WireFinding[] | undefined) ?? [];
  const timing = wire.timing as { scan_micros?: number } | undefined;
  const generation = wire.generation as { id?: string } | undefined;
  const error = wire.error as { code?: string } | undefined;
  return {
    lane: String(wire.lane),
    action: String(wire.action),
    rawAction: String(wire.raw_action),
    mode: String(wire.mode),
    wouldBlock: wire.would_block === true,
    severity: (wire.severity as Severity | null | undefined) ?? null,
    ruleIds: (wire.rule_ids as string[] | undefined) ?? [],
    reason: String(wire.reason ?? ''),
    profile: String(wire.profile ?? ''),
    generationId: generation?.id ?? '',
    enforced: enforcement !== 'none',
    enforcement,
    scanMicros: timing?.scan_micros ?? 0,
    errorCode: error?.code ?? null,
    findings: findings.map(
      (finding): FindingInput => ({
        ruleId: finding.rule_id,
        category: finding.category,
        title: finding.title,
        severity: finding.severity,
        confidence: finding.confidence ?? null,
        target: finding.target,
        basis: finding.basis,
        detectionOnly: finding.detection_only === true,
        snippet: finding.evidence?.snippet ?? '',
        location: finding.evidence?.location ?? null,
        fingerprint: finding.evidence?.fingerprint ?? '',
        tags: finding.tags ?? [],
      }),
    ),
  };
}
