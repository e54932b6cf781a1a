export { ConfigError, type ConfigIssue, formatConfigIssue, isConfigError } from './config-error.ts';
export {
  loadEnvFile,
  MAX_ENV_FILE_BYTES,
  type ParseEnvResult,
  parseEnvText,
  writeEnvVar,
} from './env-file.ts';
export {
  ENV_OVERRIDE_PREFIX,
  isLoopbackHost,
  type LoadConfigOptions,
  type LoadedConfig,
  loadConfig,
} from './load.ts';
export {
  type DataDirOptions,
  displayPath,
  ensureDataDir,
  expandPath,
  formatMode,
  resolveConfigPath,
  resolveDataDir,
} from './paths.ts';
export {
  type Config,
  ConfigSchema,
  defaultConfig,
  FAIL_MODE_LANES,
  LOG_LEVELS,
  type LogLevel,
  MODES,
} from './schema.ts';
export { describeToken, type ResolvedToken, resolveGatewayToken, type TokenSource } from './token.ts';
