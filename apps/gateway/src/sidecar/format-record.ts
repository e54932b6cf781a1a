import type { NormalizedRecord } from '@defenseclaw/protocol';

/** How many characters of tool arguments or a command a log line shows. */
export const MAX_LOGGED_CHARS = 200;

const SECRET_KEY_RE = /token|secret|passw(or)?d|api[-_]?key|authorization|credential|private[-_]?key|cookie/i;

/**
 * Formats a normalised record as one log line: `tool call <tool> id=… session=… args=…`,
 * `tool result <tool> id=… error=… exit=… bytes=…` or `approval requested id=… command="…"`. Arguments under
 * secret-looking keys are masked and long values truncated; wire strings are quoted so they cannot forge lines.
 */
export function formatRecord(record: NormalizedRecord): string {
  switch (record.kind) {
    case 'tool_call':
      return [
        `tool call ${word(record.tool)}`,
        `id=${word(record.id)}`,
        `session=${word(record.sessionKey)}`,
        `args=${truncate(JSON.stringify(maskSecrets(record.args)) ?? '{}')}`,
      ].join(' ');
    case 'tool_result':
      return [
        `tool result ${word(record.tool)}`,
        `id=${word(record.id)}`,
        `error=${record.isError}`,
        ...(record.exitCode === undefined ? [] : [`exit=${record.exitCode}`]),
        `bytes=${Buffer.byteLength(record.resultText)}`,
        ...(record.truncated ? ['truncated=true'] : []),
      ].join(' ');
    case 'approval_request':
      return [
        'approval requested',
        `id=${word(record.id)}`,
        ...(record.sessionKey === undefined ? [] : [`session=${word(record.sessionKey)}`]),
        `command=${JSON.stringify(truncate(record.command))}`,
        ...(record.failClosed ? ['fail_closed=true'] : []),
      ].join(' ');
  }
}

// --- internal ---

function word(value: string): string {
  return /^[\w.:/@+-]+$/.test(value) ? value : JSON.stringify(value);
}

function truncate(text: string, max = MAX_LOGGED_CHARS): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}

function maskSecrets(value: unknown, depth = 0): unknown {
  if (depth > 8 || typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map((item) => maskSecrets(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value)) {
    out[key] = SECRET_KEY_RE.test(key) && child !== '' ? '[REDACTED]' : maskSecrets(child, depth + 1);
  }
  return out;
}
