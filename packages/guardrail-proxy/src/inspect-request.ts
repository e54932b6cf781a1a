import { hash } from 'node:crypto';
import type { EvalContext, PromptMessage, Provenance, Verdict } from '@defenseclaw/policy';
import { BLOCK_REF_PATTERN } from './_ids.ts';
import { applyFailMode, type FailModeResult, type ProxyEngine } from './judge.ts';
import type { RequestBody } from './request-body.ts';
import type { BlockRefEntry, SeenEntry, TtlLru } from './seen-cache.ts';
import type { WireFormat } from './stream/types.ts';

// Request-side inspection (spec 30 §B3): map each format's messages to prompt messages with provenance, scan only
// the messages new to the proxy (seen-cache), and keep blocking a message until the block's reference comes back in
// a later assistant turn (re-enforcement).

/** One message of a request, mapped (every role, scanned or not). */
export type MappedMessage = PromptMessage & {
  /** Block references found in an assistant turn. */
  refs?: string[];
};

/** A request's messages with provenance, plus what could not be scanned. */
export type MappedRequest = {
  messages: MappedMessage[];
  /** Non-text parts (images, audio, files by id) recorded as unscanned. */
  unscanned: number;
};

/** Provenances whose messages are scanned (system and assistant turns are not, spec 30 §A2.2). */
const SCANNED: ReadonlySet<Provenance> = new Set(['user', 'external_user', 'tool_output', 'retrieved']);

/** Maps a validated request body to prompt messages with provenance. */
export function mapRequest(format: WireFormat, body: RequestBody): MappedRequest {
  const out = new Mapper();
  if (format === 'openai-chat') mapChat(out, body);
  else if (format === 'anthropic-messages') mapMessages(out, body);
  else mapResponses(out, body);
  return { messages: out.messages, unscanned: out.unscanned };
}

/** What request-side inspection found. */
export type PromptInspection = {
  /** The verdict over the scanned messages (undefined when nothing needed a scan). */
  verdict: Verdict | undefined;
  /** A fail-open the caller must count, when the scan failed and the lane fails open. */
  failOpen?: FailModeResult['failOpen'];
  /** Generation-independent hashes of the messages whose own verdict blocks (what a block reference covers). */
  blockingHashes: string[];
  total: number;
  scanned: number;
  cacheHits: number;
  unscanned: number;
  /** Messages whose earlier block was acknowledged and is now recorded as already enforced. */
  acknowledged: number;
  scanMs: number;
};

/** The state request inspection reads and updates. */
export type PromptInspectionState = {
  engine: ProxyEngine;
  seen: TtlLru<SeenEntry>;
  blockRefs: TtlLru<BlockRefEntry>;
  failMode: 'closed' | 'open';
};

/** Scans the messages of a request that the proxy has not judged yet, applying re-enforcement and the fail mode. */
export async function inspectPrompt(
  state: PromptInspectionState,
  mapped: MappedRequest,
  ctx: EvalContext,
  model: string,
): Promise<PromptInspection> {
  const t0 = performance.now();
  const gen = state.engine.generation;
  const genTag = `${gen.id}:${gen.digest}`;
  const action = ctx.mode === 'action';
  // Which block references later assistant turns carry, by position.
  const refsAfter = refsByPosition(mapped.messages);
  const toScan: Candidate[] = [];
  const toAck: Candidate[] = [];
  let total = 0;
  let cacheHits = 0;
  for (let i = 0; i < mapped.messages.length; i++) {
    const m = mapped.messages[i]!;
    if (!SCANNED.has(m.provenance) || m.text === '') continue;
    total++;
    const contentHash = hashOf([m.provenance, m.role, m.text]);
    // SHA-256 of (generation, content hash): unique per (generation, provenance, role, text) without a second pass
    // over the text.
    const key = hashOf([genTag, contentHash]);
    const entry = state.seen.get(key);
    const cand: Candidate = { message: m, key, contentHash };
    if (!entry) {
      if (action && isAcknowledged(state.blockRefs, refsAfter[i + 1] ?? EMPTY, contentHash)) toAck.push(cand);
      else toScan.push(cand);
    } else if (action && entry.rawAction === 'block' && !entry.acknowledged) {
      if (isAcknowledged(state.blockRefs, refsAfter[i + 1] ?? EMPTY, contentHash)) toAck.push(cand);
      else toScan.push(cand); // re-enforcement: scanned again so the exact verdict blocks again
    } else cacheHits++;
  }

  let verdict: Verdict | undefined;
  let failOpen: FailModeResult['failOpen'];
  const blockingHashes: string[] = [];
  if (toScan.length > 0) {
    const raw = await evaluatePrompt(state.engine, toScan, ctx, model);
    const applied = applyFailMode(raw, state.failMode, 'request');
    verdict = applied.verdict;
    failOpen = applied.failOpen;
    if (!raw.error) rememberScanned(state, toScan, raw, ctx, model, blockingHashes);
    else if (applied.verdict.rawAction === 'block')
      for (const c of toScan) blockingHashes.push(c.contentHash);
  }
  if (toAck.length > 0) {
    const acked = await evaluatePrompt(state.engine, toAck, ctx, model);
    for (const c of toAck) state.seen.set(c.key, { rawAction: 'block', acknowledged: true });
    verdict = mergeAcknowledged(verdict, acked);
  }
  const out: PromptInspection = {
    verdict,
    blockingHashes,
    total,
    scanned: toScan.length + toAck.length,
    cacheHits,
    unscanned: mapped.unscanned,
    acknowledged: toAck.length,
    scanMs: performance.now() - t0,
  };
  if (failOpen) out.failOpen = failOpen;
  return out;
}

