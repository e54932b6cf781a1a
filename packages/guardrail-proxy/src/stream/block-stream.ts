// Native SSE renderings of a block (spec 30 §B5 streaming column): the whole synthetic stream for a request blocked
// before any upstream call, and the pieces the adapters reuse to end a stream cut midway (§B6.5).
import type { BlockInfo, WireFormat } from './types.ts';

/** Renders one SSE frame with an optional `event` line. */
export function sseFrame(data: unknown, event?: string): string {
  const json = typeof data === 'string' ? data : JSON.stringify(data);
  return event ? `event: ${event}\ndata: ${json}\n\n` : `data: ${json}\n\n`;
}

/** The `defenseclaw` body flag of a block (§B5). */
export function blockFlag(block: BlockInfo): Record<string, unknown> {
  return {
    blocked: true,
    block_id: block.blockId,
    request_id: block.requestId,
    rule_ids: block.ruleIds,
    reason: block.reason,
  };
}

/** The Chat Completions finish reason of a block. */
export function chatFinishReason(block: BlockInfo): string {
  return block.compat === 'lenient' ? 'stop' : 'content_filter';
}

/** The Anthropic stop reason of a block. */
export function anthropicStopReason(block: BlockInfo): string {
  return block.compat === 'lenient' ? 'end_turn' : 'refusal';
}

/** Zero Responses usage (no usage is invented on a block). */
export function zeroResponsesUsage(): Record<string, unknown> {
  return {
    input_tokens: 0,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: 0,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: 0,
  };
}

/** The Responses message item carrying the block text. */
export function responsesBlockItem(id: string, text: string, status: string): Record<string, unknown> {
  return {
    id,
    type: 'message',
    status,
    role: 'assistant',
    content: status === 'in_progress' ? [] : [{ type: 'output_text', text, annotations: [] }],
  };
}

/**
 * Renders the Responses events that add a message item with the block text at `outputIndex`, numbering events from
 * `seq`; returns the frames and the next sequence number.
 */
export function responsesBlockItemEvents(
  itemId: string,
  outputIndex: number,
  text: string,
  seq: number,
): { frames: string; seq: number } {
  let out = '';
  const ev = (type: string, body: Record<string, unknown>) => {
    out += sseFrame({ type, ...body, sequence_number: seq++ }, type);
  };
  const part = { type: 'output_text', text: '', annotations: [] };
  ev('response.output_item.added', {
    output_index: outputIndex,
    item: responsesBlockItem(itemId, text, 'in_progress'),
  });
  ev('response.content_part.added', { item_id: itemId, output_index: outputIndex, content_index: 0, part });
  ev('response.output_text.delta', {
    item_id: itemId,
    output_index: outputIndex,
    content_index: 0,
    delta: text,
    logprobs: [],
  });
  ev('response.output_text.done', {
    item_id: itemId,
    output_index: outputIndex,
    content_index: 0,
    text,
    logprobs: [],
  });
  ev('response.content_part.done', {
    item_id: itemId,
    output_index: outputIndex,
    content_index: 0,
    part: { ...part, text },
  });
  ev('response.output_item.done', {
    output_index: outputIndex,
    item: responsesBlockItem(itemId, text, 'completed'),
  });
  return { frames: out, seq };
}

/** The terminal Responses event of a block: `response.incomplete` (native) or `response.completed` (lenient). */
export function responsesTerminal(block: BlockInfo, response: Record<string, unknown>, seq: number): string {
  const native = block.compat !== 'lenient';
  const type = native ? 'response.incomplete' : 'response.completed';
  const body = {
    ...response,
    status: native ? 'incomplete' : 'completed',
    incomplete_details: native ? { reason: 'content_filter' } : null,
    defenseclaw: blockFlag(block),
  };
  return sseFrame({ type, response: body, sequence_number: seq }, type);
}

/** Renders a complete native SSE stream answering a request blocked before any upstream call (§B5). */
export function synthesizeBlockStream(format: WireFormat, block: BlockInfo): string {
  const now = Math.floor(Date.now() / 1000);
  switch (format) {
    case 'openai-chat': {
      const base = {
        id: `chatcmpl-${block.blockId}`,
        object: 'chat.completion.chunk',
        created: now,
        model: block.model,
      };
      return (
        sseFrame({
          ...base,
          choices: [
            { index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null },
          ],
        }) +
        sseFrame({
          ...base,
          choices: [{ index: 0, delta: { content: block.text }, logprobs: null, finish_reason: null }],
        }) +
        sseFrame({
          ...base,
          choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: chatFinishReason(block) }],
          defenseclaw: blockFlag(block),
        }) +
        'data: [DONE]\n\n'
      );
    }
    case 'anthropic-messages':
      return (
        sseFrame(
          {
            type: 'message_start',
            message: {
              id: `msg_${block.blockId}`,
              type: 'message',
              role: 'assistant',
              model: block.model,
              content: [],
              stop_reason: null,
              stop_sequence: null,
              usage: { input_tokens: 0, output_tokens: 0 },
            },
          },
          'message_start',
        ) + anthropicBlockTail(block, 0, 0)
      );
    case 'openai-responses': {
      const response = responsesBase(`resp_${block.blockId}`, block.model, now);
      let seq = 0;
      let out = sseFrame({ type: 'response.created', response, sequence_number: seq++ }, 'response.created');
      out += sseFrame(
        { type: 'response.in_progress', response, sequence_number: seq++ },
        'response.in_progress',
      );
      const itemId = `msg_${block.blockId}`;
      const item = responsesBlockItemEvents(itemId, 0, block.text, seq);
      out += item.frames;
      out += responsesTerminal(
        block,
        {
          ...response,
          output: [responsesBlockItem(itemId, block.text, 'completed')],
          usage: zeroResponsesUsage(),
        },
        item.seq,
      );
      return out;
    }
  }
}

/** A minimal in-progress Responses object. */
export function responsesBase(id: string, model: string, createdAt: number): Record<string, unknown> {
  return {
    id,
    object: 'response',
    created_at: createdAt,
    status: 'in_progress',
    error: null,
    incomplete_details: null,
    model,
    output: [],
    parallel_tool_calls: true,
    tool_choice: 'auto',
    tools: [],
    usage: null,
  };
}

/** The Anthropic events after `message_start`: a text block at `index` with the block text, then the stop. */
export function anthropicBlockTail(block: BlockInfo, index: number, outputTokens: number): string {
  return (
    sseFrame(
      { type: 'content_block_start', index, content_block: { type: 'text', text: '' } },
      'content_block_start',
    ) +
    sseFrame(
      { type: 'content_block_delta', index, delta: { type: 'text_delta', text: block.text } },
      'content_block_delta',
    ) +
    sseFrame({ type: 'content_block_stop', index }, 'content_block_stop') +
    sseFrame(
      {
        type: 'message_delta',
        delta: { stop_reason: anthropicStopReason(block), stop_sequence: null },
        usage: { output_tokens: outputTokens },
        defenseclaw: blockFlag(block),
      },
      'message_delta',
    ) +
    sseFrame({ type: 'message_stop' }, 'message_stop')
  );
}
