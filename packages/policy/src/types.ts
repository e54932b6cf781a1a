// Public record shapes of spec 30 §A2/§A3 (camelCase in TypeScript; `toWire` makes them snake_case).
import type { CommandFacts } from './shell/types.ts';

/** Actions, least strict first; the strictest wins. */
export const ACTIONS = ['allow', 'alert', 'confirm', 'block'] as const;
/** What a verdict tells the caller to do. */
export type Action = (typeof ACTIONS)[number];

/** Severities, lowest first. */
export const SEVERITIES = ['info', 'low', 'medium', 'high', 'critical'] as const;
/** How bad a finding is (spec 30 §A3.2). */
export type Severity = (typeof SEVERITIES)[number];

/** Lanes: where a subject came from and what the wire can enforce (spec 30 §0). */
export const LANES = [
  'inspect_tool',
  'inspect_tool_result',
  'ws_tool_call',
  'ws_tool_result',
  'exec_approval',
  'proxy_prompt',
  'proxy_completion',
  'proxy_tool_call',
  'skill_admission',
  'dry_run',
] as const;
/** One lane. */
export type Lane = (typeof LANES)[number];

/** Rule targets (spec 30 §A2.3). */
export const TARGETS = [
  'tool_args',
  'tool_result',
  'prompt',
  'completion',
  'command',
  'path',
  'url',
  'skill',
] as const;
/** What part of a subject a rule matches. */
export type Target = (typeof TARGETS)[number];

/** Prompt-message provenances (spec 30 §A2.2). */
export const PROVENANCES = [
  'user',
  'external_user',
  'tool_output',
  'retrieved',
  'system',
  'assistant',
] as const;
/** Where a prompt message came from. */
export type Provenance = (typeof PROVENANCES)[number];

/** Enforcement mode; any value but `action` means observe. */
export type Mode = 'observe' | 'action';

/** Finding bases: what made a finding fire. */
export type FindingBasis = 'pattern' | 'facts' | 'list' | 'engine';

/** A tool call the agent wants to run. */
export type ToolCallSubject = {
  kind: 'tool_call';
  tool: string;
  args: unknown;
  toolCallId?: string;
  mcpServer?: string;
};

/** A tool's output on its way back to the model. */
export type ToolResultSubject = {
  kind: 'tool_result';
  tool: string;
  text: string;
  isError: boolean;
  exitCode?: number;
  toolCallId?: string;
};

/** An exec-approval request; every command variant is judged. */
export type ApprovalSubject = {
  kind: 'approval';
  approvalId: string;
  commandText?: string;
  argv?: readonly string[];
  cwd?: string;
  host?: string;
  expiresAtMs?: number;
  commandVariants?: readonly string[];
};

/** One scanned prompt message. */
export type PromptMessage = {
  index: number;
  role: string;
  provenance: Provenance;
  text: string;
  toolName?: string;
};

/** The messages of a model request the proxy decided to scan. */
export type PromptSubject = { kind: 'prompt'; messages: readonly PromptMessage[]; model?: string };

/** One tool call proposed inside a completion (`arguments` is the raw JSON string). */
export type CompletionToolCall = { id?: string; name: string; arguments: string };

/** A model's completion text and the tool calls it proposes. */
export type CompletionSubject = {
  kind: 'completion';
  text: string;
  toolCalls: readonly CompletionToolCall[];
  model?: string;
};

/** A skill being admitted: `SKILL.md` and its scripts. */
export type SkillSubject = {
  kind: 'skill';
  skillKey: string;
  files: readonly { path: string; text: string }[];
};

/** Anything the engine judges (spec 30 §A2.1). */
export type Subject =
  | ToolCallSubject
  | ToolResultSubject
  | ApprovalSubject
  | PromptSubject
  | CompletionSubject
  | SkillSubject;

/** Correlation ids copied into the verdict; they never affect the decision. */
export type EvalMeta = {
  sessionKey?: string;
  runId?: string;
  agentId?: string;
  requestId?: string;
  toolCallId?: string;
};

/** Per-call context of an evaluation. */
export type EvalContext = {
  lane: Lane;
  mode: Mode | (string & {});
  nowMs: number;
  connector?: string;
  /** `native` lets `inspect_tool` confirm. */
  approvalSurface?: string;
  /** Scan budget checked between windows; over it → `ENGINE-BUDGET`. */
  budgetMs?: number;
  meta: EvalMeta;
};

/** Where a finding's evidence sits (UTF-16 offsets into the target text). */
export type FindingLocation = { pointer?: string; messageIndex?: number; start: number; end: number };

/** Redacted evidence of a finding. */
export type Evidence = { snippet: string; location: FindingLocation; fingerprint: string };