/** Returns a generation-independent hash of a prompt message, as block references record them. */
export function contentHashOf(m: Pick<PromptMessage, 'provenance' | 'role' | 'text'>): string {
  return hashOf([m.provenance, m.role, m.text]);
}

// --- internal ---

type Candidate = { message: MappedMessage; key: string; contentHash: string };

const EMPTY: ReadonlySet<string> = new Set();

function hashOf(parts: readonly string[]): string {
  // Length-prefixed parts, hashed in one call (one-shot hashing costs a fraction of a streaming Hash object).
  let joined = '';
  for (const p of parts) joined += `${p.length}:${p}`;
  return hash('sha256', joined, 'hex');
}

/** For each position i, the set of references carried by assistant turns at positions ≥ i. */
function refsByPosition(messages: readonly MappedMessage[]): ReadonlySet<string>[] {
  const out: ReadonlySet<string>[] = new Array(messages.length + 1);
  let acc: Set<string> | undefined;
  out[messages.length] = EMPTY;
  for (let i = messages.length - 1; i >= 0; i--) {
    const refs = messages[i]!.refs;
    if (refs && refs.length > 0) {
      acc = new Set([...(acc ?? []), ...refs]);
    }
    out[i] = acc ?? EMPTY;
  }
  return out;
}

function isAcknowledged(
  blockRefs: TtlLru<BlockRefEntry>,
  refs: ReadonlySet<string>,
  contentHash: string,
): boolean {
  for (const ref of refs) {
    if (blockRefs.get(ref)?.covered.has(contentHash)) return true;
  }
  return false;
}

async function evaluatePrompt(
  engine: ProxyEngine,
  cands: readonly Candidate[],
  ctx: EvalContext,
  model: string,
): Promise<Verdict> {
  const messages: PromptMessage[] = cands.map((c, index) => {
    const m: PromptMessage = {
      index,
      role: c.message.role,
      provenance: c.message.provenance,
      text: c.message.text,
    };
    if (c.message.toolName !== undefined) m.toolName = c.message.toolName;
    return m;
  });
  const subject = { kind: 'prompt' as const, messages, model };
  const lctx: EvalContext = { ...ctx, lane: 'proxy_prompt' };
  let size = 0;
  for (const m of messages) size += m.text.length;
  if (size > 1024 * 1024 && engine.evaluateYielding) return engine.evaluateYielding(subject, lctx);
  return engine.evaluate(subject, lctx);
}

/** Caches each scanned message with its own raw action; blocking ones are what a block reference covers. */
function rememberScanned(
  state: PromptInspectionState,
  cands: readonly Candidate[],
  verdict: Verdict,
  ctx: EvalContext,
  model: string,
  blockingHashes: string[],
): void {
  if (verdict.rawAction !== 'block') {
    // Nothing blocks, so no single message does (the per-message raw actions combine by maximum).
    for (const c of cands)
      state.seen.set(c.key, {
        rawAction: verdict.rawAction === 'allow' ? 'allow' : 'alert',
        acknowledged: false,
      });
    return;
  }
  const flagged = new Set<number>();
  for (const f of verdict.findings) {
    if (f.evidence.location.messageIndex !== undefined) flagged.add(f.evidence.location.messageIndex);
  }
  const single = flagged.size === 1 || cands.length === 1;
  for (let i = 0; i < cands.length; i++) {
    const c = cands[i]!;
    let raw: SeenEntry['rawAction'] = 'allow';
    if (flagged.has(i) || cands.length === 1) {
      // Rare path: judge a flagged message alone to learn its own raw action.
      raw = single
        ? 'block'
        : state.engine.evaluate(
            { kind: 'prompt', messages: [{ ...toPrompt(c.message), index: 0 }], model },
            { ...ctx, lane: 'proxy_prompt' },
          ).rawAction;
    }
    state.seen.set(c.key, { rawAction: raw, acknowledged: false });
    if (raw === 'block') blockingHashes.push(c.contentHash);
  }
}

