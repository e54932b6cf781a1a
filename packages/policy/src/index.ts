// Public surface of @defenseclaw/policy (spec 30 Part A).

export {
  decideExecApproval,
  type ExecApprovalConfig,
  type ExecApprovalDecision,
  type ExecApprovalReason,
} from './approval.ts';
export { type CompilePolicyInput, type CompilePolicyResult, compilePolicy, MAX_RULES } from './compile.ts';
export {
  BUILTIN_PROFILES,
  DEFAULT_TOOL_CLASSES,
  type PolicyConfigInput,
  PolicyConfigSchema,
  resolvePolicyConfig,
} from './config.ts';
export { createEngine, type EngineOptions, mapSeverity, type PolicyEngine } from './engine.ts';
export { isPolicyError, POLICY_ERROR_CODES, PolicyError, type PolicyErrorCode } from './errors.ts';
export { classifyIp, parseUrlFact } from './net.ts';
export { loadBundledPacks, MAX_PACK_BYTES, MAX_PACK_FILES, readPackFiles } from './pack-load.ts';
export { maskSecrets, REDACTED_CATEGORIES } from './redact.ts';
export { type CompileRegexResult, compileRegex, type Matcher, type RegexMatch } from './regex.ts';
export { ScanText } from './scan-text.ts';
export type {
  Access,
  CommandFacts,
  IpClass,
  ParseStatus,
  PathFact,
  Redirect,
  SimpleCommand,
  UrlFact,
} from './shell/index.ts';
export { parseCommand } from './shell/index.ts';
export type { StreamScannerOptions, StreamTextScanner } from './stream-scanner.ts';
export { fencedShellBlocks, mcpServerOf } from './targets.ts';
export * from './types.ts';
export { parseValidatorSpec, VALIDATORS, type Validator } from './validators.ts';
export { toWire } from './wire.ts';
