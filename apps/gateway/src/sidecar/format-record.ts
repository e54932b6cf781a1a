import type { NormalizedRecord } from '@defenseclaw/protocol';

/** How many argument names a tool-call line lists before "…". */
export const MAX_LOGGED_ARG_NAMES = 8;

/**
 * Formats a normalised record as one log line of metadata only — `tool call <tool> id=… session=… args=[names]
 * bytes=…`, `tool result <tool> id=… error=… exit=… bytes=…` or `approval requested id=… session=… command_chars=…`.
 * Tool content (argument values, result text, commands) never reaches the log (spec 20 §2.6): what a call did is
 * in the audit store, redacted, and verdict lines name the rules. Wire strings are quoted so they cannot forge lines.
 */
export function formatRecord(record: NormalizedRecord): string {
  switch (record.kind) {
    case 'tool_call':
      return [
        `tool call ${word(record.tool)}`,
        `id=${word(record.id)}`,
        `session=${word(record.sessionKey)}`,
        `args=${argNames(record.args)}`,
        `bytes=${Buffer.byteLength(JSON.stringify(record.args) ?? '')}`,
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
        ...(record.toolCallId === undefined ? [] : [`call=${word(record.toolCallId)}`]),
        `command_chars=${record.command.length}`,
        ...(record.failClosed ? ['fail_closed=true'] : []),
      ].join(' ');
  }
}

// --- internal ---

function word(value: string): string {
  return /^[\w.:/@+-]+$/.test(value) ? value : JSON.stringify(value);
}

function argNames(args: Record<string, unknown>): string {
  const names = Object.keys(args);
  const shown = names.slice(0, MAX_LOGGED_ARG_NAMES).map(word);
  if (names.length > MAX_LOGGED_ARG_NAMES) shown.push('…');
  return `[${shown.join(',')}]`;
}
