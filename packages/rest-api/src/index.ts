// Public surface of @defenseclaw/rest-api.
export {
  createRestApi,
  MAX_BODY_BYTES,
  type RestApi,
  type RestApiOptions,
  type RestApiStats,
} from './app.ts';
export type {
  AuditStoreLike,
  Dynamic,
  GatewayRpc,
  HealthSource,
  InspectCommit,
  Logger,
  PolicyService,
  PolicySettings,
  ProviderInfo,
  ProviderRegistry,
  ProvidersView,
  ReloadOutcome,
  RestApiDeps,
  RpcOptions,
  RuntimeEnforcer,
  RuntimeTarget,
} from './deps.ts';
export {
  type ErrorBody,
  type Issue,
  isRestApiError,
  REST_API_ERROR_CODES,
  RestApiError,
  type RestApiErrorCode,
  type RestApiErrorStatus,
} from './errors.ts';
export { createInspectCommit, type InspectCommitMode } from './inspect-commit.ts';
export {
  BATCH_SIZE_BUCKETS,
  createMetrics,
  LATENCY_BUCKETS_SECONDS,
  METRIC_PREFIX,
  type Metrics,
  type MetricsOptions,
  SPLUNK_CIRCUIT_STATES,
} from './metrics.ts';
export {
  createRuntimeEnforcer,
  type QueueingRuntimeEnforcer,
  type RuntimeEnforcerOptions,
} from './runtime-enforcer.ts';
export {
  allowedHosts,
  CLIENT_HEADER,
  isLoopbackAddress,
  TOKEN_HEADER,
  TOKEN_QUERY_PARAMS,
} from './security.ts';
export { applyServerTimeouts, SERVER_TIMEOUTS } from './server.ts';
export { createTokenChecker, type TokenChecker, tokenDigest, tokensEqual } from './token.ts';
