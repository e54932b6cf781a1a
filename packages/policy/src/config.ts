import * as v from 'valibot';
import { checkGlob } from './_glob.ts';
import {
  ACTIONS,
  LANES,
  type PolicyConfig,
  type PolicyIssue,
  type ProfileThresholds,
  SEVERITIES,
  type Severity,
  type ToolClasses,
} from './types.ts';

/** The built-in profiles (spec 30 §A3.2). */
export const BUILTIN_PROFILES: Readonly<Record<'strict' | 'default' | 'permissive', ProfileThresholds>> = {
  strict: { block: 'medium', alert: 'low' },
  default: { block: 'critical', confirm: 'high', alert: 'medium' },
  permissive: { block: 'critical', confirm: 'high' },
};

/** Default tool classes (tool-name globs). */
export const DEFAULT_TOOL_CLASSES: Readonly<ToolClasses> = {
  shell: ['exec', 'bash', 'shell', 'system.run', 'run_command', 'terminal', 'process'],
  read: ['read', 'read_file', 'view', 'cat', 'open', 'ls', 'list_dir', 'glob', 'grep', 'search_files'],
  write: [
    'write',
    'write_file',
    'edit',
    'edit_file',
    'multi_edit',
    'multiedit',
    'apply_patch',
    'create_file',
    'str_replace*',
  ],
  delete: ['delete', 'delete_file', 'remove', 'remove_file', 'rm', 'unlink'],
  fetch: ['web_fetch', 'fetch', 'http', 'http_request', 'browser', 'curl', 'download'],
  message: ['message', 'send_message', 'sessions_send', 'email', 'slack', 'discord', 'telegram'],
};

const severity = v.picklist(SEVERITIES, `must be one of ${SEVERITIES.join(', ')}`);
const action = v.picklist(ACTIONS, `must be one of ${ACTIONS.join(', ')}`);
const globList = v.array(v.pipe(v.string(), v.minLength(1)));

/** Validates the `policy.*` keys spec 30 introduces (snake_case, as in `config.yaml`). */
export const PolicyConfigSchema = v.strictObject({
  profile: v.optional(v.pipe(v.string(), v.minLength(1))),
  profiles: v.optional(
    v.record(
      v.pipe(v.string(), v.regex(/^[a-z0-9_-]{1,64}$/, 'profile names are [a-z0-9_-]{1,64}')),
      v.strictObject({ block: severity, confirm: v.optional(severity), alert: v.optional(severity) }),
    ),
  ),
  profile_by_lane: v.optional(
    v.record(
      v.picklist(LANES, `lane must be one of ${LANES.join(', ')}`),
      v.pipe(v.string(), v.minLength(1)),
    ),
  ),
  overrides: v.optional(
    v.array(
      v.strictObject({
        rule: v.pipe(v.string(), v.minLength(1)),
        enabled: v.optional(v.boolean()),
        severity: v.optional(severity),
        action: v.optional(action),
        detection_only: v.optional(v.boolean()),
        tools: v.optional(globList),
      }),
    ),
  ),
  tool_classes: v.optional(
    v.strictObject({
      shell: v.optional(globList),
      read: v.optional(globList),
      write: v.optional(globList),
      delete: v.optional(globList),
      fetch: v.optional(globList),
      message: v.optional(globList),
    }),
  ),
  approval_tool_name: v.optional(v.pipe(v.string(), v.minLength(1))),
  /** `guardrail.hilt.enabled`: the confirm band applies on lanes that can confirm. */
  hitl: v.optional(v.boolean()),
});

/** The `policy.*` config as written (snake_case). */
export type PolicyConfigInput = v.InferInput<typeof PolicyConfigSchema>;

