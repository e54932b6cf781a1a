import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ApprovalRequest, ToolCall, ToolResult } from '@defenseclaw/protocol';
import { formatRecord } from '../src/sidecar/format-record.ts';

const call: ToolCall = {
  kind: 'tool_call',
  id: 'call_x',
  runId: 'run-1',
  sessionKey: 'agent:main:main',
  tool: 'read',
  args: { path: 'notes.txt' },
  ts: 1,
  source: 'session.tool',
};

describe('formatRecord', () => {
  it('formats a tool call on one line', () => {
    assert.equal(
      formatRecord(call),
      'tool call read id=call_x session=agent:main:main args={"path":"notes.txt"}',
    );
  });

  it('truncates long arguments and masks secret-looking keys', () => {
    const line = formatRecord({
      ...call,
      args: { command: 'x'.repeat(500), api_key: 'sk-live-123', nested: { token: 't' } },
    });
    assert.ok(line.length < 300, `line too long: ${line.length}`);
    assert.ok(line.endsWith('…'));
    assert.doesNotMatch(line, /sk-live-123/);
    const short = formatRecord({
      ...call,
      args: { apiKey: 'sk-live-123', headers: { Authorization: 'Bearer abc' } },
    });
    assert.equal(short.includes('sk-live-123') || short.includes('Bearer abc'), false);
    assert.match(short, /\[REDACTED\]/);
  });

  it('quotes wire strings that could forge log lines', () => {
    const line = formatRecord({ ...call, tool: 'read\n2026 INFO fake', id: 'a b' });
    assert.equal(line.includes('\n'), false);
    assert.match(line, /^tool call "read\\n2026 INFO fake" id="a b"/);
  });

  it('formats a tool result with error flag, exit code and size', () => {
    const result: ToolResult = {
      kind: 'tool_result',
      id: 'call_x',
      runId: 'run-1',
      sessionKey: 'agent:main:main',
      tool: 'exec',
      isError: false,
      resultText: 'héllo',
      truncated: false,
      exitCode: 0,
      ts: 2,
      source: 'session.tool',
    };
    assert.equal(formatRecord(result), 'tool result exec id=call_x error=false exit=0 bytes=6');
    const { exitCode: _omit, ...noExit } = result;
    assert.equal(
      formatRecord({ ...noExit, isError: true, truncated: true }),
      'tool result exec id=call_x error=true bytes=6 truncated=true',
    );
  });

  it('formats an approval request with its quoted command', () => {
    const approval: ApprovalRequest = {
      kind: 'approval_request',
      id: 'appr-1',
      approvalKind: 'exec',
      command: 'rm -rf "/tmp/x"',
      commandVariants: ['rm -rf "/tmp/x"'],
      sessionKey: 'agent:main:main',
      allowedDecisions: ['allow-once', 'allow-always', 'deny'],
      failClosed: false,
    };
    assert.equal(
      formatRecord(approval),
      'approval requested id=appr-1 session=agent:main:main command="rm -rf \\"/tmp/x\\""',
    );
  });
});
