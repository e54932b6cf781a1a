import { statSync } from 'node:fs';
import {
  type CompiledPolicy,
  compilePolicy,
  loadBundledPacks,
  type PackSource,
  type PolicyConfigInput,
  type PolicyIssue,
  readPackFiles,
} from '@defenseclaw/policy';
import type { Logger } from '@defenseclaw/protocol';
import { CliError, EXIT_CODES } from '../cli-error.ts';
import { displayPath } from '../config/paths.ts';
import type { Config } from '../config/schema.ts';

/** A compiled generation and where its packs came from. */
export type LoadedPolicy = {
  policy: CompiledPolicy;
  /** Operator pack dirs that existed and were read. */
  packDirs: string[];
  /** Compile warnings, as the engine wrote them. */
  warnings: PolicyIssue[];
};

/**
 * Compiles the bundled default pack (unless `policy.bundled: false`) plus every operator pack in the
 * `policy.pack_dirs` that exist (spec 30 §A4; a missing dir is skipped, the default `policies/` usually is).
 *
 * @throws CliError with exit code 3 and every compile error (`file:line:col rule X: …`) when a pack is invalid or
 * unreadable: the sidecar never runs with an unknown posture (spec 20 §10).
 */
export async function loadSidecarPolicy(config: Config, logger?: Logger): Promise<LoadedPolicy> {
  const packs: PackSource[] = config.policy.bundled ? loadBundledPacks() : [];
  const packDirs: string[] = [];
  const readErrors: string[] = [];
  for (const dir of config.policy.pack_dirs) {
    if (!exists(dir)) {
      logger?.debug(`policy: pack dir ${displayPath(dir)} does not exist; skipped`);
      continue;
    }
    try {
      packs.push(...(await readPackFiles(dir)));
      packDirs.push(dir);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      readErrors.push(`  cannot read ${displayPath(dir)}: ${code}`);
    }
  }
  if (readErrors.length > 0) {
    throw new CliError(EXIT_CODES.CONFIG, ['policy error: operator packs', ...readErrors].join('\n'));
  }
  const compiled = compilePolicy({
    packs,
    config: policyConfigInput(config),
    bundled: config.policy.bundled,
    // The bundled pack's examples are verified by its own test suite in CI; skipping them here (and compiling
    // bundled patterns on first use) keeps startup fast. Operator packs are always fully checked.
    verifyBundledExamples: false,
  });
  if (!compiled.success) {
    const errors = compiled.errors.filter((issue) => issue.severity === 'error');
    throw new CliError(
      EXIT_CODES.CONFIG,
      [
        `policy error: ${errors.length} problem${errors.length === 1 ? '' : 's'} in the rule packs`,
        ...(errors.length > 0 ? errors : compiled.errors).map((issue) => `  ${issue.message}`),
      ].join('\n'),
    );
  }
  return { policy: compiled.policy, packDirs, warnings: compiled.warnings };
}

/** The `policy.*` keys the engine compiles (spec 30's keys; mode, packs and fail modes stay with the sidecar). */
export function policyConfigInput(config: Config): PolicyConfigInput {
  const { profile, profiles, profile_by_lane, overrides, tool_classes, approval_tool_name } = config.policy;
  const input: PolicyConfigInput = { profile };
  if (profiles !== undefined) input.profiles = profiles;
  if (profile_by_lane !== undefined) input.profile_by_lane = profile_by_lane;
  if (overrides !== undefined) input.overrides = overrides;
  if (tool_classes !== undefined) input.tool_classes = tool_classes;
  if (approval_tool_name !== undefined) input.approval_tool_name = approval_tool_name;
  return input;
}

// --- internal ---

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}
