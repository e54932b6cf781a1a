// hello-ok in the 2026.9.6 shape (rpc.jsonl), trimmed, but keeping the undocumented extras
// (server.buildId, controlUiWidgetKinds, snapshot.suspension, policy.attachments, …) so that the
// client's loose parsing is exercised.
import { randomBytes, randomUUID } from 'node:crypto';

/** The OpenClaw version the fake reports. */
export const FAKE_SERVER_VERSION = '2026.9.6';

/** The methods the fake implements (the 12 non-connect methods of spec 10 §3.1), in its `features.methods`. */
export const FAKE_METHODS: readonly string[] = [
  'status',
  'config.get',
  'config.patch',
  'tools.catalog',
  'skills.status',
  'skills.bins',
  'skills.update',
  'sessions.list',
  'sessions.subscribe',
  'sessions.messages.subscribe',
  'sessions.send',
  'exec.approval.resolve',
];

/** The events the fake lists in `features.events` (every event of spec 10 §4 plus a few it never sends). */
export const FAKE_EVENTS: readonly string[] = [
  'connect.challenge',
  'agent',
  'chat',
  'chat.metadata.changed',
  'session.approval',
  'session.message',
  'session.tool',
  'sessions.changed',
  'presence',
  'tick',
  'shutdown',
  'health',
  'heartbeat',
  'cron',
  'skills.changed',
  'plugins.changed',
  'config.changed',
  'exec.approval.requested',
  'exec.approval.resolved',
  'update.available',
];

const CAPABILITIES = [
  'chat-send-routing-contract',
  'model-catalog-snapshot',
  'session-scoped-chat-metadata',
  'session-settings-contract',
];

const BOOT_ID = randomUUID();

/** The inputs of one hello-ok. */
export type HelloInput = {
  protocol: number;
  connId: string;
  port: number;
  methods: readonly string[];
  events: readonly string[];
  authMode: 'token' | 'none';
  role: string;
  scopes: readonly string[];
  tickIntervalMs: number;
  maxPayload: number;
  configPath: string;
  configHash: string | undefined;
  uptimeMs: number;
  mainSessionKey: string;
};

/** Builds a hello-ok payload in the full 2026.9.6 shape. */
export function buildHelloOk(input: HelloInput): Record<string, unknown> {
  const now = Date.now();
  const snapshot: Record<string, unknown> = {
    suspension: { phase: 'accepting' },
    presence: [
      {
        host: 'fake-openclaw',
        ip: '127.0.0.1',
        version: FAKE_SERVER_VERSION,
        platform: 'linux',
        deviceFamily: 'Linux',
        mode: 'gateway',
        reason: 'self',
        instanceId: BOOT_ID,
        text: `Gateway: fake-openclaw (127.0.0.1) · app ${FAKE_SERVER_VERSION} · mode gateway · reason self`,
        ts: now - input.uptimeMs,
      },
    ],
    health: {},
    stateVersion: { presence: 1, health: 1 },
    uptimeMs: input.uptimeMs,
  };
  if (input.configHash !== undefined) snapshot.appliedConfigHash = input.configHash;
  snapshot.sessionDefaults = {
    defaultAgentId: 'main',
    modelConfigured: true,
    ownership: 'sole',
    selectionRequired: false,
    mainKey: 'main',
    mainSessionKey: input.mainSessionKey,
    scope: 'per-sender',
  };
  snapshot.configPath = input.configPath;
  snapshot.stateDir = input.configPath.replace(/\/[^/]*$/, '');
  snapshot.authMode = input.authMode;
  return {
    type: 'hello-ok',
    protocol: input.protocol,
    server: {
      version: FAKE_SERVER_VERSION,
      buildId: `${FAKE_SERVER_VERSION}-fake`,
      bootId: BOOT_ID,
      controlUiBuildSource: 'bundled',
      connId: input.connId,
    },
    features: { methods: [...input.methods], events: [...input.events], capabilities: [...CAPABILITIES] },
    snapshot,
    controlUiWidgetKinds: [{ pluginId: 'session', kind: 'session:progress', label: 'Session progress' }],
    controlUiLinkReaders: [
      {
        pluginId: 'github',
        id: 'github',
        label: 'GitHub',
        icon: 'github',
        linkReader: { hosts: ['github.com'], detailMethod: 'github.detail' },
      },
    ],
    pluginSurfaceUrls: {
      canvas: `http://127.0.0.1:${input.port}/__openclaw__/cap/${randomBytes(18).toString('base64url')}`,
    },
    auth: {
      method: input.authMode,
      role: input.role,
      scopes: [...input.scopes],
      recoveryScope: randomBytes(32).toString('base64url'),
    },
    policy: {
      maxPayload: input.maxPayload,
      maxBufferedBytes: input.maxPayload * 2,
      tickIntervalMs: input.tickIntervalMs,
      attachments: { maxBytes: 19_464_192, maxImageBytes: 6_291_456 },
      allowedSessionVisibilities: ['shared', 'read-only', 'suggest', 'draft'],
      hasMultipleSessionSharingIdentities: false,
    },
  };
}
