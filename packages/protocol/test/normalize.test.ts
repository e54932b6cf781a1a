import assert from 'node:assert/strict';
import { describe, it, mock } from 'node:test';
import {
  type ApprovalRequest,
  createNormalizer,
  DEFAULT_MAX_RESULT_BYTES,
  extractResultText,
  type Logger,
  type ToolCall,
  type ToolResult,
} from '../src/index.ts';

const utf8Bytes = (s: string) => Buffer.byteLength(s, 'utf8');

function toolEvent(
  phase: string,
  extra: Record<string, unknown> = {},
  toolCallId = 'call_1',
  runId = 'run-1',
) {
  return {
    runId,
    sessionKey: 'agent:main:s',
    agentId: 'main',
    stream: 'tool',
    seq: 1,
    ts: 1000,
    data: { phase, name: 'exec', toolCallId, ...extra },
  };
}

function approval(request: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return { approvalKind: 'exec', id: 'appr-1', request, createdAtMs: 1, expiresAtMs: 2, ...extra };
}

describe('extractResultText', () => {
  it('uses a string result as is', () => {
    assert.deepEqual(extractResultText('plain'), { text: 'plain', truncated: false });
  });

  it('joins the text blocks of content[] with newlines and skips other blocks', () => {
    const result = {
      content: [
        { type: 'text', text: 'a' },
        { type: 'image', data: 'xx' },
        { type: 'text', text: 'b' },
      ],
      details: { exitCode: 0 },
    };
    assert.deepEqual(extractResultText(result), { text: 'a\nb', truncated: false });
  });

  it('JSON-encodes anything else and yields "" for null/undefined', () => {
    assert.equal(extractResultText({ ok: true }).text, '{"ok":true}');
    assert.equal(extractResultText([1, 2]).text, '[1,2]');
    assert.equal(extractResultText(42).text, '42');
    assert.equal(extractResultText(undefined).text, '');
    assert.equal(extractResultText(null).text, '');
  });

  it('caps at 256 KiB by default and flags truncation', () => {
    const big = extractResultText('a'.repeat(DEFAULT_MAX_RESULT_BYTES + 10));
    assert.equal(big.truncated, true);
    assert.equal(utf8Bytes(big.text), DEFAULT_MAX_RESULT_BYTES);
    const exact = extractResultText('a'.repeat(DEFAULT_MAX_RESULT_BYTES));
    assert.equal(exact.truncated, false);
  });

  it('counts UTF-8 bytes and cuts on a character boundary', () => {
    const euros = extractResultText('€'.repeat(100_000)); // 3 bytes each
    assert.equal(euros.truncated, true);
    assert.equal(euros.text.length, Math.floor(DEFAULT_MAX_RESULT_BYTES / 3));
    assert.ok(utf8Bytes(euros.text) <= DEFAULT_MAX_RESULT_BYTES);
    const emoji = extractResultText('😀😀😀😀', 10); // 4 bytes each, surrogate pairs
    assert.deepEqual(emoji, { text: '😀😀', truncated: true });
    assert.equal(extractResultText('ab€', 4).text, 'ab');
  });
});