function toPrompt(m: MappedMessage): PromptMessage {
  const p: PromptMessage = { index: m.index, role: m.role, provenance: m.provenance, text: m.text };
  if (m.toolName !== undefined) p.toolName = m.toolName;
  return p;
}

/** Folds the findings of acknowledged messages into the request verdict as already enforced alerts. */
function mergeAcknowledged(verdict: Verdict | undefined, acked: Verdict): Verdict {
  const findings = acked.findings.map((f) => ({ ...f, alreadyEnforced: true }));
  if (findings.length === 0) return verdict ?? acked;
  const base = verdict ?? {
    ...acked,
    findings: [],
    ruleIds: [],
    rawAction: 'allow' as const,
    action: 'allow' as const,
  };
  const rawAction = base.rawAction === 'allow' ? 'alert' : base.rawAction;
  const ruleIds = [...base.ruleIds];
  for (const id of acked.ruleIds) if (!ruleIds.includes(id)) ruleIds.push(id);
  const merged: Verdict = {
    ...base,
    rawAction,
    action: base.mode === 'action' ? rawAction : 'allow',
    findings: [...base.findings, ...findings].slice(0, 50),
    ruleIds,
    trace: [...base.trace, 'proxy:already-enforced'],
  };
  if (base.rawAction === 'allow') merged.reason = `alert: ${acked.ruleIds.slice(0, 5).join(', ')}`;
  return merged;
}

// --- mapping ---

