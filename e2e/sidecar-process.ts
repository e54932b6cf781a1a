// Runs the real sidecar binary (`defenseclaw-gateway run --home <dir>`) as a child process for tests
// that judge real traffic: start it, poll `GET /health`, stop it gracefully or `kill -9` it.
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Is the sidecar's CLI entry point. */
export const SIDECAR_BIN = fileURLToPath(
  new URL('../apps/gateway/bin/defenseclaw-gateway.js', import.meta.url),
);

/** Is one entry of `GET /health`. */
export type SidecarHealthEntry = { state: string; since?: string; lastError?: string; details?: unknown };

/** Is the `GET /health` body: subsystem name → entry. */
export type SidecarHealth = Record<string, SidecarHealthEntry>;

/** Describes how to start the sidecar. */
export type StartSidecarOptions = {
  /** Is the data dir passed as `--home`. */
  home: string;
  /** Is the API port (`DEFENSECLAW__GATEWAY__API_PORT`). */
  apiPort: number;
  /** Are extra variables (`OPENCLAW_GATEWAY_TOKEN`, `DEFENSECLAW__…` overrides); the rest of the env is ours minus every `DEFENSECLAW*`/`OPENCLAW*` name. */
  env?: Record<string, string>;
  /** Is the CLI entry point to run (a stand-in for harness checks). @default SIDECAR_BIN */
  bin?: string;
  /** @default 400 */
  outputLines?: number;
};

/** Is a running sidecar child. */
export type SidecarProcess = {
  pid: number;
  apiPort: number;
  home: string;
  /** Returns the last stderr/stdout lines (the sidecar logs on stderr). */
  output(): string;
  /** Tells whether the process has exited. */
  readonly exited: boolean;
  /** Resolves with the exit code or signal once the process is gone. */
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Fetches `GET /health`, or `undefined` while nothing answers. */
  health(): Promise<SidecarHealth | undefined>;
  /** Polls `/health` every 50 ms until `predicate` holds; throws with the output on timeout or early exit. */
  waitForHealth(predicate: (health: SidecarHealth) => boolean, timeoutMs?: number): Promise<SidecarHealth>;
  /** Sends SIGTERM and waits; SIGKILL after `killAfterMs`. */
  stop(options?: {
    killAfterMs?: number;
  }): Promise<{ code: number | null; signal: NodeJS.Signals | null; stopMs: number }>;
  /** Sends SIGKILL (kill -9) and waits until the process is gone. */
  kill9(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
};

// Children not yet reaped, for the exit hook.
const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Returns our environment without any `DEFENSECLAW*` or `OPENCLAW*` variable, plus `extra`. */
export function sidecarEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    const upper = key.toUpperCase();
    if (upper.startsWith('DEFENSECLAW') || upper.startsWith('OPENCLAW')) continue;
    env[key] = value;
  }
  return { ...env, NO_COLOR: '1', ...extra };
}

/** Spawns `node apps/gateway/bin/defenseclaw-gateway.js run --home <home>` (it is ready once `/health` says so). */
export function startSidecar(options: StartSidecarOptions): SidecarProcess {
  installExitHook();
  const { home, apiPort, bin = SIDECAR_BIN, outputLines = 400 } = options;
  const child = spawn(process.execPath, [bin, 'run', '--home', home], {
    env: sidecarEnv({ DEFENSECLAW__GATEWAY__API_PORT: String(apiPort), ...options.env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`cannot spawn ${process.execPath} ${bin}`);
  liveChildren.add(child);
  const ring: string[] = [];
  for (const stream of [child.stdout, child.stderr]) {
    let partial = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        ring.push(line);
        if (ring.length > outputLines) ring.shift();
      }
    });
  }
  let exited = false;
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = true;
      liveChildren.delete(child);
      resolve({ code, signal });
    });
  });
  const base = `http://127.0.0.1:${apiPort}`;
  const health = async (): Promise<SidecarHealth | undefined> => {
    try {
      const response = await fetch(`${base}/health`, { signal: AbortSignal.timeout(2_000) });
      return (await response.json()) as SidecarHealth;
    } catch {
      return undefined;
    }
  };
  const output = () => ring.join('\n');
  return {
    pid,
    apiPort,
    home,
    output,
    get exited() {
      return exited;
    },
    exit,
    health,
    async waitForHealth(predicate, timeoutMs = 30_000) {
      const deadline = performance.now() + timeoutMs;
      let last: SidecarHealth | undefined;
      for (;;) {
        if (exited) {
          const { code, signal } = await exit;
          throw new Error(
            `the sidecar exited (code ${code}, signal ${signal})\n--- sidecar output ---\n${output()}\n---`,
          );
        }
        last = await health();
        if (last !== undefined && predicate(last)) return last;
        if (performance.now() > deadline) {
          throw new Error(
            `sidecar /health did not reach the wanted state within ${timeoutMs} ms; last: ${JSON.stringify(last)}\n--- sidecar output ---\n${output()}\n---`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    async stop(stopOptions = {}) {
      const started = performance.now();
      if (!exited) {
        child.kill('SIGTERM');
        let timer: NodeJS.Timeout | undefined;
        const killed = new Promise<void>((resolve) => {
          timer = setTimeout(() => {
            if (!exited) child.kill('SIGKILL');
            resolve();
          }, stopOptions.killAfterMs ?? 15_000);
        });
        await Promise.race([exit, killed]);
        clearTimeout(timer);
      }
      const result = await exit;
      return { ...result, stopMs: Math.round(performance.now() - started) };
    },
    async kill9() {
      if (!exited) child.kill('SIGKILL');
      return exit;
    },
  };
}

// --- internal ---

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last resort when the test process ends before its after() hooks ran.
  process.once('exit', () => {
    for (const child of liveChildren) child.kill('SIGKILL');
    liveChildren.clear();
  });
}
