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
  it('formats a tool call on one line with argument names and size, never values', () => {
    assert.equal(formatRecord(call), 'tool call read id=call_x session=agent:main:main args=[path] bytes=20');
    const line = formatRecord({
      ...call,
      args: {
        command: `cat ~/.ssh/id_rsa ${'x'.repeat(500)}`,
        api_key: 'sk-live-123',
        nested: { token: 't' },
      },
    });
    assert.match(line, /args=\[command,api_key,nested\] bytes=\d+$/);
    assert.doesNotMatch(line, /sk-live-123|id_rsa|xxxx/);
  });

  it('lists at most eight argument names', () => {
    const args = Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`a${i}`, i]));
    assert.match(formatRecord({ ...call, args }), /args=\[a0,a1,a2,a3,a4,a5,a6,a7,…\]/);
  });

  it('quotes wire strings that could forge log lines', () => {
    const line = formatRecord({ ...call, tool: 'read\n2026 INFO fake', id: 'a b', args: { 'x\ny': 1 } });
    assert.equal(line.includes('\n'), false);
    assert.match(line, /^tool call "read\\n2026 INFO fake" id="a b"/);
  });

  it('formats a tool result with error flag, exit code and size, never its text', () => {
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

  it('formats an approval request with the command size, never the command', () => {
    const approval: ApprovalRequest = {
      kind: 'approval_request',
      id: 'appr-1',
      approvalKind: 'exec',
      command: 'rm -rf "/tmp/x"',
      commandVariants: ['rm -rf "/tmp/x"'],
      sessionKey: 'agent:main:main',
      toolCallId: 'call_9',
      allowedDecisions: ['allow-once', 'allow-always', 'deny'],
      failClosed: false,
    };
    assert.equal(
      formatRecord(approval),
      'approval requested id=appr-1 session=agent:main:main call=call_9 command_chars=15',
    );
  });
});
