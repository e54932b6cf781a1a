// Health, status, metrics and policy routes (spec 20 §6.1).
import { LANES, loadBundledPacks, PROVENANCES, type Subject, toWire } from '@defenseclaw/policy';
import * as v from 'valibot';
import type { ApiContext, Handler } from './_context.ts';
import { iso, readBody } from './_http.ts';
import { RestApiError } from './errors.ts';

/** Registers `/health`, `/status`, `/metrics` and the `/policy` routes. */
export function registerStatusRoutes(api: ApiContext): void {
  const { deps } = api;

  api.route('GET', '/health', 'open', (c) => {
    const strict = c.req.query('strict');
    const failing = strict === '1' || strict === 'true' ? deps.health.failing() : [];
    // A strict probe that finds a failed subsystem still gets the map: monitors read which one.
    return c.json(deps.health.snapshot(), failing.length > 0 ? 503 : 200);
  });

  api.route('GET', '/status', 'read', async (c) => c.json((await deps.status()) as Record<string, unknown>));

  api.route('GET', '/metrics', 'read', async (c) => {
    const metrics = deps.metrics;
    if (metrics === undefined || !api.metricsEnabled()) {
      throw new RestApiError('metrics_disabled', 'metrics are disabled (telemetry.metrics: false)');
    }
    metrics.setSubsystemStates(deps.health.snapshot());
    const text = await metrics.scrape();
    return c.body(text, 200, { 'Content-Type': metrics.registry.contentType });
  });

  api.route('GET', '/policy', 'read', (c) => {
    const { engine } = deps.policy;
    const settings = deps.policy.settings();
    const generation = engine.generation;
    return c.json({
      profile: settings.profile,
      mode: settings.mode,
      generation: { id: generation.id, digest: generation.digest, loaded_at: iso(generation.loadedAt) },
      packs: describePacks(api),
      rules_total: engine.stats.rules,
      lists: deps.store.lists.counts(api.now()),
    });
  });

  api.route('POST', '/policy/evaluate', 'write', async (c) => {
    const body = await readBody(c, EvaluateBodySchema);
    const settings = deps.policy.settings();
    if (body.profile != null && body.profile !== settings.profile) {
      throw new RestApiError(
        'validation_failed',
        `profile override is not supported: the running generation uses profile ${settings.profile}`,
        { details: { issues: [{ path: 'profile', message: `must be ${settings.profile}` }] } },
      );
    }
    const lane = body.lane ?? 'dry_run';
    const ctx = {
      lane,
      mode: body.mode ?? settings.mode,
      nowMs: api.now(),
      meta: { requestId: c.get('requestId') },
      ...(settings.budgetMs !== undefined ? { budgetMs: settings.budgetMs } : {}),
      ...(body.approval_surface != null ? { approvalSurface: body.approval_surface } : {}),
      ...(body.connector != null ? { connector: body.connector } : {}),
    };
    const verdict = deps.policy.engine.evaluate(subjectOf(body.subject), ctx);
    // Dry runs on a production lane are not counted there: they would skew the lane's dashboards.
    if (lane === 'dry_run') api.metrics?.recordVerdict(verdict);
    return c.json({ dry_run: true, verdict: toWire(verdict) });
  });

  let reloading = false;
  const reload: Handler = async (c) => {
    await readBody(c, v.object({}));
    if (reloading) throw new RestApiError('reload_in_progress', 'a reload is already running');
    reloading = true;
    const before = deps.policy.engine.generation.id;
    try {
      const outcome = await deps.policy.reload();
      if (!outcome.success) {
        const code = outcome.code ?? 'policy_invalid';
        if (code === 'reload_in_progress') {
          throw new RestApiError('reload_in_progress', 'a reload is already running');
        }
        throw new RestApiError(
          code,
          `reload failed: ${outcome.errors.length} problem${outcome.errors.length === 1 ? '' : 's'}; generation ${before} kept`,
          { details: { generation: before, errors: [...outcome.errors] } },
        );
      }
      const { engine } = deps.policy;
      const settings = deps.policy.settings();
      api.log.info(`policy reloaded via the API: generation ${engine.generation.id}`);
      return c.json({
        status: 'reloaded',
        generation: engine.generation.id,
        policy: {
          profile: settings.profile,
          mode: settings.mode,
          packs: engine.stats.packs,
          rules: engine.stats.rules,
        },
        restart_required: [...(outcome.restartRequired ?? [])],
      });
    } finally {
      reloading = false;
    }
  };
  api.route('POST', '/policy/reload', 'write', reload);
  api.route('POST', '/api/v1/policy/reload', 'write', reload);
}

// --- internal ---

const str = (max: number) => v.pipe(v.string(), v.maxLength(max));
const opt = (max: number) => v.nullish(str(max));

