// The skill and plugin watcher (spec 20 §8; health key `watcher`, lane `skill_admission`): learns OpenClaw's skill
// dirs from `skills.status`, watches them (plus configured dirs) with recursive `fs.watch`, a per-skill debounce and a
// periodic rescan, judges every new or changed skill with the policy engine and disables the malicious ones in
// OpenClaw (`skills.update`, or the plugin helper), recording every scan, verdict and alert in the audit store.
import { type FSWatcher, realpathSync, watch } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, parse as parsePath, relative, resolve, sep } from 'node:path';
import type { AuditStore } from '@defenseclaw/audit-store';
import type { GatewayClient } from '@defenseclaw/gateway-client';
import type { EvalContext, ListEntry, PolicyEngine, Subject, Verdict } from '@defenseclaw/policy';
import { type Logger, silentLogger } from '@defenseclaw/protocol';
import * as v from 'valibot';
import { displayPath } from '../config/paths.ts';
import type { Config } from '../config/schema.ts';
import {
  collectSkillFiles,
  dirExistsSync,
  discoverSkillDirs,
  isWithin,
  PLUGIN_MARKER,
  pathExistsSync,
  SKILL_MARKER,
  skillDirFor,
} from './_skill-files.ts';
import {
  type AdmissionDecision,
  type AdmissionFacts,
  type AdmissionKind,
  admissionRecord,
  enforceChangeRecord,
  enforcementFailedRecord,
  recordRuleIds,
} from './_watcher-records.ts';
import type { HealthState } from './health.ts';

/** How long one `skills.update` (or plugin disable) may take (spec 20 §8.5). */
export const WATCHER_RPC_TIMEOUT_MS = 10_000;

/** Retries after a failed disable, with exponential backoff (spec 20 §8.5: 3 retries). */
export const WATCHER_RPC_RETRIES = 3;

/** The first retry delay; each later one doubles (0.5 s, 1 s, 2 s). */
export const WATCHER_RETRY_BASE_MS = 500;

/** Disables that wait for a reconnect; beyond it the oldest is dropped and recorded as failed. */
export const MAX_PENDING_ACTIONS = 100;

/**
 * The least scan budget of one skill. Admission is off the agent's hot path and a skill may hold 10 MiB: the
 * per-call `policy.scan.budget_ms` (200 ms) would let a padded skill fail open unscanned.
 */
export const MIN_SKILL_SCAN_BUDGET_MS = 5_000;

/** Skills larger than this are scanned with `evaluateYielding`, so the event loop keeps turning. */
export const YIELD_SCAN_BYTES = 256 * 1024;

/** How long `skills.changed` events are gathered before `skills.status` is asked again. */
export const SKILLS_CHANGED_DEBOUNCE_MS = 1_000;

/** A burst of changes delays a skill's scan by at most this many debounce periods. */
export const MAX_DEBOUNCE_PERIODS = 10;

/** The watcher's settings, from `gateway.watcher.*` and `policy.*` (all hot-reloadable). */
export type WatcherSettings = {
  /** `gateway.watcher.enabled`. */
  enabled: boolean;
  /** `gateway.watcher.take_action`: disable malicious skills (only with `mode: 'action'`). */
  takeAction: boolean;
  /** `policy.mode`. */
  mode: 'observe' | 'action';
  /** `gateway.watcher.skill_dirs` (absolute). */
  skillDirs: readonly string[];
  /** `gateway.watcher.plugin_dirs` (absolute). */
  pluginDirs: readonly string[];
  /** `gateway.watcher.debounce_ms`. */
  debounceMs: number;
  /** `gateway.watcher.rescan_interval_s` in milliseconds; 0 disables the rescan. */
  rescanIntervalMs: number;
  /** `policy.scan.budget_ms`; raised to `MIN_SKILL_SCAN_BUDGET_MS`. */
  budgetMs?: number;
};

/** Reads the watcher settings from the sidecar config. */
export function watcherSettings(config: Config): WatcherSettings {
  const w = config.gateway.watcher;
  return {
    enabled: w.enabled,
    takeAction: w.take_action,
    mode: config.policy.mode,
    skillDirs: [...w.skill_dirs],
    pluginDirs: [...w.plugin_dirs],
    debounceMs: w.debounce_ms,
    rescanIntervalMs: w.rescan_interval_s * 1000,
    budgetMs: config.policy.scan.budget_ms,
  };
}

/** The slice of the gateway client the watcher uses. */
export type WatcherGateway = Pick<
  GatewayClient,
  'state' | 'getSkillsStatus' | 'disableSkill' | 'disablePlugin'
>;

/** The slice of the policy engine the watcher uses. */
export type WatcherEngine = Pick<PolicyEngine, 'evaluate' | 'evaluateYielding' | 'setLists'>;

/** Counters for `/metrics` (`watcher_scans_total{action}`, `watcher_actions_total{outcome}`). */
export type WatcherMetrics = {
  /** One evaluated skill or plugin, by decision. */
  scan(decision: AdmissionDecision): void;
  /** One enforcement outcome: `disabled`, `queued`, `failed`, `dropped`. */
  action(outcome: 'disabled' | 'queued' | 'failed' | 'dropped'): void;
};

