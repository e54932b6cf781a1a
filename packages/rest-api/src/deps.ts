// What the API needs from the sidecar, by interface: the package never knows the sidecar itself.
import type { AuditQueries, AuditRecord, CommitReceipt, ListStore } from '@defenseclaw/audit-store';
import type { CompiledPolicy, Lane, PolicyEngine } from '@defenseclaw/policy';
import type { Metrics } from './metrics.ts';

/** The 4-method logger every library of the workspace accepts (structurally `@defenseclaw/protocol`'s). */
export interface Logger {
  /** Records a diagnostic detail that is only useful while debugging. */
  debug(msg: string, fields?: Record<string, unknown>): void;
  /** Records a routine event worth keeping. */
  info(msg: string, fields?: Record<string, unknown>): void;
  /** Records a recoverable problem. */
  warn(msg: string, fields?: Record<string, unknown>): void;
  /** Records a failure. */
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** A value fixed at creation, or a getter read on every request (hot-reloadable settings). */
export type Dynamic<T> = T | (() => T);

/** The health registry as `GET /health` reads it (spec 20 §5). */
export interface HealthSource {
  /** The full health map, one entry per subsystem. */
  snapshot(): Record<string, unknown>;
  /** The subsystems in `error` or `stopped`, for `?strict=1`. */
  failing(): readonly string[];
}

/** The parts of `AuditStore` the API uses. */
export interface AuditStoreLike {
  /** The read and acknowledge API. */
  readonly queries: AuditQueries;
  /** The block/allow lists. */
  readonly lists: ListStore;
  /** Queues a record; resolves after its batch commits. */
  enqueue(record: AuditRecord): Promise<CommitReceipt>;
  /** Commits a record synchronously in its own transaction. */
  writeNow(record: AuditRecord): CommitReceipt;
  /** Resolves once every record queued so far is committed or failed (and forces the batch out now). */
  flush(): Promise<void>;
}

/** The policy settings the sidecar lanes run with; read on every request (hot reload). */
export type PolicySettings = {
  /** `policy.mode`: anything but `action` records only. */
  mode: 'observe' | 'action';
  /** `policy.profile`. */
  profile: string;
  /** `policy.fail_mode.<lane>`; unset lanes use spec 30 §B7's defaults. */
  failMode?: Partial<Record<Lane, 'open' | 'closed'>>;
  /** `policy.scan.budget_ms`, handed to the engine per evaluation. */
  budgetMs?: number;
  /** Subjects above this many characters are judged with `evaluateYielding`. @default 1048576 */
  yieldBytes?: number;
};

/** What a reload attempt produced. */
export type ReloadOutcome =
  | { success: true; restartRequired?: readonly string[] }
  | {
      success: false;
      /** Which part was invalid, or that another reload is running. @default 'policy_invalid' */
      code?: 'config_invalid' | 'policy_invalid' | 'reload_in_progress';
      /** Human-readable issues (`file:line:col rule X: …`); never secret values. */
      errors: readonly string[];
    };

/** The policy engine and its lifecycle, as the API sees them. */
export interface PolicyService {
  /** The live engine (its generation may be swapped underneath). */
  readonly engine: Pick<PolicyEngine, 'evaluate' | 'evaluateYielding' | 'generation' | 'stats' | 'setLists'>;
  /** The current lane settings. */
  settings(): PolicySettings;
  /** The compiled generation, for the per-pack breakdown of `GET /policy`. */
  compiled?(): CompiledPolicy;
  /** Reloads config and packs (spec 20 §4.4); the old generation stays on failure. */
  reload(): Promise<ReloadOutcome>;
}

/** Commits an inspect record and resolves with its row ids once it is durable. */
export type InspectCommit = (record: AuditRecord) => Promise<CommitReceipt>;

/** Options of one gateway RPC. */
export type RpcOptions = { timeoutMs: number; signal?: AbortSignal };

/** The OpenClaw gateway connection, narrowed to what the admin passthrough routes need. */
export interface GatewayRpc {
  /** Whether a hello-ok'd connection is up right now. */
  connected(): boolean;
  /** Sends one RPC and resolves with its payload; rejects with the client's error (`code` is read). */
  request(method: string, params: unknown, options: RpcOptions): Promise<unknown>;
  /** Enables or disables a plugin (spec 10 §3.3's `config.get` + `config.patch` helper). */
  setPluginEnabled?(name: string, enabled: boolean, options: RpcOptions): Promise<unknown>;
}

/** A skill or plugin in OpenClaw that a list change may disable or re-enable. */
export type RuntimeTarget = { targetType: 'skill' | 'plugin'; name: string };

/** Applies list changes to OpenClaw: `applied` now, or `queued` until the gateway reconnects. */
export interface RuntimeEnforcer {
  /** Disables (`enabled: false`) or re-enables a skill or plugin; rejects with the RPC error. */
  setEnabled(target: RuntimeTarget, enabled: boolean): Promise<'applied' | 'queued'>;
}

/** One upstream LLM provider of the guardrail registry, as the registry describes it. */
export type ProviderInfo = {
  name: string;
  baseUrl: string;
  flavour: string;
  /** The *name* of the variable holding the key. */
  apiKeyEnv?: string | undefined;
  /** Whether that variable is set (its value is never read here). */
  keyPresent: boolean;
  models: readonly string[];
};

/** The provider registry view: providers, model aliases, the default provider. */
export type ProvidersView = {
  providers: readonly ProviderInfo[];
  models: Record<string, unknown>;
  defaultProvider?: string | undefined;
};

/** The guardrail's provider registry (spec 20 §6.1 `/v1/config/providers`). */
export interface ProviderRegistry {
  /** The current registry. */
  list(): ProvidersView;
  /** Re-reads `.env` and `guardrail.providers`/`aliases`; keeps the old registry on failure. */
  reload(): Promise<{ success: true; view: ProvidersView } | { success: false; errors: readonly string[] }>;
}

/** Everything the API calls into; only `health`, `status`, `store` and `policy` are required. */
export type RestApiDeps = {
  /** The health registry. */
  health: HealthSource;
  /** Builds the `GET /status` payload (spec 20 §5.3). */
  status: () => unknown;
  /** The audit store. */
  store: AuditStoreLike;
  /** The policy engine, its settings and reload. */
  policy: PolicyService;
  /** How inspect records are committed. @default group commit over `store.enqueue` + `store.flush` */
  commit?: InspectCommit;
  /** The OpenClaw connection; absent → skill, plugin and catalog routes answer 503. */
  gateway?: GatewayRpc;
  /** Applies skill/plugin list changes in OpenClaw; absent → `runtime: "n/a"`. */
  enforcer?: RuntimeEnforcer;
  /** The guardrail provider registry; absent (guardrail off) → provider routes answer 404. */
  providers?: ProviderRegistry;
  /** The metrics handles from `createMetrics`; absent → `/metrics` answers 404 `metrics_disabled`. */
  metrics?: Metrics;
  /** Starts the graceful shutdown (admin route); called after the 202 is flushed. */
  shutdown?: () => void | Promise<void>;
  /** Whether the sidecar is shutting down (mutating routes then answer 503 `shutting_down`). */
  isShuttingDown?: () => boolean;
};
