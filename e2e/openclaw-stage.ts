// The stage every sidecar e2e suite starts from: the scripted fake LLM, a scratch HOME, the fixtures-README
// OpenClaw config pointing at that LLM, an empty DefenseClaw data dir, and a real OpenClaw gateway on a free
// loopback port. `close()` takes it all down again and reports what OpenClaw left outside its TMPDIR.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type FakeLlm, startFakeLlm } from './fake-llm.ts';
import { writeFixtureOpenClawConfig } from './openclaw-config.ts';
import {
  createScratchDir,
  e2eCacheDir,
  getFreeLoopbackPort,
  locateOpenClaw,
  type OpenClawGateway,
  type ScratchDir,
  startOpenClawGateway,
} from './openclaw-harness.ts';

/** Is a running stage: the fake LLM, the scratch dirs and the OpenClaw gateway. */
export type OpenClawStage = {
  llm: FakeLlm;
  scratch: ScratchDir;
  gateway: OpenClawGateway;
  /** Is the OpenClaw gateway port. */
  port: number;
  /** Is OpenClaw's `openclaw.json`. */
  configPath: string;
  /** Is the agent workspace. */
  workspace: string;
  /** Is an empty DefenseClaw data dir (0700). */
  dcHome: string;
  /** Stops the gateway and the fake LLM and removes the scratch dirs; safe to call twice. */
  close(): Promise<void>;
};

/**
 * Starts the stage; `prepareWorkspace` runs before OpenClaw starts (plant files there).
 *
 * @throws when OpenClaw is not in the e2e cache: enabled but not installed is a failure, not a skip.
 */
export async function startOpenClawStage(options: {
  token: string;
  prepareWorkspace?: (workspace: string) => void;
}): Promise<OpenClawStage> {
  const located = locateOpenClaw();
  if (!located.success) {
    throw new Error(
      `OpenClaw is not in the e2e cache ${e2eCacheDir()} (${located.reason}); run \`pnpm test:e2e\``,
    );
  }
  const llm = await startFakeLlm();
  const scratch = await createScratchDir();
  let gateway: OpenClawGateway | undefined;
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await gateway?.stop();
    await llm.close();
    const removed = await scratch.remove();
    if (removed.removedShared.length > 0) {
      process.stderr.write(
        `e2e: removed what OpenClaw left outside its TMPDIR: ${removed.removedShared.join(', ')}\n`,
      );
    }
  };
  try {
    const port = await getFreeLoopbackPort();
    const configPath = join(scratch.home, '.openclaw', 'openclaw.json');
    const workspace = join(scratch.home, 'workspace');
    mkdirSync(workspace, { recursive: true });
    options.prepareWorkspace?.(workspace);
    writeFixtureOpenClawConfig(configPath, {
      port,
      token: options.token,
      workspace,
      llmBaseUrl: llm.baseUrl,
      logFile: join(scratch.tmp, 'openclaw.log'),
    });
    const dcHome = join(scratch.root, 'defenseclaw');
    mkdirSync(dcHome, { mode: 0o700 });
    gateway = await startOpenClawGateway({
      install: located.install,
      scratch,
      port,
      args: ['gateway', 'run', '--port', String(port), '--bind', 'loopback'],
    });
    return { llm, scratch, gateway, port, configPath, workspace, dcHome, close };
  } catch (error) {
    await close();
    throw error;
  }
}
