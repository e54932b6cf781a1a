// Default state of the fake gateway and the payload builders of its read-only methods, trimmed from the
// 2026.9.6 recordings (rpc.jsonl, state.jsonl) but keeping their shapes.
import { randomUUID } from 'node:crypto';
import type { SessionsListFilters } from '@defenseclaw/protocol';

/** A skill the fake lists in `skills.status`. */
export type FakeSkillEntry = {
  name: string;
  skillKey: string;
  description: string;
  source: string;
  bundled: boolean;
  eligible: boolean;
  bins: string[];
};

/** One session row of the fake (the fields `sessions.list` and session events carry). */
export type FakeSessionRow = {
  key: string;
  agentId: string;
  sessionId: string;
  createdAt: number;
  updatedAt: number;
  status: string;
  lastRunId: string | null;
  archived: boolean;
  label: string | null;
};

/** The skills a fake gateway starts with (bundled `1password` included). */
export const DEFAULT_SKILLS: readonly FakeSkillEntry[] = [
  {
    name: '1password',
    skillKey: '1password',
    description:
      'Set up and use 1Password CLI for sign-in, desktop integration, and reading or injecting secrets.',
    source: 'openclaw-bundled',
    bundled: true,
    eligible: false,
    bins: ['op'],
  },
  {
    name: 'github',
    skillKey: 'github',
    description: 'Interact with GitHub using the gh CLI.',
    source: 'openclaw-bundled',
    bundled: true,
    eligible: false,
    bins: ['gh'],
  },
  {
    name: 'healthcheck',
    skillKey: 'healthcheck',
    description: 'Check the health of the local OpenClaw install.',
    source: 'openclaw-bundled',
    bundled: true,
    eligible: true,
    bins: [],
  },
  {
    name: 'weather',
    skillKey: 'weather',
    description: 'Get current weather and forecasts.',
    source: 'openclaw-bundled',
    bundled: true,
    eligible: true,
    bins: [],
  },
  {
    name: 'browser-automation',
    skillKey: 'browser-automation',
    description: 'Drive a browser through the browser plugin.',
    source: 'openclaw-extra',
    bundled: false,
    eligible: true,
    bins: [],
  },
];

/** The config a fake gateway starts with: `plugins.entries` and no `plugins.allow`. */
export function defaultConfig(token: string | undefined): Record<string, unknown> {
  return {
    gateway: {
      mode: 'local',
      bind: 'loopback',
      auth: token === undefined ? { mode: 'none' } : { mode: 'token', token },
    },
    agents: {
      defaults: {
        workspace: '/home/openclaw/workspace',
        skipBootstrap: true,
        model: { primary: 'fakellm/fake-model' },
      },
    },
    tools: { exec: { mode: 'ask' } },
    plugins: {
      entries: {
        'memory-core': { config: { dreaming: { enabled: false } } },
        github: { enabled: true },
      },
    },
  };
}

/** Derives the agent id from a session key (`agent:<id>:<rest>`), defaulting to `main`. */
export function agentIdOf(sessionKey: string): string {
  const match = /^agent:([^:]+):/.exec(sessionKey);
  return match?.[1] ?? 'main';
}

/** Creates a session row for a key. */
export function createSessionRow(key: string, now = Date.now()): FakeSessionRow {
  return {
    key,
    agentId: agentIdOf(key),
    sessionId: randomUUID(),
    createdAt: now,
    updatedAt: now,
    status: 'done',
    lastRunId: null,
    archived: false,
    label: null,
  };
}

/** The full session object carried by session events and `sessions.list` rows. */
export function sessionObject(row: FakeSessionRow): Record<string, unknown> {
  const isMain = row.key === `agent:${row.agentId}:main`;
  return {
    key: row.key,
    visibility: 'shared',
    createdVia: 'operator',
    participantCount: 0,
    createdAt: row.createdAt,
    kind: 'direct',
    classification: 'direct',
    agentId: row.agentId,
    isMain,
    isBackground: false,
    chatType: 'direct',
    label: row.label,
    updatedAt: row.updatedAt,
    archived: row.archived,
    pinned: false,
    unread: false,
    sessionId: row.sessionId,
    status: row.status,
    lastRunId: row.lastRunId,
    ...(isMain ? {} : { parentSessionKey: `agent:${row.agentId}:main` }),
    modelProvider: 'fakellm',
    model: 'fake-model',
    contextTokens: 128000,
  };
}

/** The session fields OpenClaw also flattens into the top level of session event payloads. */
export function flattenedSessionFields(row: FakeSessionRow): Record<string, unknown> {
  return {
    updatedAt: row.updatedAt,
    sessionId: row.sessionId,
    kind: 'direct',
    visibility: 'shared',
    chatType: 'direct',
    archived: row.archived,
    status: row.status,
    modelProvider: 'fakellm',
    model: 'fake-model',
  };
}

