export type { Logger } from '@defenseclaw/protocol';
export type { CallOptions, ResolveApprovalOptions, SendToSessionOptions } from './_helpers.ts';
export { computeBackoffDelay, DEFAULT_RECONNECT_OPTIONS, type ReconnectOptions } from './backoff.ts';
export {
  type ClientEventMap,
  type ClientState,
  type ClientStats,
  createGatewayClient,
  type GatewayClient,
  type GatewayClientOptions,
  type RequestOptions,
} from './client.ts';
export {
  CONNECT_REJECTIONS,
  type ConnectRejection,
  GATEWAY_CLIENT_ERROR_CODES,
  GatewayClientError,
  type GatewayClientErrorCode,
  type GatewayClientErrorOptions,
  isGatewayClientError,
  isRoleError,
} from './errors.ts';
export {
  type DeviceIdentity,
  deviceIdentityFromSeed,
  type LoadDeviceIdentityOptions,
  loadOrCreateDeviceIdentity,
  signDevicePayload,
} from './identity.ts';
export {
  type OpenClawConfigOptions,
  type ReadOpenClawTokenResult,
  readOpenClawToken,
  resolveOpenClawConfigPath,
} from './openclaw-config.ts';
