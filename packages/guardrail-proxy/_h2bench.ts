import { performance } from 'node:perf_hooks';
import { recordedStream, runGuard, engine, laneCtx } from './test/stream-fixtures.ts';
const prose = 'The deployment finished without errors and the logs look clean, see the dashboard for more. ';
let text = ''; while (text.length < 100 * 1024) text += prose;
const parts = []; for (let i = 0; i < text.length; i += 5) parts.push({ text: text.slice(i, i + 5) });
const input = recordedStream('openai-chat', parts);
for (let i = 0; i < 30; i++) runGuard(input, { format: 'openai-chat', holdbackChars: 256 });
// scanner alone
const t0 = performance.now();
for (let k = 0; k < 5; k++) { const s = engine.streamScanner(laneCtx('proxy_completion','action')); for (const p of parts) { s.push(p.text); s.flush(); } s.finish(); }
console.log('scanner µs/frame', ((performance.now() - t0) * 1000 / (5 * parts.length)).toFixed(2));