/** Builds the `sessions.list` result object (an object with `sessions`, not an array). */
export function buildSessionsList(
  rows: Iterable<FakeSessionRow>,
  filters: SessionsListFilters,
): Record<string, unknown> {
  const now = Date.now();
  let list = [...rows].sort((a, b) => b.updatedAt - a.updatedAt);
  if (filters.agentId !== undefined) list = list.filter((r) => r.agentId === filters.agentId);
  if (filters.search !== undefined) {
    const needle = filters.search.toLowerCase();
    list = list.filter(
      (r) => r.key.toLowerCase().includes(needle) || (r.label ?? '').toLowerCase().includes(needle),
    );
  }
  if (filters.activeMinutes !== undefined) {
    const since = now - filters.activeMinutes * 60_000;
    list = list.filter((r) => r.updatedAt >= since);
  }
  list = list.filter((r) => r.archived === (filters.archived ?? false));
  const total = list.length;
  const offset = filters.offset ?? 0;
  const limit = filters.limit ?? 100;
  const page = list.slice(offset, offset + limit);
  const hasMore = offset + page.length < total;
  return {
    ts: now,
    path: '/home/openclaw/.openclaw/agents/main/agent/openclaw-agent.sqlite',
    count: page.length,
    totalCount: total,
    limitApplied: limit,
    nextOffset: hasMore ? offset + page.length : null,
    hasMore,
    owners: [],
    defaults: {
      modelProvider: 'fakellm',
      model: 'fake-model',
      contextTokens: 128000,
      thinkingLevels: [{ id: 'off', label: 'off' }],
      thinkingOptions: ['off'],
      thinkingDefault: 'off',
      modelSelectionTarget: 'session',
    },
    sessions: page.map((row) => ({ ...sessionObject(row), hasActiveRun: false, activeRunIds: [] })),
  };
}

/** Builds the `skills.status` result; `disabled` follows `skills.entries.<key>.enabled === false`. */
export function buildSkillsStatus(
  skills: readonly FakeSkillEntry[],
  config: Record<string, unknown>,
  agentId: string,
): Record<string, unknown> {
  const skillsSection = config.skills as { entries?: Record<string, { enabled?: unknown }> } | undefined;
  const entries = skillsSection?.entries ?? {};
  return {
    workspaceDir: '/home/openclaw/workspace',
    managedSkillsDir: '/home/openclaw/.openclaw/skills',
    agentId,
    skills: skills.map((skill) => {
      const disabled = entries[skill.skillKey]?.enabled === false;
      const missingBins = skill.eligible ? [] : [...skill.bins];
      const baseDir = skill.bundled
        ? `/opt/openclaw/node_modules/openclaw/skills/${skill.name}`
        : `/home/openclaw/.openclaw/skills/${skill.name}`;
      return {
        name: skill.name,
        description: skill.description,
        source: skill.source,
        bundled: skill.bundled,
        filePath: `${baseDir}/SKILL.md`,
        baseDir,
        skillKey: skill.skillKey,
        always: false,
        disabled,
        blockedByAllowlist: false,
        blockedByAgentFilter: false,
        eligible: skill.eligible && !disabled,
        platformIncompatible: false,
        modelVisible: skill.eligible && !disabled,
        userInvocable: true,
        commandVisible: false,
        requirements: { bins: [...skill.bins], anyBins: [], env: [], config: [], os: [] },
        missing: { bins: missingBins, anyBins: [], env: [], config: [], os: [] },
        configChecks: [],
        install: [],
      };
    }),
  };
}

const tool = (id: string, description: string, profiles: string[] = ['coding']) => ({
  id,
  label: id,
  description,
  source: 'core',
  defaultProfiles: profiles,
});

/** Builds the `tools.catalog` result (core groups, plus a plugin group when `includePlugins`). */
export function buildToolsCatalog(agentId: string, includePlugins: boolean): Record<string, unknown> {
  const groups: unknown[] = [
    {
      id: 'fs',
      label: 'Files',
      source: 'core',
      tools: [
        tool('ls', 'List directory entries'),
        tool('read', 'Read file contents'),
        tool('write', 'Create or overwrite files'),
        tool('edit', 'Make precise edits'),
        tool('apply_patch', 'Patch files'),
      ],
    },
    {
      id: 'runtime',
      label: 'Runtime',
      source: 'core',
      tools: [tool('exec', 'Run shell now.'), tool('process', 'Inspect/control exec sessions.')],
    },
    {
      id: 'web',
      label: 'Web',
      source: 'core',
      tools: [tool('web_search', 'Search the web'), tool('web_fetch', 'Fetch web content')],
    },
  ];
  if (includePlugins) {
    groups.push({
      id: 'plugin:browser',
      label: 'Browser',
      source: 'plugin',
      pluginId: 'browser',
      tools: [
        {
          id: 'browser',
          label: 'browser',
          description: 'Control a browser',
          source: 'plugin',
          pluginId: 'browser',
          optional: true,
          defaultProfiles: [],
        },
      ],
    });
  }
  return {
    agentId,
    profiles: [
      { id: 'minimal', label: 'Minimal' },
      { id: 'coding', label: 'Coding' },
      { id: 'messaging', label: 'Messaging' },
      { id: 'full', label: 'Full' },
    ],
    groups,
  };
}

/** Builds the `status` result (an opaque record on the client side). */
export function buildStatus(sessionCount: number, uptimeMs: number): Record<string, unknown> {
  return {
    runtimeVersion: '2026.9.6',
    heartbeat: {
      defaultAgentId: 'main',
      agents: [{ agentId: 'main', enabled: false, every: 'disabled', everyMs: null, waitingForRoute: false }],
    },
    channelSummary: [],
    queuedSystemEvents: [],
    degradedSecretOwners: [],
    degradedPlugins: [],
    tasks: { total: 0, active: 0, terminal: 0, failures: 0 },
    sessions: { count: sessionCount, defaults: { model: 'fake-model', contextTokens: 128000 }, recent: [] },
    eventLoop: { degraded: false, degradedSinceMs: null, reasons: [] },
    uptimeMs,
    pid: process.pid,
  };
}
