import { defineCommand } from 'citty';
import { CliError, EXIT_CODES } from '../cli-error.ts';
import {
  type ApiResponse,
  ApiUnreachableError,
  apiErrorMessage,
  apiRequest,
  readApiSettings,
  readApiToken,
} from './_api-client.ts';
import { type GlobalFlags, globalArgs } from './_global-args.ts';
import { lifecycleContext } from './_lifecycle.ts';
import { createOutput } from './_output.ts';

/** Flags of `policy reload`. */
export type PolicyReloadFlags = GlobalFlags & { json?: boolean | undefined };

/** The 200 body of `POST /policy/reload` (spec 20 §6.1). */
type ReloadBody = {
  status?: string;
  generation?: unknown;
  policy?: { profile?: string; mode?: string; packs?: unknown; rules?: number };
  restart_required?: string[];
};

const reload = defineCommand({
  meta: { name: 'reload', description: 'Reload config.yaml, .env and rule packs in the running daemon' },
  args: { ...globalArgs, json: { type: 'boolean', description: 'Print the API answer as JSON' } },
  async run({ args }) {
    await policyReloadCommand(args);
  },
});

/** `policy reload [--json]` (spec 20 §2.8). */
export default defineCommand({
  meta: { name: 'policy', description: 'Policy operations on the running daemon (policy reload)' },
  args: { ...globalArgs },
  subCommands: { reload },
});

/**
 * Runs `policy reload`: `POST /policy/reload` with the token and `X-DefenseClaw-Client: cli`. Exit 0 with the new
 * generation; 3 when the daemon rejects the config or a pack (old generation kept); 1 when it is not running.
 */
export async function policyReloadCommand(flags: PolicyReloadFlags): Promise<void> {
  const out = createOutput(flags);
  const ctx = lifecycleContext(flags);
  const api = await readApiSettings(ctx.configPath);
  const token = readApiToken(ctx.dataDir, api.tokenEnv, { strict: true });
  let response: ApiResponse;
  try {
    response = await apiRequest(api, {
      method: 'POST',
      path: '/policy/reload',
      token,
      body: {},
      timeoutMs: 30_000,
    });
  } catch (error) {
    if (!(error instanceof ApiUnreachableError)) throw error;
    throw new CliError(EXIT_CODES.RUNTIME, 'Gateway sidecar is not running');
  }
  if (flags.json && (response.status === 200 || response.status === 422)) out.out(response.text.trim());
  if (response.status === 200) {
    if (!flags.json) for (const line of describeReload(response.json as ReloadBody)) out.out(line);
    return;
  }
  if (response.status === 422) {
    const details = (response.json as { error?: { details?: { errors?: unknown[] } } } | undefined)?.error
      ?.details;
    const issues = (details?.errors ?? []).map((e) => `  ${typeof e === 'string' ? e : JSON.stringify(e)}`);
    throw new CliError(
      EXIT_CODES.CONFIG,
      flags.json ? '' : ['policy reload: FAILED', `  ${apiErrorMessage(response)}`, ...issues].join('\n'),
    );
  }
  if (response.status === 404) {
    throw new CliError(
      EXIT_CODES.RUNTIME,
      "policy reload: the running daemon has no /policy/reload route yet; use 'defenseclaw-gateway restart'",
    );
  }
  throw new CliError(EXIT_CODES.RUNTIME, `policy reload: FAILED: ${apiErrorMessage(response)}`);
}

/** The lines printed for a successful reload. */
export function describeReload(body: ReloadBody): string[] {
  const policy = body.policy ?? {};
  const packs = Array.isArray(policy.packs) ? policy.packs.length : policy.packs;
  const generation =
    typeof body.generation === 'object' && body.generation !== null && 'id' in body.generation
      ? String((body.generation as { id: unknown }).id)
      : String(body.generation ?? '?');
  const lines = [
    `Policy reloaded: profile ${policy.profile ?? '?'}, mode ${policy.mode ?? '?'}, ${packs ?? '?'} packs, ${policy.rules ?? '?'} rules (generation ${generation})`,
  ];
  if ((body.restart_required ?? []).length > 0) {
    lines.push(
      `  ! restart required for: ${(body.restart_required ?? []).join(', ')} (run: defenseclaw-gateway restart)`,
    );
  }
  return lines;
}
