// The four inspect routes' bodies (spec 20 §6.1), validated with valibot and mapped to policy subjects (spec 30
// §A2.1), plus the redacted audit event each one records.
import type { EventInput } from '@defenseclaw/audit-store';
import {
  type EvalMeta,
  type Finding,
  type Lane,
  PROVENANCES,
  type PromptMessage,
  type Provenance,
  type Subject,
} from '@defenseclaw/policy';
import * as v from 'valibot';
import { clip, cut, oneLine, redactArgs, redactText, secretSpans } from './_redact.ts';

/** The most characters of one text kept in a stored payload (the engine always scans everything). */
export const PAYLOAD_TEXT_CHARS = 8192;

/** What a validated inspect body becomes: the subject, its context, and the event to record. */
export type InspectInput = {
  subject: Subject;
  meta: EvalMeta;
  approvalSurface?: string;
  /** The event row (without `ts` and `requestId`), built after evaluation so matched secrets can be cut. */
  event(findings: readonly Finding[]): Omit<EventInput, 'ts'>;
};

/** One inspect route: its lane, body schema and mapping. */
export type InspectRoute = {
  path: string;
  lane: Lane;
  /** The audit event kind. */
  kind: string;
  /** The lane noun used in fail-closed explanations. */
  noun: string;
  schema: v.GenericSchema;
  build(body: never): InspectInput;
};

const str = (max: number) => v.pipe(v.string(), v.maxLength(max));
const id = v.nullish(str(512));
const common = { session_key: id, agent_id: id, run_id: id };

const ToolBodySchema = v.object({
  tool: v.pipe(v.string(), v.minLength(1), v.maxLength(256)),
  args: v.optional(v.unknown()),
  call_id: id,
  approval_surface: v.nullish(str(32)),
  ...common,
});

const ToolResponseBodySchema = v.object({
  tool: v.pipe(v.string(), v.minLength(1), v.maxLength(256)),
  output: v.unknown(),
  exit_code: v.nullish(v.pipe(v.number(), v.integer())),
  is_error: v.nullish(v.boolean()),
  call_id: id,
  ...common,
});

const ContentSchema = v.nullish(
  v.union([
    v.string(),
    v.array(v.looseObject({ type: v.optional(v.string()), text: v.optional(v.string()) })),
  ]),
);

const MessageSchema = v.object({
  role: str(64),
  content: ContentSchema,
  provenance: v.optional(v.picklist(PROVENANCES)),
  name: v.nullish(str(256)),
});

const RequestBodySchema = v.pipe(
  v.object({
    messages: v.optional(v.pipe(v.array(MessageSchema), v.maxLength(10_000))),
    content: v.optional(ContentSchema),
    model: v.nullish(str(256)),
    ...common,
  }),
  v.check(
    (body) => (body.messages === undefined) !== (body.content === undefined),
    'exactly one of messages or content is required',
  ),
);

const ToolCallSchema = v.pipe(
  v.object({
    id: v.nullish(str(512)),
    name: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(256))),
    arguments: v.optional(v.unknown()),
    function: v.optional(
      v.object({
        name: v.pipe(v.string(), v.minLength(1), v.maxLength(256)),
        arguments: v.optional(v.unknown()),
      }),
    ),
  }),
  v.check((call) => call.name !== undefined || call.function !== undefined, 'needs name or function.name'),
);

const ResponseBodySchema = v.object({
  content: ContentSchema,
  tool_calls: v.nullish(v.pipe(v.array(ToolCallSchema), v.maxLength(1000))),
  model: v.nullish(str(256)),
  ...common,
});

