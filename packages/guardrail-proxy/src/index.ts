// Public surface of @defenseclaw/guardrail-proxy (spec 30 Part B).

export {
  PROXY_OUTCOMES,
  type ProxyAuditRecord,
  type ProxyOutcome,
} from './audit-record.ts';
export { createMasterKeyCheck, MASTER_KEY_PATTERN, type MasterKeyCheck } from './auth.ts';
export { blockBody, DEFAULT_BLOCK_MESSAGE, renderBlockText } from './block-body.ts';
export {
  AliasConfigSchema,
  effectiveHoldbackChars,
  GUARDRAIL_PROXY_CONFIG_ENTRIES,
  type GuardrailConfig,
  type GuardrailConfigInput,
  type GuardrailConfigIssue,
  GuardrailConfigSchema,
  guardrailConfigIssues,
  PROVIDER_FLAVOURS,
  type ProviderConfig,
  ProviderConfigSchema,
  type ProviderFlavour,
  parseGuardrailConfig,
  UNFORWARDABLE_HEADERS,
} from './config.ts';
export { errorBody, PROXY_HTTP_ERRORS, type ProxyHttpErrorCode } from './error-body.ts';
export {
  GUARDRAIL_PROXY_ERROR_CODES,
  GuardrailProxyError,
  type GuardrailProxyErrorCode,
  isGuardrailProxyError,
} from './errors.ts';
export { type FailMode, judgeToolCall, type ProxyEngine, type ProxyFailModes } from './judge.ts';
export { type Logger, silentLogger } from './logger.ts';
export {
  createProviderRegistry,
  describeProviders,
  type Endpoint,
  listModels,
  type ModelEntry,
  type ProviderEntry,
  type ProviderRegistry,
  type ProviderView,
  type ResolvedModel,
} from './providers/registry.ts';
export {
  createGuardrailProxy,
  type GuardrailHealthEntry,
  type GuardrailProxy,
  type GuardrailProxyOptions,
  type GuardrailProxyStats,
} from './proxy.ts';
export type { ProxyAppEnv } from './routes.ts';
export { type AddressClass, checkProviderUrl, classifyAddress, createGuardedLookup } from './ssrf.ts';
export type { BlockInfo, StreamTextScanner, WireFormat } from './stream/types.ts';
