// Temporary micro-costs of the proxy's per-request steps (in-process).
import { compilePolicy, createEngine, loadBundledPacks, toWire } from '@defenseclaw/policy';
import { uuidv7 } from '../../packages/guardrail-proxy/src/_ids.ts';
import { createMasterKeyCheck } from '../../packages/guardrail-proxy/src/auth.ts';
import { inspectPrompt, mapRequest } from '../../packages/guardrail-proxy/src/inspect-request.ts';
import { extractCompletion, judgeCompletion } from '../../packages/guardrail-proxy/src/inspect-response.ts';
import { parseRequestBody } from '../../packages/guardrail-proxy/src/request-body.ts';
import { createTtlLru } from '../../packages/guardrail-proxy/src/seen-cache.ts';

const compiled = compilePolicy({
  packs: loadBundledPacks(),
  config: { profile: 'default' },
  bundled: true,
  verifyBundledExamples: false,
});
if (!compiled.success) throw new Error('x');
const engine = createEngine(compiled.policy, { evidenceKey: new Uint8Array(32).fill(1) });
const PROMPT = [
  { role: 'system', content: 'You are a coding assistant working in the user repository. Be concise.' },
  {
    role: 'user',
    content:
      'Can you look at the failing test in packages/api and tell me why the pagination cursor is off by one? It started after the refactor last week; the alerts list returns the last row of the previous page again.',
  },
  {
    role: 'assistant',
    content: 'I will read the test file and the query builder first, then run the test to see the failure.',
  },
  {
    role: 'user',
    content:
      'The query uses WHERE id < ? ORDER BY id DESC LIMIT ?, and the cursor is built from the last row. Please check whether the cursor is encoded before or after the limit is applied, and suggest a fix with a test that pins the behaviour so it does not regress again. Keep the change small.',
  },
];
const bytes = Buffer.from(
  JSON.stringify({ model: 'bench/bench-model', stream: false, messages: PROMPT, max_tokens: 256 }),
);
const COMPLETION_TEXT =
  'Here is a summary of the repository layout. The src folder holds the TypeScript sources, split by feature; ' +
  'tests live next to them under test/, and the bench folder measures throughput and latency. To build, run the ' +
  'install step and then the typecheck; nothing is compiled ahead of time because the runtime loads sources ' +
  'through a loader. Configuration is read from config.yaml in the data directory, with environment overrides ' +
  'for secrets. The audit database keeps every verdict, and the REST API serves health and alerts on loopback. ' +
  'Let me know if you want me to open any of these files or run the test suite next.';
const resp = Buffer.from(
  JSON.stringify({
    id: 'x',
    object: 'chat.completion',
    created: 1,
    model: 'bench-model',
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: COMPLETION_TEXT, refusal: null },
        logprobs: null,
        finish_reason: 'stop',
      },
    ],
    usage: { prompt_tokens: 300, completion_tokens: 120, total_tokens: 420 },
  }),
);
const ctx = {
  lane: 'proxy_prompt' as const,
  mode: 'action' as const,
  nowMs: Date.now(),
  meta: { requestId: 'r' },
};
const seen = createTtlLru<any>({ capacity: 50000, ttlMs: 1e9 });
const blockRefs = createTtlLru<any>({ capacity: 50000, ttlMs: 1e9 });
const key = createMasterKeyCheck(`sk-dc-${'be'.repeat(32)}`);
const hdrs = { authorization: `Bearer sk-dc-${'be'.repeat(32)}` };
async function time(name: string, n: number, fn: () => unknown) {
  for (let i = 0; i < n / 10; i++) await fn();
  const t = performance.now();
  for (let i = 0; i < n; i++) await fn();
  console.log(name.padEnd(28), (((performance.now() - t) * 1000) / n).toFixed(2), 'µs');
}
await time('parseRequestBody', 20000, () => parseRequestBody('openai-chat', bytes));
const body = (parseRequestBody('openai-chat', bytes) as any).body;
await time('mapRequest', 20000, () => mapRequest('openai-chat', body));
const mapped = mapRequest('openai-chat', body);
await time('inspectPrompt (cached)', 20000, () =>
  inspectPrompt({ engine, seen, blockRefs, failMode: 'closed' }, mapped, ctx, 'm'),
);
await time('evaluate prompt (uncached)', 2000, () =>
  engine.evaluate(
    {
      kind: 'prompt',
      messages: mapped.messages.filter((m) => m.provenance === 'user').map((m, index) => ({ ...m, index })),
      model: 'm',
    },
    ctx,
  ),
);
await time('uuidv7', 50000, () => uuidv7(Date.now()));
await time('auth verify', 50000, () => key.verify(hdrs));
await time('JSON.parse response', 20000, () => JSON.parse(resp.toString('utf8')));
const json = JSON.parse(resp.toString('utf8'));
await time('extractCompletion', 20000, () => extractCompletion('openai-chat', json));
const comp = extractCompletion('openai-chat', json)!;
await time('judgeCompletion', 5000, () =>
  judgeCompletion(engine, comp, ctx, { completion: 'closed', toolCall: 'closed' }),
);
const v = judgeCompletion(engine, comp, ctx, { completion: 'closed', toolCall: 'closed' }).verdict;
await time('toWire(verdict)', 20000, () => toWire(v));
const sc = () => {
  const s = engine.streamScanner({ ...ctx, lane: 'proxy_completion' });
  return s;
};
await time('streamScanner create', 20000, sc);
await time('streamScanner 16x24 + finish', 5000, () => {
  const s = sc();
  for (let i = 0; i < 16; i++) s.push('lorem ipsum dolor sit a ');
  return s.finish();
});