/** The four inspect routes. */
export const INSPECT_ROUTES: readonly InspectRoute[] = [
  {
    path: '/api/v1/inspect/tool',
    lane: 'inspect_tool',
    kind: 'tool.call',
    noun: 'tool call',
    schema: ToolBodySchema,
    build: (body: v.InferOutput<typeof ToolBodySchema>): InspectInput => {
      const args = body.args === undefined ? {} : body.args;
      const subject: Subject = { kind: 'tool_call', tool: body.tool, args };
      if (body.call_id != null) subject.toolCallId = body.call_id;
      const meta = metaOf(body, body.call_id);
      return {
        subject,
        meta,
        ...(body.approval_surface != null ? { approvalSurface: body.approval_surface } : {}),
        event: (findings) => {
          const redacted = redactArgs(args, findings);
          return {
            kind: 'tool.call',
            source: 'inspect',
            tool: body.tool,
            ...ids(body, body.call_id),
            summary: clip(`${body.tool} ${describeArgs(redacted)}`),
            payload: {
              tool: body.tool,
              ...(body.call_id != null ? { tool_call_id: body.call_id } : {}),
              ...(body.approval_surface != null ? { approval_surface: body.approval_surface } : {}),
              args: redacted,
            },
          };
        },
      };
    },
  },
  {
    path: '/api/v1/inspect/tool-response',
    lane: 'inspect_tool_result',
    kind: 'tool.result',
    noun: 'tool result',
    schema: ToolResponseBodySchema,
    build: (body: v.InferOutput<typeof ToolResponseBodySchema>): InspectInput => {
      const text = textOf(body.output);
      const isError = body.is_error ?? false;
      const subject: Subject = { kind: 'tool_result', tool: body.tool, text, isError };
      if (body.exit_code != null) subject.exitCode = body.exit_code;
      if (body.call_id != null) subject.toolCallId = body.call_id;
      return {
        subject,
        meta: metaOf(body, body.call_id),
        event: (findings) => {
          const stored = cut(redactText(text, secretSpans(findings, 'tool_result')), PAYLOAD_TEXT_CHARS);
          const exit = body.exit_code != null ? ` exit=${body.exit_code}` : '';
          return {
            kind: 'tool.result',
            source: 'inspect',
            tool: body.tool,
            ...ids(body, body.call_id),
            summary: clip(`${body.tool} ${isError ? 'error' : 'ok'}${exit} ${Buffer.byteLength(text)} bytes`),
            payload: {
              tool: body.tool,
              ...(body.call_id != null ? { tool_call_id: body.call_id } : {}),
              is_error: isError,
              ...(body.exit_code != null ? { exit_code: body.exit_code } : {}),
              bytes: Buffer.byteLength(text),
              text: stored.text,
              ...(stored.cut ? { text_cut: true } : {}),
            },
          };
        },
      };
    },
  },
  {
    path: '/api/v1/inspect/request',
    lane: 'proxy_prompt',
    kind: 'llm.prompt',
    noun: 'request',
    schema: RequestBodySchema,
    build: (body: v.InferOutput<typeof RequestBodySchema>): InspectInput => {
      const source = body.messages ?? [{ role: 'user', content: body.content ?? null }];
      const messages: PromptMessage[] = source.map((m, index) => {
        const msg: PromptMessage = {
          index,
          role: m.role,
          provenance: m.provenance ?? provenanceOf(m.role),
          text: contentText(m.content),
        };
        if (m.name != null) msg.toolName = m.name;
        return msg;
      });
      const subject: Subject = { kind: 'prompt', messages };
      if (body.model != null) subject.model = body.model;
      return {
        subject,
        meta: metaOf(body, undefined),
        event: (findings) => {
          const spans = secretSpans(findings, 'prompt');
          return {
            kind: 'llm.prompt',
            source: 'inspect',
            ...ids(body, undefined),
            summary: clip(
              `prompt: ${messages.length} message${messages.length === 1 ? '' : 's'}${body.model != null ? ` model=${oneLine(body.model)}` : ''}`,
            ),
            payload: {
              ...(body.model != null ? { model: body.model } : {}),
              messages: messages.map((m) => {
                const stored = cut(
                  redactText(
                    m.text,
                    spans.filter((s) => s.messageIndex === m.index),
                  ),
                  PAYLOAD_TEXT_CHARS,
                );
                return {
                  index: m.index,
                  role: m.role,
                  provenance: m.provenance,
                  text: stored.text,
                  ...(stored.cut ? { text_cut: true } : {}),
                };
              }),
            },
          };
        },
      };
    },
  },
  {
    path: '/api/v1/inspect/response',
    lane: 'proxy_completion',
    kind: 'llm.completion',
    noun: 'response',
    schema: ResponseBodySchema,
    build: (body: v.InferOutput<typeof ResponseBodySchema>): InspectInput => {
      const text = contentText(body.content);
      const toolCalls = (body.tool_calls ?? []).map((call) => {
        const name = call.function?.name ?? call.name ?? '';
        const raw = call.function !== undefined ? call.function.arguments : call.arguments;
        const out: { id?: string; name: string; arguments: string } = {
          name,
          arguments: typeof raw === 'string' ? raw : raw === undefined ? '{}' : JSON.stringify(raw),
        };
        if (call.id != null) out.id = call.id;
        return out;
      });
      const subject: Subject = { kind: 'completion', text, toolCalls };
      if (body.model != null) subject.model = body.model;
      return {
        subject,
        meta: metaOf(body, undefined),
        event: (findings) => {
          const stored = cut(redactText(text, secretSpans(findings, 'completion')), PAYLOAD_TEXT_CHARS);
          return {
            kind: 'llm.completion',
            source: 'inspect',
            ...ids(body, undefined),
            summary: clip(
              `completion: ${text.length} chars, ${toolCalls.length} tool call${toolCalls.length === 1 ? '' : 's'}${body.model != null ? ` model=${oneLine(body.model)}` : ''}`,
            ),
            payload: {
              ...(body.model != null ? { model: body.model } : {}),
              text: stored.text,
              ...(stored.cut ? { text_cut: true } : {}),
              tool_calls: toolCalls.map((c) => ({
                ...(c.id !== undefined ? { id: c.id } : {}),
                name: c.name,
                arguments: cut(redactText(c.arguments, []), PAYLOAD_TEXT_CHARS).text,
              })),
            },
          };
        },
      };
    },
  },
];