/** One rule hit (spec 30 §A3.1). */
export type Finding = {
  ruleId: string;
  title: string;
  category: string;
  severity: Severity;
  confidence?: number;
  target: Target;
  basis: FindingBasis;
  tags: string[];
  detectionOnly: boolean;
  alreadyEnforced?: boolean;
  evidence: Evidence;
};

/** The engine's answer for one subject (spec 30 §A3.1). */
export type Verdict = {
  action: Action;
  rawAction: Action;
  mode: Mode;
  wouldBlock: boolean;
  severity: Severity | null;
  findings: Finding[];
  ruleIds: string[];
  droppedFindings: number;
  reason: string;
  explanation: string;
  lane: Lane;
  profile: string;
  enforceable: boolean;
  generation: { id: string; digest: string };
  trace: string[];
  timing: { scanMicros: number; scannedBytes: number };
  error?: { code: string; message: string };
  meta: EvalMeta;
};

/** One block/allow list entry (spec 30 §A3.4). */
export type ListEntry = {
  kind: 'tool' | 'skill' | 'mcp' | 'command';
  pattern: string;
  action: 'block' | 'allow';
  connector?: string;
  reason?: string;
  /** Epoch ms; expired entries are ignored. */
  expiresAt?: number;
};

/** An immutable set of list entries handed to `setLists`. */
export type ListSnapshot = { entries: readonly ListEntry[] };

/** A custom profile: the minimum severity for each action. */
export type ProfileThresholds = { block: Severity; confirm?: Severity; alert?: Severity };

/** A config override applied to every rule whose id matches `rule` (id or glob). */
export type RuleOverride = {
  rule: string;
  enabled?: boolean;
  severity?: Severity;
  action?: Action;
  detectionOnly?: boolean;
  tools?: string[];
};

/** Tool-name globs per tool class. */
export type ToolClasses = {
  shell: string[];
  read: string[];
  write: string[];
  delete: string[];
  fetch: string[];
  message: string[];
};

/** The resolved `policy.*` config of a generation. */
export type PolicyConfig = {
  profile: string;
  profiles: Record<string, ProfileThresholds>;
  profileByLane: Partial<Record<Lane, string>>;
  overrides: RuleOverride[];
  toolClasses: ToolClasses;
  approvalToolName: string;
  /** `guardrail.hilt.enabled`: whether the confirm band applies on lanes that can confirm. */
  hitl: boolean;
};

/** One generation's identity. */
export type Generation = {
  id: string;
  digest: string;
  loadedAt: number;
  packs: { name: string; version: string }[];
};

/** A rule pack source file. */
export type PackSource = { path: string; text: string; bundled: boolean };

/** Compile issue codes. */
export const POLICY_ISSUE_CODES = [
  'E_SCHEMA_UNKNOWN_FIELD',
  'E_SCHEMA_TYPE',
  'E_ENUM',
  'E_REGEX',
  'E_REGEX_UNBOUNDED',
  'E_DUP_ID',
  'E_EXAMPLE',
  'E_OVERRIDE',
  'E_LIMIT',
  'E_YAML',
] as const;
/** A compile issue code. */
export type PolicyIssueCode = (typeof POLICY_ISSUE_CODES)[number];

/** One compile error or warning; `message` is the full "file:line:col rule X: …" text. */
export type PolicyIssue = {
  code: PolicyIssueCode;
  file?: string;
  line?: number;
  col?: number;
  ruleId?: string;
  message: string;
  severity: 'error' | 'warning';
};

/** A compiled rule as the engine and tooling see it (read-only). */
export type RuleInfo = {
  id: string;
  title: string;
  category: string;
  severity: Severity;
  severityByTarget: Partial<Record<Target, Severity>>;
  targets: Target[];
  tools?: string[];
  prefilter?: string[];
  patterns: string[];
  hasConditions: boolean;
  validators: string[];
  minMatches: number;
  action?: Action;
  detectionOnly: boolean;
  enabled: boolean;
  tags: string[];
  references: string[];
  description?: string;
  pack: string;
  file: string;
  line?: number;
  /** The pattern has an unbounded span (operator packs only): it is scanned over the whole text. */
  unbounded: boolean;
};

/** One immutable compiled generation; create engines from it. */
export type CompiledPolicy = {
  readonly generation: Generation;
  readonly config: PolicyConfig;
  readonly rules: readonly RuleInfo[];
  readonly warnings: readonly PolicyIssue[];
  /** Engine internals; not part of the public contract. */
  readonly _internal: unknown;
};

/** Inputs to `decideExecApproval` beyond the verdict. */
export type ExecApprovalFacts = { commandFacts?: CommandFacts; hasCommand: boolean };