/** Options of `createSkillWatcher`. */
export type SkillWatcherOptions = {
  /** The live engine (hot reload swaps its generation in place). */
  engine: WatcherEngine;
  /** Where scans, verdicts, alerts and block-list entries go. */
  store: AuditStore;
  /** The initial settings; `setSettings` replaces them. */
  settings: WatcherSettings;
  /** The OpenClaw connection, when there is one. */
  gateway: () => WatcherGateway | undefined;
  /**
   * Whether dirs from `skills.status` are watched: they are paths on the OpenClaw host, so only meaningful when it is
   * this machine. @default true
   */
  learnDirs?: boolean;
  /** Receives scan and enforcement lines (never file content). */
  logger?: Logger;
  /** Masks known secrets in summaries and titles. @default identity */
  mask?: (text: string) => string;
  /** Counters for `/metrics`. */
  metrics?: WatcherMetrics;
  /** The clock. @default Date.now */
  now?: () => number;
  /** The first retry delay of a failed disable (tests shorten it). @default WATCHER_RETRY_BASE_MS */
  retryBaseMs?: number;
};

/** The watcher's `GET /health` entry (spec 20 §5.2). */
export type WatcherHealth = {
  state: HealthState;
  lastError: string | undefined;
  /** Every detail key, `undefined` for the ones that do not apply (so a registry merge drops stale ones). */
  details: Record<string, unknown>;
};

/** The watcher's counters. */
export type WatcherStats = {
  /** Skills and plugins evaluated (unchanged ones are not re-evaluated). */
  scans: number;
  /** Evaluations that ended flagged, would-block or disabled. */
  flagged: number;
  /** Disables confirmed by OpenClaw. */
  disabled: number;
  /** Disables that failed after their retries (or were dropped from a full queue). */
  failedActions: number;
  /** Known skills and plugins left enabled because their scan failed. */
  unscanned: number;
  /** Disables waiting for a reconnect. */
  pendingActions: number;
  /** Known skills. */
  skills: number;
  /** Known plugins. */
  plugins: number;
  /** Unix ms of the last evaluation. */
  lastScanAt: number | undefined;
};

/** The running watcher. */
export type SkillWatcher = {
  /** Arms the configured dirs and scans them; learned dirs follow `onConnected`. Synchronous; scans run after. */
  start(): void;
  /** Stops watching and timers, and waits up to `timeoutMs` for the scan and disables in flight. */
  close(timeoutMs?: number): Promise<void>;
  /** Applies hot-reloaded settings: enable/disable, dirs, debounce, rescan interval, mode, take_action. */
  setSettings(next: WatcherSettings): void;
  /** The gateway (re)connected: learns dirs from `skills.status` and sends queued disables. */
  onConnected(): Promise<void>;
  /** The gateway dropped: only configured dirs stay watched (spec 20 §8.1). */
  onDisconnected(): void;
  /** A gateway event; `skills.changed` re-reads `skills.status`. */
  onGatewayEvent(name: string): void;
  /** Runs a full rescan now and resolves when it is done. */
  rescan(): Promise<void>;
  /** Resolves true once no debounce timer, scan or disable is outstanding (false after `timeoutMs`). */
  idle(timeoutMs?: number): Promise<boolean>;
  /** The health entry. */
  health(): WatcherHealth;
  /** A snapshot of the counters. */
  readonly stats: WatcherStats;
};

/**
 * Creates the skill watcher; nothing is watched before `start()`.
 *
 * @example
 * ```ts
 * const watcher = createSkillWatcher({ engine, store, settings: watcherSettings(config), gateway: () => client });
 * watcher.start();
 * client.on('connected', () => void watcher.onConnected());
 * client.on('disconnected', () => watcher.onDisconnected());
 * ```
 */
