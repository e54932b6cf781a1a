import type { Verdict } from '@defenseclaw/policy';
import type { BlockInfo, WireFormat } from './stream/types.ts';

// Block answers (spec 30 §B5): HTTP 200 in the caller's own format, provider id prefixes kept, zero usage, the
// `defenseclaw` body flag, and stop reasons per `guardrail.block_compat`.

/** The default visible block text; `{reason}` is the verdict's explanation, `{ref}` the block id. */
export const DEFAULT_BLOCK_MESSAGE = '[DefenseClaw] Blocked: {reason}. Ref {ref}.';

/** Fills the block message template; a template without `{ref}` gets the reference appended (re-enforcement needs it). */
export function renderBlockText(template: string, reason: string, blockId: string): string {
  const trimmed = reason.replace(/\.\s*$/, '');
  let text = template.replaceAll('{reason}', trimmed).replaceAll('{ref}', blockId);
  if (!template.includes('{ref}')) text = `${text} Ref ${blockId}.`;
  return text;
}

/** Options of `makeBlockInfo`. */
export type MakeBlockOptions = {
  blockId: string;
  requestId: string;
  template: string;
  compat: 'native' | 'lenient';
  model: string;
};

/** Renders the block answer data for a blocking verdict. */
export function makeBlockInfo(verdict: Verdict, options: MakeBlockOptions): BlockInfo {
  const ruleIds = blockingRuleIds(verdict);
  return {
    blockId: options.blockId,
    requestId: options.requestId,
    ruleIds,
    reason: verdict.explanation,
    text: renderBlockText(options.template, verdict.explanation, options.blockId),
    compat: options.compat,
    model: options.model,
  };
}

/** The `defenseclaw` object every block body carries. */
export function blockFlag(block: BlockInfo): Record<string, unknown> {
  return {
    blocked: true,
    block_id: block.blockId,
    request_id: block.requestId,
    rule_ids: [...block.ruleIds],
    reason: block.reason,
  };
}

/** Renders the non-streaming block body in the caller's format. */
export function blockBody(format: WireFormat, block: BlockInfo, nowMs: number): string {
  const created = Math.floor(nowMs / 1000);
  const native = block.compat === 'native';
  if (format === 'openai-chat') {
    return JSON.stringify({
      id: `chatcmpl-${block.blockId}`,
      object: 'chat.completion',
      created,
      model: block.model,
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: block.text, refusal: null },
          logprobs: null,
          finish_reason: native ? 'content_filter' : 'stop',
        },
      ],
      usage: { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 },
      system_fingerprint: null,
      defenseclaw: blockFlag(block),
    });
  }
  if (format === 'anthropic-messages') {
    return JSON.stringify({
      id: `msg_${block.blockId}`,
      type: 'message',
      role: 'assistant',
      model: block.model,
      content: [{ type: 'text', text: block.text }],
      stop_reason: native ? 'refusal' : 'end_turn',
      stop_sequence: null,
      usage: { input_tokens: 0, output_tokens: 0 },
      defenseclaw: blockFlag(block),
    });
  }
  return JSON.stringify({
    id: `resp_${block.blockId}`,
    object: 'response',
    created_at: created,
    status: native ? 'incomplete' : 'completed',
    incomplete_details: native ? { reason: 'content_filter' } : null,
    error: null,
    instructions: null,
    metadata: {},
    model: block.model,
    output: [
      {
        type: 'message',
        id: `msg_${block.blockId}`,
        status: 'completed',
        role: 'assistant',
        content: [{ type: 'output_text', text: block.text, annotations: [] }],
      },
    ],
    parallel_tool_calls: true,
    temperature: null,
    tool_choice: 'auto',
    tools: [],
    top_p: null,
    usage: {
      input_tokens: 0,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: 0,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: 0,
    },
    defenseclaw: blockFlag(block),
  });
}

/** The rule ids of the findings that drive a block (every finding id when none is singled out). */
export function blockingRuleIds(verdict: Verdict): string[] {
  const driving = verdict.findings.filter((f) => !f.detectionOnly && !f.alreadyEnforced).map((f) => f.ruleId);
  const ids = driving.length > 0 ? driving : verdict.ruleIds;
  return [...new Set(ids)];
}