// --- internal ---

type Ids = { session_key?: string | null; agent_id?: string | null; run_id?: string | null };

function metaOf(body: Ids, callId: string | null | undefined): EvalMeta {
  const meta: EvalMeta = {};
  if (body.session_key != null) meta.sessionKey = body.session_key;
  if (body.agent_id != null) meta.agentId = body.agent_id;
  if (body.run_id != null) meta.runId = body.run_id;
  if (callId != null) meta.toolCallId = callId;
  return meta;
}

function ids(body: Ids, callId: string | null | undefined): Partial<EventInput> {
  const out: Partial<EventInput> = {};
  if (body.session_key != null) out.sessionKey = body.session_key;
  if (body.agent_id != null) out.agentId = body.agent_id;
  if (body.run_id != null) out.runId = body.run_id;
  if (callId != null) out.callId = callId;
  return out;
}

function provenanceOf(role: string): Provenance {
  switch (role) {
    case 'user':
      return 'user';
    case 'tool':
    case 'function':
      return 'tool_output';
    case 'system':
    case 'developer':
      return 'system';
    case 'assistant':
      return 'assistant';
    default:
      // An unknown role is nobody we trust: judge it like retrieved content, at full severity.
      return 'retrieved';
  }
}

function contentText(
  content: string | readonly { type?: string; text?: string }[] | null | undefined,
): string {
  if (content == null) return '';
  if (typeof content === 'string') return content;
  return content
    .filter((part) => typeof part.text === 'string')
    .map((part) => part.text)
    .join('\n');
}

function textOf(output: unknown): string {
  if (typeof output === 'string') return output;
  if (output === undefined || output === null) return '';
  return JSON.stringify(output);
}

function describeArgs(args: unknown): string {
  if (typeof args === 'string') return oneLine(args);
  if (typeof args !== 'object' || args === null || Array.isArray(args)) return JSON.stringify(args) ?? '';
  const record = args as Record<string, unknown>;
  for (const key of ['command', 'cmd', 'path', 'file_path', 'filePath', 'url']) {
    const value = record[key];
    if (typeof value === 'string' && value !== '') return oneLine(value);
  }
  const keys = Object.keys(record);
  return keys.length === 0 ? '{}' : `{${keys.slice(0, 8).join(', ')}${keys.length > 8 ? ', …' : ''}}`;
}