describe('createNormalizer', () => {
  it('turns a start into a ToolCall and a result into a ToolResult', () => {
    const n = createNormalizer();
    const call = n.push('session.tool', toolEvent('start', { args: { command: 'ls -la' } })) as ToolCall;
    assert.deepEqual(call, {
      kind: 'tool_call',
      id: 'call_1',
      runId: 'run-1',
      sessionKey: 'agent:main:s',
      agentId: 'main',
      tool: 'exec',
      args: { command: 'ls -la' },
      ts: 1000,
      source: 'session.tool',
    });
    const result = n.push(
      'session.tool',
      toolEvent('result', {
        isError: false,
        meta: 'list files',
        result: { content: [{ type: 'text', text: 'total 0' }], details: { exitCode: 2 } },
      }),
    ) as ToolResult;
    assert.deepEqual(result, {
      kind: 'tool_result',
      id: 'call_1',
      runId: 'run-1',
      sessionKey: 'agent:main:s',
      agentId: 'main',
      tool: 'exec',
      isError: false,
      resultText: 'total 0',
      truncated: false,
      exitCode: 2,
      meta: 'list files',
      ts: 1000,
      source: 'session.tool',
    });
    assert.deepEqual(n.stats, {
      toolCalls: 1,
      toolResults: 1,
      approvals: 0,
      updates: 0,
      unknownPhases: 0,
      duplicates: 0,
      invalid: 0,
    });
  });

  it('defaults args to {} and keeps non-object args visible', () => {
    const n = createNormalizer();
    assert.deepEqual((n.push('session.tool', toolEvent('start', {}, 'a')) as ToolCall).args, {});
    assert.deepEqual(
      (n.push('session.tool', toolEvent('start', { args: 'rm -rf /' }, 'b')) as ToolCall).args,
      {
        value: 'rm -rf /',
      },
    );
  });

  it('treats only isError === true as an error and omits a non-numeric exitCode', () => {
    const n = createNormalizer();
    const r = n.push(
      'session.tool',
      toolEvent('result', { isError: true, result: { details: { exitCode: null } } }),
    ) as ToolResult;
    assert.equal(r.isError, true);
    assert.equal('exitCode' in r, false);
    assert.equal('meta' in r, false);
  });

  it('applies maxResultBytes to resultText', () => {
    const n = createNormalizer({ maxResultBytes: 4 });
    const r = n.push('session.tool', toolEvent('result', { result: 'abcdefgh' })) as ToolResult;
    assert.deepEqual([r.resultText, r.truncated], ['abcd', true]);
  });

  it('produces nothing for update phases and counts them', () => {
    const n = createNormalizer();
    assert.equal(n.push('session.tool', toolEvent('update', { partialResult: { content: [] } })), undefined);
    assert.equal(n.stats.updates, 1);
  });

  it('counts and debug-logs unknown phases', () => {
    const debug = mock.fn();
    const logger: Logger = { debug, info: mock.fn(), warn: mock.fn(), error: mock.fn() };
    const n = createNormalizer({ logger });
    assert.equal(n.push('session.tool', toolEvent('end')), undefined);
    assert.equal(n.stats.unknownPhases, 1);
    assert.equal(debug.mock.callCount(), 1);
  });

  it('reads agent stream=tool with source agent and ignores other agent streams', () => {
    const n = createNormalizer();
    const call = n.push('agent', toolEvent('start', { args: {} })) as ToolCall;
    assert.equal(call.source, 'agent');
    assert.equal(n.push('agent', { ...toolEvent('start', {}, 'other'), stream: 'item' }), undefined);
    assert.equal(n.push('agent', { runId: 'r', stream: 'lifecycle', data: { phase: 'start' } }), undefined);
    assert.equal(n.stats.toolCalls, 1);
  });

  it('yields one record per phase when session.tool and agent report the same call', () => {
    const n = createNormalizer();
    const records = [
      n.push('session.tool', toolEvent('start')),
      n.push('agent', toolEvent('start')),
      n.push('agent', toolEvent('result', { result: 'x' })),
      n.push('session.tool', toolEvent('result', { result: 'x' })),
    ].filter(Boolean);
    assert.deepEqual(
      records.map((r) => r?.kind),
      ['tool_call', 'tool_result'],
    );
    assert.equal(n.stats.duplicates, 2);
  });

  it('dedupes on runId + toolCallId + phase with an LRU of dedupeSize entries', () => {
    const n = createNormalizer({ dedupeSize: 2 });
    const start = (id: string) => n.push('session.tool', toolEvent('start', {}, id));
    assert.ok(start('A'));
    assert.ok(start('B'));
    assert.ok(start('C')); // evicts A
    assert.equal(start('C'), undefined); // hit refreshes C; B is now the oldest
    assert.ok(start('A')); // A was evicted, so it is new again (evicts B)
    assert.equal(start('C'), undefined);
    assert.ok(start('B'));
    assert.ok(n.push('session.tool', toolEvent('start', {}, 'C', 'another-run')));
  });

  it('ignores hand-made tool_call / tool_result events and unrelated names', () => {
    const n = createNormalizer();
    const fake = { kind: 'tool_call', id: 'x', tool: 'exec', args: { command: 'id' }, ...toolEvent('start') };
    assert.equal(n.push('tool_call', fake), undefined);
    assert.equal(n.push('tool_result', fake), undefined);
    assert.equal(n.push('chat', fake), undefined);
    assert.deepEqual(Object.values(n.stats), [0, 0, 0, 0, 0, 0, 0]);
  });

  it('counts invalid tool payloads', () => {
    const n = createNormalizer();
    assert.equal(n.push('session.tool', { runId: 'r' }), undefined);
    assert.equal(n.push('session.tool', null), undefined);
    assert.equal(n.push('agent', { stream: 'tool', data: { phase: 'start' } }), undefined);
    assert.equal(n.stats.invalid, 3);
  });

  describe('approvals', () => {
    it('reads a gateway-host request (systemRunPlan null) and omits null fields', () => {
      const n = createNormalizer();
      const record = n.push(
        'exec.approval.requested',
        approval({
          command: 'curl x | bash',
          systemRunPlan: null,
          cwd: '/w',
          nodeId: null,
          host: 'gateway',
          security: 'allowlist',
          ask: 'on-miss',
          warningText: null,
          allowedDecisions: ['allow-once', 'deny'],
          agentId: 'main',
          resolvedPath: '/usr/bin/curl',
          sessionKey: 's',
          runId: 'r',
          toolCallId: 'c',
        }),
      );
      assert.deepEqual(record, {
        kind: 'approval_request',
        id: 'appr-1',
        approvalKind: 'exec',
        command: 'curl x | bash',
        commandVariants: ['curl x | bash'],
        allowedDecisions: ['allow-once', 'deny'],
        failClosed: false,
        cwd: '/w',
        host: 'gateway',
        agentId: 'main',
        sessionKey: 's',
        runId: 'r',
        toolCallId: 'c',
        security: 'allowlist',
        ask: 'on-miss',
        resolvedPath: '/usr/bin/curl',
        createdAtMs: 1,
        expiresAtMs: 2,
      } satisfies ApprovalRequest);
      assert.equal(n.stats.approvals, 1);
    });

    it('lists every distinct command candidate so a benign command cannot hide the plan', () => {
      const n = createNormalizer();
      const record = n.push(
        'exec.approval.requested',
        approval({
          command: 'ls',
          commandPreview: 'ls (preview)',
          systemRunPlan: {
            argv: ['bash', '-c', 'rm -rf /'],
            cwd: '/plan',
            commandText: 'bash -c "rm -rf /"',
            rawCommand: 'rm -rf /',
          },
        }),
      ) as ApprovalRequest;
      assert.equal(record.command, 'ls');
      assert.deepEqual(record.commandVariants, [
        'ls',
        'bash -c "rm -rf /"',
        'rm -rf /',
        'ls (preview)',
        'bash -c rm -rf /',
      ]);
      assert.deepEqual(record.argv, ['bash', '-c', 'rm -rf /']);
      assert.equal(record.cwd, '/plan');
      assert.equal(record.failClosed, false);
    });

    it('adds a differing request.commandArgv to the variants', () => {
      const n = createNormalizer();
      const record = n.push(
        'exec.approval.requested',
        approval({ command: 'ls', commandArgv: ['sh', '-c', 'id'], systemRunPlan: { argv: ['ls'] } }),
      ) as ApprovalRequest;
      assert.deepEqual(record.commandVariants, ['ls', 'sh -c id']);
      assert.deepEqual(record.argv, ['ls']);
    });

    it('falls back through plan, preview and commandArgv, and dedupes variants', () => {
      const n = createNormalizer();
      const fromPlan = n.push(
        'exec.approval.requested',
        approval({
          command: '  ',
          systemRunPlan: { commandText: 'echo hi', rawCommand: 'echo hi', argv: ['echo', 'hi'] },
        }),
      ) as ApprovalRequest;
      assert.equal(fromPlan.command, 'echo hi');
      assert.deepEqual(fromPlan.commandVariants, ['echo hi']);
      const fromArgv = n.push(
        'exec.approval.requested',
        approval({ commandArgv: ['id', '-u'] }),
      ) as ApprovalRequest;
      assert.equal(fromArgv.command, 'id -u');
      assert.deepEqual(fromArgv.argv, ['id', '-u']);
      assert.equal(fromArgv.failClosed, false);
    });

    it('flags an approval with no command and no argv as failClosed', () => {
      const n = createNormalizer();
      const record = n.push(
        'exec.approval.requested',
        approval({ systemRunPlan: null, cwd: '/w' }),
      ) as ApprovalRequest;
      assert.equal(record.command, '');
      assert.deepEqual(record.commandVariants, []);
      assert.equal(record.failClosed, true);
      const emptyArgv = n.push('exec.approval.requested', approval({ commandArgv: [] })) as ApprovalRequest;
      assert.equal(emptyArgv.failClosed, true);
    });

    it('defaults allowedDecisions to all three and drops unknown ones', () => {
      const n = createNormalizer();
      const all = n.push('exec.approval.requested', approval({ command: 'ls' })) as ApprovalRequest;
      assert.deepEqual(all.allowedDecisions, ['allow-once', 'allow-always', 'deny']);
      const some = n.push(
        'exec.approval.requested',
        approval({ command: 'ls', allowedDecisions: ['deny', 'deny-forever'] }),
      ) as ApprovalRequest;
      assert.deepEqual(some.allowedDecisions, ['deny']);
    });

    it('defaults approvalKind to exec', () => {
      const n = createNormalizer();
      const record = n.push(
        'exec.approval.requested',
        approval({ command: 'ls' }, { approvalKind: null }),
      ) as ApprovalRequest;
      assert.equal(record.approvalKind, 'exec');
    });

    it('surfaces an unreadable approval that still has an id as failClosed', () => {
      const n = createNormalizer();
      const record = n.push('exec.approval.requested', {
        id: 'appr-9',
        request: { command: 42 },
      }) as ApprovalRequest;
      assert.equal(record.id, 'appr-9');
      assert.equal(record.failClosed, true);
      assert.equal(n.stats.invalid, 1);
      assert.equal(n.push('exec.approval.requested', { request: {} }), undefined);
      assert.equal(n.stats.invalid, 2);
    });
  });
});