export function createSkillWatcher(options: SkillWatcherOptions): SkillWatcher {
  const log = options.logger ?? silentLogger;
  const mask = options.mask ?? ((text: string) => text);
  const now = options.now ?? Date.now;
  const retryBaseMs = options.retryBaseMs ?? WATCHER_RETRY_BASE_MS;
  const learnDirs = options.learnDirs ?? true;
  const { engine, store } = options;
  let settings = options.settings;

  const roots = new Map<string, Root>();
  const known = new Map<string, KnownSkill>();
  // skills.status: skill dir → skillKey (every listed skill, bundled ones included).
  let statusKeys = new Map<string, string>();
  let learned: LearnedRoot[] = [];
  const timers = new Map<string, { timer: NodeJS.Timeout; firstAt: number }>();
  const queue = new Map<string, Job>();
  const pending = new Map<string, PendingAction>();
  const inflight = new Set<Promise<void>>();
  const idleWaiters: (() => void)[] = [];
  const abort = new AbortController();
  let rescanTimer: NodeJS.Timeout | undefined;
  let changedTimer: NodeJS.Timeout | undefined;
  let draining: Promise<void> | undefined;
  let started = false;
  let closed = false;
  let scannerError: string | undefined;
  let warnedNoGateway = false;
  const counters = {
    scans: 0,
    flagged: 0,
    disabled: 0,
    failedActions: 0,
    lastScanAt: undefined as number | undefined,
  };

  const enforcing = () => settings.takeAction && settings.mode === 'action';
  const connected = () => options.gateway()?.state === 'connected';

  // --- roots ---

  const rootId = (kind: AdmissionKind, path: string) => `${kind}:${path}`;

  const wantedRoots = (): Map<string, { path: string; kind: AdmissionKind; source: RootSource }> => {
    const wanted = new Map<string, { path: string; kind: AdmissionKind; source: RootSource }>();
    const add = (path: string, kind: AdmissionKind, source: RootSource) => {
      const id = rootId(kind, path);
      if (!wanted.has(id)) wanted.set(id, { path, kind, source });
    };
    for (const dir of settings.skillDirs) add(resolve(dir), 'skill', 'config');
    for (const dir of settings.pluginDirs) add(resolve(dir), 'plugin', 'config');
    for (const root of learned) add(root.path, 'skill', 'skills.status');
    return wanted;
  };

  // Arms what the settings and skills.status ask for, disarms the rest; new roots are scanned right away.
  const syncRoots = () => {
    if (closed || !started || !settings.enabled) return;
    const wanted = wantedRoots();
    for (const [id, root] of roots) {
      if (!wanted.has(id)) {
        disarm(root);
        roots.delete(id);
      }
    }
    for (const [id, want] of wanted) {
      const existing = roots.get(id);
      if (existing !== undefined) {
        existing.source = want.source;
        continue;
      }
      const root: Root = { ...want, ok: false, missing: false };
      roots.set(id, root);
      arm(root);
      if (root.ok) enqueue({ type: 'discover', kind: root.kind, dir: root.path, root: root.path });
    }
  };

  const arm = (root: Root) => {
    disarm(root);
    if (!dirExistsSync(root.path) && pathExistsSync(root.path)) {
      root.ok = false;
      root.missing = false;
      root.error = 'cannot watch: not a directory';
      return;
    }
    if (!dirExistsSync(root.path)) {
      root.ok = false;
      root.missing = true;
      root.error = 'does not exist yet; watching for it to be created';
      armAncestor(root);
      return;
    }
    try {
      const watcher = watch(root.path, { recursive: true, persistent: false }, (_type, filename) =>
        onFsEvent(root, filename === null ? undefined : String(filename)),
      );
      watcher.on('error', (error) => {
        if (root.watcher !== watcher) return;
        const code = errorCode(error);
        log.warn(`watch on ${root.path} failed; re-armed at the next rescan`, { error: code });
        lost(root, `watch failed: ${code}`);
      });
      root.watcher = watcher;
      root.ok = true;
      root.missing = false;
      root.error = undefined;
    } catch (error) {
      root.ok = false;
      root.missing = false;
      root.error = `cannot watch: ${errorCode(error)}`;
      log.warn(`cannot watch ${root.path}`, { error: errorCode(error) });
    }
  };

  // A root that does not exist yet (OpenClaw creates `~/.openclaw/skills` on first install): watch the nearest
  // existing ancestor, non-recursively, and arm the root once it appears. The filesystem root itself is never
  // watched; the rescan covers that case.
  const armAncestor = (root: Root) => {
    let ancestor = dirname(root.path);
    while (ancestor !== parsePath(ancestor).root && !dirExistsSync(ancestor)) ancestor = dirname(ancestor);
    if (ancestor === parsePath(ancestor).root) return;
    try {
      const watcher = watch(ancestor, { persistent: false }, () => {
        if (closed || root.ancestorWatcher !== watcher) return;
        if (dirExistsSync(root.path)) {
          arm(root);
          if (root.ok) enqueue({ type: 'discover', kind: root.kind, dir: root.path, root: root.path });
        } else if (!dirExistsSync(ancestor) || closerAncestorExists(root.path, ancestor)) {
          armAncestor(root);
        }
      });
      watcher.on('error', () => {
        if (root.ancestorWatcher === watcher) closeQuietly(watcher);
      });
      root.ancestorWatcher?.close();
      root.ancestorWatcher = watcher;
    } catch {
      // The rescan retries.
    }
  };

  // The watch is gone (the dir was removed, or the watcher failed): wait for the dir to come back, or the rescan.
  const lost = (root: Root, error: string) => {
    disarm(root);
    root.ok = false;
    root.missing = !dirExistsSync(root.path);
    root.error = root.missing ? 'removed; watching for it to be created again' : error;
    if (!root.missing) return;
    armAncestor(root);
    // Its skills are gone with it: re-scanning them forgets them.
    for (const [dir, skill] of known) {
      if (skill.kind === root.kind && isWithin(root.path, dir)) {
        enqueue({ type: 'scan', kind: root.kind, dir, root: root.path });
      }
    }
  };

  const disarm = (root: Root) => {
    if (root.watcher !== undefined) closeQuietly(root.watcher);
    if (root.ancestorWatcher !== undefined) closeQuietly(root.ancestorWatcher);
    root.watcher = undefined;
    root.ancestorWatcher = undefined;
  };

  const onFsEvent = (root: Root, filename: string | undefined) => {
    if (closed || !settings.enabled) return;
    // A removed root keeps its (now dead) inotify watch silently: notice it on its last event.
    if (!dirExistsSync(root.path)) {
      if (root.watcher !== undefined) lost(root, 'removed');
      return;
    }
    if (filename === undefined) {
      schedule({ type: 'discover', kind: root.kind, dir: root.path, root: root.path });
      return;
    }
    const changed = join(root.path, filename);
    const marker = markerOf(root.kind);
    let matched = false;
    // A change inside a known skill (an edit, or its removal) re-scans that skill.
    for (const [dir, skill] of known) {
      if (skill.kind === root.kind && isWithin(dir, changed)) {
        schedule({ type: 'scan', kind: root.kind, dir, root: root.path });
        matched = true;
      }
    }
    const dir = skillDirFor(root.path, changed, marker);
    if (dir !== undefined) {
      if (!known.has(dir)) schedule({ type: 'scan', kind: root.kind, dir, root: root.path });
      return;
    }
    if (matched) return;
    // Not (yet) in a skill: a new directory whose marker may follow, or a grouped layout moved in at once.
    const first = filename.split(sep)[0];
    const top = first === undefined || first === '' ? root.path : join(root.path, first);
    schedule({
      type: 'discover',
      kind: root.kind,
      dir: dirExistsSync(top) ? top : root.path,
      root: root.path,
    });
  };

  // --- jobs ---

  const jobId = (job: Job) => `${job.type}:${job.kind}:${job.dir}`;

  // Trailing debounce per skill dir, capped so that a steady stream of writes cannot postpone the scan forever.
  const schedule = (job: Job) => {
    const id = jobId(job);
    const existing = timers.get(id);
    const t = now();
    const firstAt = existing?.firstAt ?? t;
    if (existing !== undefined) clearTimeout(existing.timer);
    const debounce = settings.debounceMs;
    const delay = Math.max(0, Math.min(debounce, firstAt + debounce * MAX_DEBOUNCE_PERIODS - t));
    const timer = setTimeout(() => {
      timers.delete(id);
      enqueue(job);
      settle();
    }, delay);
    timer.unref();
    timers.set(id, { timer, firstAt });
  };

  const enqueue = (job: Job) => {
    if (closed) return;
    queue.set(jobId(job), job);
    if (draining === undefined) {
      draining = drain().finally(() => {
        draining = undefined;
        settle();
      });
    }
  };

  // One job at a time: bounded CPU and a deterministic order; new jobs join the same drain.
  const drain = async () => {
    while (!closed && queue.size > 0) {
      const [id, job] = queue.entries().next().value as [string, Job];
      queue.delete(id);
      try {
        if (job.type === 'discover') await discover(job);
        else await scan(job);
      } catch (error) {
        // Bugs must not stop the watcher: the skill is left as it was and the next change or rescan retries it.
        log.error(`watcher: ${job.type} of ${job.dir} failed`, { error: errorMessage(error) });
      }
    }
  };

  const discover = async (job: Job) => {
    const dirs = await discoverSkillDirs(job.dir, markerOf(job.kind));
    for (const dir of dirs) enqueue({ type: 'scan', kind: job.kind, dir, root: job.root });
    // Known skills below this dir that discovery no longer finds are re-scanned, which forgets the removed ones.
    const found = new Set(dirs);
    for (const [dir, skill] of known) {
      if (skill.kind === job.kind && isWithin(job.dir, dir) && !found.has(dir)) {
        enqueue({ type: 'scan', kind: job.kind, dir, root: job.root });
      }
    }
  };

  // --- scanning ---

  const scan = async (job: Job) => {
    const marker = markerOf(job.kind);
    const previous = known.get(job.dir);
    if (skillDirFor(job.dir, job.dir, marker) === undefined) {
      if (previous !== undefined) {
        known.delete(job.dir);
        log.info(`${job.kind} ${previous.key} removed from ${job.dir}`);
      }
      return;
    }
    let collected: Awaited<ReturnType<typeof collectSkillFiles>> | undefined;
    let readError: string | undefined;
    try {
      collected = await collectSkillFiles(job.dir, { marker });
    } catch (error) {
      readError = errorCode(error);
    }
    if (closed) return;
    const { key, keySource } = resolveKey(job, collected);
    if (
      previous !== undefined &&
      collected !== undefined &&
      previous.hash === collected.hash &&
      previous.key === key &&
      previous.decision !== 'unscanned'
    ) {
      // Unchanged: a no-op (spec 20 §8.3). A user who re-enabled a flagged skill in OpenClaw keeps it that way.
      previous.root = job.root;
      return;
    }
    counters.scans += 1;
    counters.lastScanAt = now();
    const facts: AdmissionFacts = {
      kind: job.kind,
      key,
      keySource,
      dir: job.dir,
      root: job.root,
      collected,
      verdict: undefined,
      decision: 'unscanned',
      runtime: 'n/a',
      mode: settings.mode,
      takeAction: settings.takeAction,
      listBlocked: false,
      ts: now(),
    };
    if (collected === undefined) {
      facts.errorCode = readError ?? 'EIO';
      return finish(facts, previous);
    }
    const pluginList = job.kind === 'plugin' ? pluginListAction(key) : undefined;
    if (pluginList === 'allow') {
      facts.decision = 'allow_listed';
      return finish(facts, previous);
    }
    let verdict: Verdict;
    try {
      verdict = await evaluate(job.kind, key, collected);
      scannerError = undefined;
    } catch (error) {
      // skill_admission fails open (spec 30 §B7): never disable on a scanner error.
      scannerError = `scanner failed: ${errorMessage(error)}`;
      facts.errorCode = 'ENGINE-ERROR';
      return finish(facts, previous);
    }
    facts.verdict = verdict;
    const listBlocked =
      pluginList === 'block' || verdict.findings.some((finding) => finding.ruleId.startsWith('LIST-BLOCK-'));
    const allowListed = verdict.findings.some((finding) => finding.ruleId.startsWith('LIST-ALLOW-'));
    facts.listBlocked = listBlocked;
    // Engine-made error findings never drive the action: a block here comes from real findings, which stand even
    // when the scan was cut short; without one, a failed scan leaves the skill enabled (fail open).
    if (verdict.error !== undefined) facts.errorCode = verdict.error.code;
    if (listBlocked || (verdict.rawAction === 'block' && enforcing() && !allowListed)) {
      facts.decision = 'disabled';
      facts.runtime = connected() ? 'disabled' : 'pending';
    } else if (allowListed) {
      facts.decision = 'allow_listed';
    } else if (verdict.rawAction === 'block') {
      facts.decision = 'would_block';
    } else if (verdict.error !== undefined) {
      facts.decision = 'unscanned';
    } else if (verdict.rawAction !== 'allow' || collected.truncated !== undefined) {
      facts.decision = 'flagged';
    } else {
      facts.decision = 'clean';
    }
    return finish(facts, previous);
  };

  const evaluate = (
    kind: AdmissionKind,
    key: string,
    collected: NonNullable<AdmissionFacts['collected']>,
  ) => {
    const subject: Subject = {
      kind: 'skill',
      // Plugins are not list targets of the engine; a prefix keeps skill list entries off them.
      skillKey: kind === 'plugin' ? `plugin:${key}` : key,
      files: collected.files.map((file) => ({ path: file.path, text: file.text })),
    };
    const ctx: EvalContext = {
      lane: 'skill_admission',
      mode: settings.mode,
      nowMs: now(),
      budgetMs: Math.max(settings.budgetMs ?? 0, MIN_SKILL_SCAN_BUDGET_MS),
      meta: {},
    };
    return collected.scannedBytes > YIELD_SCAN_BYTES
      ? engine.evaluateYielding(subject, ctx)
      : Promise.resolve(engine.evaluate(subject, ctx));
  };

  // Records the scan (committed before any disable is sent), updates the state and starts the enforcement.
  const finish = async (facts: AdmissionFacts, previous: KnownSkill | undefined) => {
    const skill: KnownSkill = {
      kind: facts.kind,
      key: facts.key,
      root: facts.root,
      hash: facts.collected?.hash,
      decision: facts.decision,
    };
    known.set(facts.dir, skill);
    if (facts.decision === 'flagged' || facts.decision === 'would_block' || facts.decision === 'disabled') {
      counters.flagged += 1;
    }
    options.metrics?.scan(facts.decision);
    logDecision(facts, previous);
    if (facts.decision === 'disabled' && !facts.listBlocked) upsertBlock(facts);
    let duplicate = false;
    try {
      const receipt = await store.enqueue(admissionRecord(facts, mask));
      duplicate = receipt.duplicate;
    } catch (error) {
      // Safety before bookkeeping: a disable goes out even when its record could not be written.
      log.warn(`${facts.kind} ${facts.key}: scan record not written`, { error: errorCode(error) });
    }
    if (facts.decision !== 'disabled') return;
    const action: PendingAction = { kind: facts.kind, key: facts.key, dir: facts.dir, queuedAt: now() };
    if (duplicate) {
      action.why =
        previous === undefined
          ? 'again: the same content was judged before this restart'
          : 'retry: the last disable of this content failed';
    }
    if (facts.runtime === 'pending') {
      queueAction(action);
      return;
    }
    track(runAction(action));
  };

  const logDecision = (facts: AdmissionFacts, previous: KnownSkill | undefined) => {
    const ids = recordRuleIds(facts).join(',') || '-';
    const what = `${facts.kind} ${facts.key} (${facts.dir})`;
    const change = previous === undefined ? 'new' : 'changed';
    switch (facts.decision) {
      case 'clean':
        log.debug(`${what} ${change}: clean`);
        break;
      case 'allow_listed':
        log.info(`${what} ${change}: on the allow list; not scanned`);
        break;
      case 'flagged':
        log.warn(`${what} ${change}: flagged rules=${ids} severity=${facts.verdict?.severity ?? 'medium'}`);
        break;
      case 'would_block':
        log.warn(
          `${what} ${change}: would be disabled (${settings.mode === 'action' ? 'take_action: false' : 'observe mode'}) rules=${ids}`,
        );
        break;
      case 'disabled':
        log.warn(
          `${what} ${change}: disabling${facts.listBlocked ? ' (block list)' : ''} rules=${ids}${facts.runtime === 'pending' ? ' — queued until OpenClaw reconnects' : ''}`,
        );
        break;
      case 'unscanned':
        log.error(`${what} ${change}: scan failed (${facts.errorCode}); left enabled, unscanned`);
        break;
    }
  };

  const resolveKey = (
    job: Job,
    collected: AdmissionFacts['collected'],
  ): { key: string; keySource: AdmissionFacts['keySource'] } => {
    if (job.kind === 'skill') {
      const fromStatus = statusKeys.get(job.dir) ?? statusKeys.get(realpathOr(job.dir));
      if (fromStatus !== undefined) return { key: fromStatus, keySource: 'skills.status' };
    }
    const identity = collected?.identity ?? {};
    const fromFile = identity.skillKey ?? identity.name;
    if (fromFile !== undefined)
      return { key: fromFile, keySource: job.kind === 'plugin' ? 'manifest' : 'frontmatter' };
    return { key: parsePath(job.dir).base, keySource: 'dir' };
  };

  // Plugins are not engine list targets: the watcher reads their entries itself (exact names and `*`/`?` globs).
  const pluginListAction = (name: string): 'block' | 'allow' | undefined => {
    let rows: ReturnType<AuditStore['lists']['list']>;
    try {
      rows = store.lists.list({ targetType: 'plugin', nowMs: now() });
    } catch {
      return undefined;
    }
    const hits = rows.filter((row) => globMatch(row.targetName, name));
    if (hits.some((row) => row.list === 'block')) return 'block';
    return hits.some((row) => row.list === 'allow') ? 'allow' : undefined;
  };

  const upsertBlock = (facts: AdmissionFacts) => {
    const ids = recordRuleIds(facts);
    try {
      store.lists.upsert({
        targetType: facts.kind,
        targetName: facts.key,
        list: 'block',
        reason: `watcher: ${ids.slice(0, 5).join(', ')}${ids.length > 5 ? ` and ${ids.length - 5} more` : ''}`,
        source: 'watcher',
        nowMs: now(),
      });
      const entries: ListEntry[] = store.lists.entries(now());
      engine.setLists({ entries });
    } catch (error) {
      log.warn(`${facts.kind} ${facts.key}: block list entry not written`, { error: errorCode(error) });
    }
  };

  // --- enforcement ---

  const track = (promise: Promise<void>) => {
    inflight.add(promise);
    void promise.finally(() => {
      inflight.delete(promise);
      settle();
    });
  };

  const queueAction = (action: PendingAction) => {
    const id = `${action.kind}:${action.key}`;
    pending.delete(id);
    if (pending.size >= MAX_PENDING_ACTIONS) {
      const [oldestId, oldest] = pending.entries().next().value as [string, PendingAction];
      pending.delete(oldestId);
      counters.failedActions += 1;
      forgetHash(oldest);
      options.metrics?.action('dropped');
      log.error(
        `disable queue full (${MAX_PENDING_ACTIONS}); dropped the oldest: ${oldest.kind} ${oldest.key}`,
      );
      void store
        .enqueue(
          enforcementFailedRecord(
            oldest,
            { attempts: 0, code: 'QUEUE_FULL', message: 'dropped from the full reconnect queue' },
            now(),
            mask,
          ),
        )
        .catch(() => {});
    }
    pending.set(id, action);
    options.metrics?.action('queued');
    if (options.gateway() === undefined && !warnedNoGateway) {
      warnedNoGateway = true;
      log.warn('no OpenClaw connection (gateway.connect: false?): disables stay queued');
    }
  };

  // A disable that never reached OpenClaw is retried: the next change or rescan judges the skill again.
  const forgetHash = (action: PendingAction) => {
    const state = known.get(action.dir);
    if (state !== undefined && state.key === action.key) state.hash = undefined;
  };

  const runAction = async (action: PendingAction): Promise<void> => {
    let lastError: unknown;
    let attempts = 0;
    for (let attempt = 0; attempt <= WATCHER_RPC_RETRIES; attempt++) {
      if (closed) return;
      const gateway = options.gateway();
      if (gateway === undefined || gateway.state !== 'connected') {
        queueAction(action);
        return;
      }
      attempts += 1;
      try {
        const call = { timeoutMs: WATCHER_RPC_TIMEOUT_MS, signal: abort.signal };
        if (action.kind === 'plugin') await gateway.disablePlugin(action.key, call);
        else await gateway.disableSkill(action.key, call);
        counters.disabled += 1;
        options.metrics?.action('disabled');
        const state = known.get(action.dir);
        if (state !== undefined && state.key === action.key) state.decision = 'disabled';
        log.info(`${action.kind} ${action.key} disabled in OpenClaw`);
        if (action.why !== undefined) {
          void store.enqueue(enforceChangeRecord(action, action.why, now(), mask)).catch(() => {});
        }
        return;
      } catch (error) {
        lastError = error;
        if (closed) return;
        if (errorCode(error) === 'NOT_CONNECTED' || options.gateway()?.state !== 'connected') {
          queueAction(action);
          return;
        }
        log.warn(`disable ${action.kind} ${action.key} failed (attempt ${attempts})`, {
          error: errorCode(error),
        });
      }
      if (attempt < WATCHER_RPC_RETRIES && !(await sleep(retryBaseMs * 2 ** attempt, abort.signal))) return;
    }
    counters.failedActions += 1;
    forgetHash(action);
    options.metrics?.action('failed');
    const code = errorCode(lastError);
    log.error(`${action.kind} ${action.key} could not be disabled after ${attempts} attempts`, {
      error: code,
    });
    try {
      await store.enqueue(
        enforcementFailedRecord(action, { attempts, code, message: errorMessage(lastError) }, now(), mask),
      );
    } catch (error) {
      log.warn('enforcement.failed not recorded', { error: errorCode(error) });
    }
  };

  const flushPending = async () => {
    for (const [id, action] of [...pending]) {
      if (closed || !connected()) return;
      pending.delete(id);
      action.why ??= 'queued while OpenClaw was disconnected';
      await runAction(action);
    }
  };

  // --- learned dirs ---

  const learn = async () => {
    const gateway = options.gateway();
    if (closed || gateway === undefined || gateway.state !== 'connected') return;
    let raw: unknown;
    try {
      raw = await gateway.getSkillsStatus(undefined, {
        timeoutMs: WATCHER_RPC_TIMEOUT_MS,
        signal: abort.signal,
      });
    } catch (error) {
      if (!closed)
        log.warn('skills.status failed; watching configured dirs only', { error: errorCode(error) });
      return;
    }
    if (closed) return;
    const parsed = v.safeParse(SkillsStatusDirsSchema, raw);
    if (!parsed.success) {
      log.warn('skills.status returned an unexpected shape; watching configured dirs only', {
        issue: v.flatten(parsed.issues).root?.[0] ?? parsed.issues[0]?.message,
      });
      return;
    }
    const status = parsed.output;
    const keys = new Map<string, string>();
    const dirs: LearnedRoot[] = [];
    const addRoot = (path: string | undefined) => {
      if (path === undefined || !isAbsolute(path)) return;
      const abs = resolve(path);
      if (!dirs.some((root) => isWithin(root.path, abs))) dirs.push({ path: abs });
    };
    addRoot(status.managedSkillsDir ?? undefined);
    if (typeof status.workspaceDir === 'string' && isAbsolute(status.workspaceDir)) {
      addRoot(join(status.workspaceDir, 'skills'));
      addRoot(join(status.workspaceDir, '.agents', 'skills'));
    }
    for (const skill of status.skills) {
      const base =
        skill.baseDir ??
        (typeof skill.filePath === 'string' ? dirname(skill.filePath) : undefined) ??
        undefined;
      if (base === undefined || !isAbsolute(base)) continue;
      const abs = resolve(base);
      keys.set(abs, skill.skillKey ?? skill.name);
      keys.set(realpathOr(abs), skill.skillKey ?? skill.name);
      // Bundled skills ship inside the OpenClaw install (node_modules): its package manager owns them.
      if (skill.bundled === true) continue;
      if (dirs.some((root) => isWithin(root.path, abs))) continue;
      // The parent also catches new siblings (an extra skills dir); never the filesystem root or the home dir.
      const parent = dirname(abs);
      addRoot(parent === parsePath(parent).root || parent === homedir() ? abs : parent);
    }
    statusKeys = keys;
    if (learnDirs) {
      learned = dirs;
      syncRoots();
    }
  };

  // --- health and lifecycle ---

  let settleScheduled = false;
  const settle = () => {
    if (settleScheduled) return;
    settleScheduled = true;
    setImmediate(() => {
      settleScheduled = false;
      if (!isIdle()) return;
      for (const wake of idleWaiters.splice(0)) wake();
    });
  };

  const isIdle = () => timers.size === 0 && queue.size === 0 && draining === undefined && inflight.size === 0;

  const startRescanTimer = () => {
    clearInterval(rescanTimer);
    rescanTimer = undefined;
    if (closed || !started || !settings.enabled || settings.rescanIntervalMs <= 0) return;
    rescanTimer = setInterval(() => void fullRescan(), settings.rescanIntervalMs);
    rescanTimer.unref();
  };

  const fullRescan = () => {
    if (closed || !started || !settings.enabled) return Promise.resolve();
    for (const root of roots.values()) {
      if (!root.ok && root.watcher === undefined) arm(root);
      if (root.ok) enqueue({ type: 'discover', kind: root.kind, dir: root.path, root: root.path });
    }
    return waitIdle(60_000).then(() => undefined);
  };

  const stopWatching = () => {
    for (const root of roots.values()) disarm(root);
    roots.clear();
    for (const { timer } of timers.values()) clearTimeout(timer);
    timers.clear();
    clearInterval(rescanTimer);
    rescanTimer = undefined;
    clearTimeout(changedTimer);
    changedTimer = undefined;
    settle();
  };

  const waitIdle = (timeoutMs: number): Promise<boolean> => {
    if (isIdle()) return Promise.resolve(true);
    return new Promise<boolean>((wake) => {
      const timer = setTimeout(() => {
        const index = idleWaiters.indexOf(done);
        if (index >= 0) idleWaiters.splice(index, 1);
        wake(false);
      }, timeoutMs);
      timer.unref();
      const done = () => {
        clearTimeout(timer);
        wake(true);
      };
      idleWaiters.push(done);
    });
  };

  const counts = () => {
    let skills = 0;
    let plugins = 0;
    let unscanned = 0;
    for (const skill of known.values()) {
      if (skill.kind === 'skill') skills += 1;
      else plugins += 1;
      if (skill.decision === 'unscanned') unscanned += 1;
    }
    return { skills, plugins, unscanned };
  };

  const watcher: SkillWatcher = {
    start() {
      if (started || closed) return;
      started = true;
      if (!settings.enabled) return;
      syncRoots();
      startRescanTimer();
      if (connected()) void watcher.onConnected();
    },
    async close(timeoutMs = 500) {
      if (closed) return;
      closed = true;
      abort.abort();
      stopWatching();
      queue.clear();
      const outstanding = [...inflight, ...(draining === undefined ? [] : [draining])];
      if (outstanding.length > 0) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          Promise.allSettled(outstanding),
          new Promise<void>((wake) => {
            timer = setTimeout(wake, timeoutMs);
          }),
        ]);
        clearTimeout(timer);
      }
      for (const wake of idleWaiters.splice(0)) wake();
    },
    setSettings(next) {
      const before = settings;
      settings = next;
      if (closed || !started) return;
      if (!next.enabled) {
        if (before.enabled) {
          stopWatching();
          log.info('watcher disabled by config');
        }
        return;
      }
      if (!before.enabled) log.info('watcher enabled by config');
      syncRoots();
      if (!before.enabled || before.rescanIntervalMs !== next.rescanIntervalMs) startRescanTimer();
      if (!before.enabled && connected()) void watcher.onConnected();
    },
    async onConnected() {
      if (closed || !started || !settings.enabled) {
        // Queued disables still go out: they were decided while the watcher ran.
        if (!closed && pending.size > 0) await flushPending();
        return;
      }
      await learn();
      await flushPending();
    },
    onDisconnected() {
      if (closed) return;
      clearTimeout(changedTimer);
      changedTimer = undefined;
      if (learned.length === 0) return;
      learned = [];
      syncRoots();
    },
    onGatewayEvent(name) {
      if (name !== 'skills.changed' || closed || !started || !settings.enabled) return;
      clearTimeout(changedTimer);
      changedTimer = setTimeout(() => {
        changedTimer = undefined;
        void learn();
      }, SKILLS_CHANGED_DEBOUNCE_MS);
      changedTimer.unref();
    },
    rescan: () => fullRescan(),
    idle: (timeoutMs = 10_000) => waitIdle(timeoutMs),
    health() {
      const c = counts();
      const dirs = [...roots.values()].map((root) => ({
        path: displayPath(root.path),
        kind: root.kind,
        source: root.source,
        ok: root.ok,
        ...(root.error === undefined ? {} : { error: root.error }),
      }));
      const none = {
        dirs: undefined,
        skills: undefined,
        plugins: undefined,
        scans_total: undefined,
        flagged_total: undefined,
        disabled_total: undefined,
        failed_actions: undefined,
        unscanned: undefined,
        pending_actions: undefined,
        last_scan_at: undefined,
        take_action: undefined,
        enforcing: undefined,
        idle: undefined,
        reason: undefined,
      };
      if (closed) return { state: 'stopped', lastError: undefined, details: {} };
      if (!settings.enabled) {
        return {
          state: 'disabled',
          lastError: undefined,
          details: { ...none, reason: 'disabled by config (gateway.watcher.enabled: false)' },
        };
      }
      const details: Record<string, unknown> = {
        ...none,
        dirs,
        skills: c.skills,
        plugins: c.plugins,
        scans_total: counters.scans,
        flagged_total: counters.flagged,
        disabled_total: counters.disabled,
        failed_actions: counters.failedActions,
        unscanned: c.unscanned,
        pending_actions: pending.size,
        last_scan_at:
          counters.lastScanAt === undefined ? undefined : new Date(counters.lastScanAt).toISOString(),
        take_action: settings.takeAction,
        enforcing: enforcing(),
        idle: dirs.length === 0 ? true : undefined,
      };
      if (!started) return { state: 'starting', lastError: undefined, details };
      // A dir that does not exist yet is normal (OpenClaw creates them lazily); only real failures count.
      const failing = [...roots.values()].filter((root) => !root.ok && !root.missing);
      if (roots.size > 0 && failing.length === roots.size) {
        return { state: 'error', lastError: `every watched dir failed: ${failing[0]!.error}`, details };
      }
      if (scannerError !== undefined) return { state: 'error', lastError: scannerError, details };
      return { state: 'running', lastError: undefined, details };
    },
    get stats() {
      const c = counts();
      return {
        scans: counters.scans,
        flagged: counters.flagged,
        disabled: counters.disabled,
        failedActions: counters.failedActions,
        unscanned: c.unscanned,
        pendingActions: pending.size,
        skills: c.skills,
        plugins: c.plugins,
        lastScanAt: counters.lastScanAt,
      };
    },
  };
  return watcher;
}