/** Resolves and validates config input; issues carry `file: 'config'` and a `policy.<key>` path. */
export function resolvePolicyConfig(
  input: PolicyConfigInput | undefined,
): { success: true; config: PolicyConfig } | { success: false; errors: PolicyIssue[] } {
  const parsed = v.safeParse(PolicyConfigSchema, input ?? {});
  if (!parsed.success) {
    return {
      success: false,
      errors: parsed.issues.slice(0, 100).map((issue) => {
        const path = (issue.path ?? []).map((p) =>
          typeof p.key === 'number' ? `[${p.key}]` : `.${String(p.key)}`,
        );
        const where = `policy${path.join('')}`;
        const code =
          issue.type === 'picklist'
            ? 'E_ENUM'
            : issue.type === 'strict_object'
              ? 'E_SCHEMA_UNKNOWN_FIELD'
              : 'E_SCHEMA_TYPE';
        return {
          code,
          file: 'config',
          message: `config ${where}: ${issue.message}`,
          severity: 'error',
        } as PolicyIssue;
      }),
    };
  }
  const out = parsed.output;
  const errors: PolicyIssue[] = [];
  const issue = (where: string, message: string): void => {
    errors.push({
      code: 'E_OVERRIDE',
      file: 'config',
      message: `config ${where}: ${message}`,
      severity: 'error',
    });
  };
  const profiles: Record<string, ProfileThresholds> = { ...BUILTIN_PROFILES };
  for (const [name, p] of Object.entries(out.profiles ?? {})) {
    if (name in BUILTIN_PROFILES) issue(`policy.profiles.${name}`, 'cannot redefine a built-in profile');
    const rank = (s: Severity | undefined) => (s === undefined ? 99 : SEVERITIES.indexOf(s));
    if (p.confirm !== undefined && rank(p.confirm) > rank(p.block)) {
      issue(`policy.profiles.${name}`, 'confirm threshold must be ≤ block threshold');
    }
    if (p.alert !== undefined && rank(p.alert) > Math.min(rank(p.block), rank(p.confirm))) {
      issue(`policy.profiles.${name}`, 'alert threshold must be ≤ confirm and block thresholds');
    }
    const t: ProfileThresholds = { block: p.block };
    if (p.confirm !== undefined) t.confirm = p.confirm;
    if (p.alert !== undefined) t.alert = p.alert;
    profiles[name] = t;
  }
  const profile = out.profile ?? 'default';
  if (!(profile in profiles)) issue('policy.profile', `unknown profile "${profile}"`);
  for (const [lane, name] of Object.entries(out.profile_by_lane ?? {})) {
    if (!(name in profiles)) issue(`policy.profile_by_lane.${lane}`, `unknown profile "${name}"`);
  }
  const toolClasses: ToolClasses = {
    shell: [...(out.tool_classes?.shell ?? DEFAULT_TOOL_CLASSES.shell)],
    read: [...(out.tool_classes?.read ?? DEFAULT_TOOL_CLASSES.read)],
    write: [...(out.tool_classes?.write ?? DEFAULT_TOOL_CLASSES.write)],
    delete: [...(out.tool_classes?.delete ?? DEFAULT_TOOL_CLASSES.delete)],
    fetch: [...(out.tool_classes?.fetch ?? DEFAULT_TOOL_CLASSES.fetch)],
    message: [...(out.tool_classes?.message ?? DEFAULT_TOOL_CLASSES.message)],
  };
  for (const [cls, globs] of Object.entries(toolClasses)) {
    globs.forEach((g: string, i: number) => {
      const bad = checkGlob(g);
      if (bad) issue(`policy.tool_classes.${cls}[${i}]`, bad);
    });
  }
  const overrides = (out.overrides ?? []).map((o, i) => {
    const bad = checkGlob(o.rule);
    if (bad) issue(`policy.overrides[${i}].rule`, bad);
    for (const [j, g] of (o.tools ?? []).entries()) {
      const badTool = checkGlob(g);
      if (badTool) issue(`policy.overrides[${i}].tools[${j}]`, badTool);
    }
    return {
      rule: o.rule,
      ...(o.enabled !== undefined ? { enabled: o.enabled } : {}),
      ...(o.severity !== undefined ? { severity: o.severity } : {}),
      ...(o.action !== undefined ? { action: o.action } : {}),
      ...(o.detection_only !== undefined ? { detectionOnly: o.detection_only } : {}),
      ...(o.tools !== undefined ? { tools: [...o.tools] } : {}),
    };
  });
  if (errors.length > 0) return { success: false, errors };
  return {
    success: true,
    config: {
      profile,
      profiles,
      profileByLane: { ...(out.profile_by_lane ?? {}) },
      overrides,
      toolClasses,
      approvalToolName: out.approval_tool_name ?? 'exec',
      hitl: out.hitl ?? false,
    },
  };
}

/** Returns a canonical JSON string of a resolved config (sorted keys) for the generation digest. */
export function canonicalConfig(config: PolicyConfig): string {
  return canonicalJson(config);
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
