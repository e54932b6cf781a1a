// The `openclaw.json` the fixtures were recorded with (fixtures README, "Setup used"): the agent's
// model is the scripted fake LLM, tools run in-process, and every `exec` asks for approval.
import { writeFileSync } from 'node:fs';

/** Describes the values that differ per test run. */
export type FixtureConfigOptions = {
  /** Is the gateway port (also passed on the command line). */
  port: number;
  /** Is the shared gateway token. */
  token: string;
  /** Is the agent workspace (the `cwd` of exec calls). */
  workspace: string;
  /** Is the fake LLM's `/v1` base URL. */
  llmBaseUrl: string;
  /** Is OpenClaw's log file; without it OpenClaw logs to the fixed `/tmp/openclaw/`. */
  logFile: string;
};

/** Returns the fixtures-README config as JSON text. */
export function fixtureOpenClawConfig(options: FixtureConfigOptions): string {
  const config = {
    gateway: {
      mode: 'local',
      bind: 'loopback',
      port: options.port,
      auth: { mode: 'token', token: options.token },
    },
    agents: {
      defaults: {
        workspace: options.workspace,
        skipBootstrap: true,
        model: { primary: 'fakellm/fake-model' },
        utilityModel: '',
        heartbeat: { every: '0m' },
      },
    },
    models: {
      mode: 'merge',
      catalogRefresh: { enabled: false },
      providers: {
        fakellm: {
          baseUrl: options.llmBaseUrl,
          apiKey: 'sk-fake-local-harness',
          api: 'openai-completions',
          // Selects the embedded runtime, which runs tools in-process.
          agentRuntime: { id: 'openclaw' },
          models: [
            {
              id: 'fake-model',
              name: 'Fake Model',
              reasoning: false,
              input: ['text'],
              cost: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 },
              contextWindow: 128000,
              maxTokens: 4096,
            },
          ],
        },
      },
    },
    // Security allowlist + ask on-miss with an empty allowlist: every exec asks for approval.
    tools: { exec: { mode: 'ask', notifyOnExit: false } },
    plugins: { entries: { 'memory-core': { config: { dreaming: { enabled: false } } } } },
    update: { checkOnStart: false },
    telemetry: { enabled: false },
    logging: { file: options.logFile },
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}

/** Writes the fixtures-README config to `path`. */
export function writeFixtureOpenClawConfig(path: string, options: FixtureConfigOptions): void {
  writeFileSync(path, fixtureOpenClawConfig(options));
}