// --- internal ---

type RootSource = 'skills.status' | 'config';

type Root = {
  path: string;
  kind: AdmissionKind;
  source: RootSource;
  ok: boolean;
  /** The dir does not exist (yet); not a failure. */
  missing: boolean;
  error?: string | undefined;
  watcher?: FSWatcher | undefined;
  ancestorWatcher?: FSWatcher | undefined;
};

type LearnedRoot = { path: string };

type Job = { type: 'scan' | 'discover'; kind: AdmissionKind; dir: string; root: string };

type KnownSkill = {
  kind: AdmissionKind;
  key: string;
  root: string;
  hash: string | undefined;
  decision: AdmissionDecision;
};

type PendingAction = { kind: AdmissionKind; key: string; dir: string; queuedAt: number; why?: string };

// The fields of `skills.status` the watcher reads; everything else passes (loose, like every incoming wire object).
const SkillsStatusDirsSchema = v.looseObject({
  workspaceDir: v.nullish(v.string()),
  managedSkillsDir: v.nullish(v.string()),
  skills: v.array(
    v.looseObject({
      name: v.string(),
      skillKey: v.optional(v.string()),
      bundled: v.optional(v.boolean()),
      baseDir: v.optional(v.string()),
      filePath: v.optional(v.string()),
    }),
  ),
});

function markerOf(kind: AdmissionKind): string {
  return kind === 'plugin' ? PLUGIN_MARKER : SKILL_MARKER;
}

function closerAncestorExists(path: string, ancestor: string): boolean {
  const rel = relative(ancestor, path);
  const first = rel.split(sep)[0];
  return first !== undefined && first !== '' && dirExistsSync(join(ancestor, first));
}

function realpathOr(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

// Whole-name glob with `*` and `?`, case-sensitive (the list semantics of spec 30 §A3.4).
function globMatch(pattern: string, name: string): boolean {
  if (!pattern.includes('*') && !pattern.includes('?')) return pattern === name;
  const source = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${source}$`, 's').test(name);
}

function closeQuietly(watcher: FSWatcher): void {
  try {
    watcher.close();
  } catch {
    // already closed
  }
}

// Waits `ms`; false when aborted first.
function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise<boolean>((wake) => {
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      wake(true);
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      wake(false);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

function errorCode(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string') {
    return error.code;
  }
  return error instanceof Error ? error.name : String(error);
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
