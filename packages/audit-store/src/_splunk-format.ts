// Turns committed events into HEC event lines (spec 20 §9.2): one JSON object per line, the event's id and the
// database's instance id inside so searches can de-duplicate what at-least-once delivery resends.
import type { SourceEvent } from './_splunk-source.ts';

/** The envelope fields every line carries. */
export type HecEnvelope = {
  host: string;
  source: string;
  sourcetype: string;
  /** Empty: the token's default index. */
  index: string;
  version: string;
  instanceId: string;
  /** Whether stored (redacted) payloads are sent. */
  includePayload: boolean;
};

/** Serialises one event as a HEC line (without the trailing newline). */
export function hecLine(event: SourceEvent, envelope: HecEnvelope): string {
  const body = JSON.stringify({
    id: event.id,
    ts: new Date(event.ts).toISOString(),
    kind: event.kind,
    source: event.source,
    session_key: event.sessionKey,
    tool: event.tool,
    summary: event.summary,
    verdicts: event.verdicts,
    sidecar: { version: envelope.version, instance_id: envelope.instanceId },
  });
  // The stored payload is JSON the writer serialised; it is spliced in rather than parsed and re-serialised.
  const event_ =
    envelope.includePayload && event.payload !== null && event.payload !== ''
      ? `${body.slice(0, -1)},"payload":${event.payload}}`
      : body;
  const head: Record<string, unknown> = {
    time: event.ts / 1000,
    host: envelope.host,
    source: envelope.source,
    sourcetype: envelope.sourcetype,
  };
  if (envelope.index !== '') head.index = envelope.index;
  return `${JSON.stringify(head).slice(0, -1)},"event":${event_}}`;
}