const ENVELOPE_START =
  /^\s*(?:SECURITY NOTICE: The following content is from an EXTERNAL, UNTRUSTED source|<<<EXTERNAL_UNTRUSTED_CONTENT\b|(?:Conversation info|Sender|Untrusted context) \((?:untrusted )?metadata)/;

/** Whether a user message carries OpenClaw's untrusted-sender envelope (relayed from a channel or external source). */
export function isExternalEnvelope(text: string): boolean {
  return ENVELOPE_START.test(text) || text.includes('<<<EXTERNAL_UNTRUSTED_CONTENT');
}

class Mapper {
  readonly messages: MappedMessage[] = [];
  unscanned = 0;

  add(role: string, provenance: Provenance, text: string, toolName?: string): void {
    if (provenance === 'user' && isExternalEnvelope(text)) provenance = 'external_user';
    const m: MappedMessage = { index: this.messages.length, role, provenance, text };
    if (toolName !== undefined) m.toolName = toolName;
    if (provenance === 'assistant') {
      const refs = text.match(BLOCK_REF_PATTERN);
      if (refs) m.refs = [...new Set(refs)];
    }
    this.messages.push(m);
  }
}

function isObj(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function str(x: unknown): string | undefined {
  return typeof x === 'string' ? x : undefined;
}

/** Text of OpenAI chat content (string or parts); non-text parts are counted unscanned. */
function chatContentText(out: Mapper, content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  const texts: string[] = [];
  for (const part of content) {
    if (!isObj(part)) continue;
    const t = str(part.text) ?? str(part.refusal);
    if (t !== undefined) texts.push(t);
    else out.unscanned++;
  }
  return texts.join('\n');
}

function mapChat(out: Mapper, body: RequestBody): void {
  const messages = body.messages as Record<string, unknown>[];
  const toolNames = new Map<string, string>();
  for (const m of messages) {
    const role = String(m.role);
    switch (role) {
      case 'system':
      case 'developer':
        out.add(role, 'system', chatContentText(out, m.content));
        break;
      case 'user':
        out.add(role, 'user', chatContentText(out, m.content));
        break;
      case 'assistant': {
        if (Array.isArray(m.tool_calls)) {
          for (const tc of m.tool_calls) {
            if (
              isObj(tc) &&
              typeof tc.id === 'string' &&
              isObj(tc.function) &&
              typeof tc.function.name === 'string'
            )
              toolNames.set(tc.id, tc.function.name);
          }
        }
        out.add(role, 'assistant', chatContentText(out, m.content));
        break;
      }
      case 'tool':
        out.add(role, 'tool_output', chatContentText(out, m.content), toolNames.get(String(m.tool_call_id)));
        break;
      case 'function':
        out.add(role, 'tool_output', chatContentText(out, m.content), str(m.name));
        break;
      default:
        // An unknown role is untrusted content: full severity.
        out.add(role, 'retrieved', chatContentText(out, m.content));
    }
  }
}

/** Text of Anthropic content given as a string or as blocks of `text` (others counted unscanned). */
function anthropicText(out: Mapper, content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  const texts: string[] = [];
  for (const b of content) {
    if (!isObj(b)) continue;
    if (b.type === 'text' && typeof b.text === 'string') texts.push(b.text);
    else if (b.type === 'search_result') texts.push(searchResultText(out, b));
    else out.unscanned++;
  }
  return texts.join('\n');
}

function searchResultText(out: Mapper, b: Record<string, unknown>): string {
  const parts = [str(b.title) ?? '', anthropicText(out, b.content)];
  return parts.filter((p) => p !== '').join('\n');
}

function documentText(out: Mapper, b: Record<string, unknown>): string {
  const src = b.source;
  const texts: string[] = [];
  if (typeof b.title === 'string') texts.push(b.title);
  if (typeof b.context === 'string') texts.push(b.context);
  if (isObj(src)) {
    if (src.type === 'text' && typeof src.data === 'string') texts.push(src.data);
    else if (src.type === 'content') texts.push(anthropicText(out, src.content));
    else out.unscanned++;
  } else out.unscanned++;
  return texts.join('\n');
}

function mapMessages(out: Mapper, body: RequestBody): void {
  const system = body.system;
  if (typeof system === 'string') out.add('system', 'system', system);
  else if (Array.isArray(system)) out.add('system', 'system', anthropicText(out, system));
  const toolNames = new Map<string, string>();
  for (const m of body.messages as Record<string, unknown>[]) {
    const role = String(m.role);
    const content = m.content;
    if (role === 'assistant') {
      const texts: string[] = [];
      if (typeof content === 'string') texts.push(content);
      else if (Array.isArray(content)) {
        for (const b of content) {
          if (!isObj(b)) continue;
          if (b.type === 'text' && typeof b.text === 'string') texts.push(b.text);
          else if (b.type === 'tool_use' && typeof b.id === 'string' && typeof b.name === 'string')
            toolNames.set(b.id, b.name);
        }
      }
      out.add(role, 'assistant', texts.join('\n'));
      continue;
    }
    if (typeof content === 'string') {
      out.add(role, role === 'user' ? 'user' : 'retrieved', content);
      continue;
    }
    if (!Array.isArray(content)) continue;
    const userTexts: string[] = [];
    for (const b of content) {
      if (!isObj(b)) continue;
      switch (b.type) {
        case 'text':
          if (typeof b.text === 'string') userTexts.push(b.text);
          break;
        case 'tool_result':
          out.add('tool', 'tool_output', anthropicText(out, b.content), toolNames.get(String(b.tool_use_id)));
          break;
        case 'document':
          out.add('document', 'retrieved', documentText(out, b));
          break;
        case 'search_result':
          out.add('search_result', 'retrieved', searchResultText(out, b));
          break;
        default:
          out.unscanned++;
      }
    }
    if (userTexts.length > 0) out.add(role, role === 'user' ? 'user' : 'retrieved', userTexts.join('\n'));
  }
}

/** Text of Responses content: a string or parts of `input_text`/`output_text` (others counted unscanned). */
function responsesText(out: Mapper, content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  const texts: string[] = [];
  for (const p of content) {
    if (!isObj(p)) continue;
    if (typeof p.text === 'string') texts.push(p.text);
    else if (typeof p.refusal === 'string') texts.push(p.refusal);
    else out.unscanned++;
  }
  return texts.join('\n');
}

function mapResponses(out: Mapper, body: RequestBody): void {
  if (typeof body.instructions === 'string') out.add('system', 'system', body.instructions);
  const input = body.input;
  if (typeof input === 'string') {
    out.add('user', 'user', input);
    return;
  }
  const toolNames = new Map<string, string>();
  for (const item of input as unknown[]) {
    if (!isObj(item)) continue;
    const type = item.type ?? (typeof item.role === 'string' ? 'message' : undefined);
    switch (type) {
      case 'message': {
        const role = String(item.role);
        const text = responsesText(out, item.content);
        if (role === 'system' || role === 'developer') out.add(role, 'system', text);
        else if (role === 'assistant') out.add(role, 'assistant', text);
        else if (role === 'user') out.add(role, 'user', text);
        else out.add(role, 'retrieved', text);
        break;
      }
      case 'function_call':
      case 'custom_tool_call':
        if (typeof item.call_id === 'string' && typeof item.name === 'string')
          toolNames.set(item.call_id, item.name);
        break;
      case 'function_call_output':
      case 'custom_tool_call_output':
        out.add('tool', 'tool_output', responsesText(out, item.output), toolNames.get(String(item.call_id)));
        break;
      case 'mcp_call':
        if (typeof item.output === 'string') out.add('tool', 'tool_output', item.output, str(item.name));
        break;
      case 'file_search_call': {
        const results = Array.isArray(item.results) ? item.results : [];
        const texts = results.map((r) => (isObj(r) ? (str(r.text) ?? '') : '')).filter((t) => t !== '');
        if (texts.length > 0) out.add('file_search', 'retrieved', texts.join('\n'));
        break;
      }
      case 'reasoning':
      case 'web_search_call':
        break;
      default:
        out.unscanned++;
    }
  }
}