const SubjectSchema = v.variant('kind', [
  v.object({
    kind: v.literal('tool_call'),
    tool: str(256),
    args: v.optional(v.unknown()),
    tool_call_id: opt(512),
    mcp_server: opt(256),
  }),
  v.object({
    kind: v.literal('tool_result'),
    tool: str(256),
    text: v.string(),
    is_error: v.nullish(v.boolean()),
    exit_code: v.nullish(v.pipe(v.number(), v.integer())),
    tool_call_id: opt(512),
  }),
  v.object({
    kind: v.literal('approval'),
    approval_id: opt(512),
    command_text: v.nullish(v.string()),
    argv: v.nullish(v.array(v.string())),
    command_variants: v.nullish(v.array(v.string())),
    cwd: v.nullish(v.string()),
    host: opt(256),
    expires_at_ms: v.nullish(v.number()),
  }),
  v.object({
    kind: v.literal('prompt'),
    messages: v.array(
      v.object({
        index: v.nullish(v.pipe(v.number(), v.integer(), v.minValue(0))),
        role: str(64),
        provenance: v.picklist(PROVENANCES),
        text: v.string(),
        tool_name: opt(256),
      }),
    ),
    model: opt(256),
  }),
  v.object({
    kind: v.literal('completion'),
    text: v.string(),
    tool_calls: v.nullish(v.array(v.object({ id: opt(512), name: str(256), arguments: v.string() }))),
    model: opt(256),
  }),
  v.object({
    kind: v.literal('skill'),
    skill_key: str(256),
    files: v.array(v.object({ path: str(4096), text: v.string() })),
  }),
]);

const EvaluateBodySchema = v.object({
  lane: v.nullish(v.picklist(LANES)),
  subject: SubjectSchema,
  profile: opt(64),
  mode: v.nullish(v.picklist(['observe', 'action'])),
  approval_surface: opt(32),
  connector: opt(256),
});

/** Maps the snake_case dry-run subject (spec 30 §A2.1) to the engine's camelCase one. */
function subjectOf(s: v.InferOutput<typeof SubjectSchema>): Subject {
  switch (s.kind) {
    case 'tool_call': {
      const out: Subject = { kind: 'tool_call', tool: s.tool, args: s.args ?? {} };
      if (s.tool_call_id != null) out.toolCallId = s.tool_call_id;
      if (s.mcp_server != null) out.mcpServer = s.mcp_server;
      return out;
    }
    case 'tool_result': {
      const out: Subject = { kind: 'tool_result', tool: s.tool, text: s.text, isError: s.is_error ?? false };
      if (s.exit_code != null) out.exitCode = s.exit_code;
      if (s.tool_call_id != null) out.toolCallId = s.tool_call_id;
      return out;
    }
    case 'approval': {
      const out: Subject = { kind: 'approval', approvalId: s.approval_id ?? 'dry-run' };
      if (s.command_text != null) out.commandText = s.command_text;
      if (s.argv != null) out.argv = s.argv;
      if (s.command_variants != null) out.commandVariants = s.command_variants;
      if (s.cwd != null) out.cwd = s.cwd;
      if (s.host != null) out.host = s.host;
      if (s.expires_at_ms != null) out.expiresAtMs = s.expires_at_ms;
      return out;
    }
    case 'prompt': {
      const out: Subject = {
        kind: 'prompt',
        messages: s.messages.map((m, i) => ({
          index: m.index ?? i,
          role: m.role,
          provenance: m.provenance,
          text: m.text,
          ...(m.tool_name != null ? { toolName: m.tool_name } : {}),
        })),
      };
      if (s.model != null) out.model = s.model;
      return out;
    }
    case 'completion': {
      const out: Subject = {
        kind: 'completion',
        text: s.text,
        toolCalls: (s.tool_calls ?? []).map((t) => ({
          name: t.name,
          arguments: t.arguments,
          ...(t.id != null ? { id: t.id } : {}),
        })),
      };
      if (s.model != null) out.model = s.model;
      return out;
    }
    case 'skill':
      return { kind: 'skill', skillKey: s.skill_key, files: s.files };
  }
}

let bundledFiles: ReadonlySet<string> | undefined;

/** The per-pack breakdown of `GET /policy`; without the compiled generation, only names and versions. */
function describePacks(api: ApiContext): Record<string, unknown>[] {
  const generation = api.deps.policy.engine.generation;
  const compiled = api.deps.policy.compiled?.();
  if (compiled === undefined) {
    return generation.packs.map((p) => ({ name: p.name, version: p.version, source: null, rules: null }));
  }
  bundledFiles ??= new Set(loadBundledPacks().map((p) => p.path));
  const byPack = new Map<string, { file: string; rules: number; enabled: number }>();
  for (const rule of compiled.rules) {
    const entry = byPack.get(rule.pack) ?? { file: rule.file, rules: 0, enabled: 0 };
    entry.rules += 1;
    if (rule.enabled) entry.enabled += 1;
    byPack.set(rule.pack, entry);
  }
  return compiled.generation.packs.map((p) => {
    const entry = byPack.get(p.name);
    const bundled = entry !== undefined && bundledFiles!.has(entry.file);
    return {
      name: p.name,
      version: p.version,
      source: bundled ? 'bundled' : 'operator',
      ...(entry !== undefined && !bundled ? { path: entry.file } : {}),
      rules: entry?.rules ?? 0,
      enabled_rules: entry?.enabled ?? 0,
    };
  });
}
