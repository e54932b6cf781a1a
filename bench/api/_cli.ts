// Processes for bench:api: the real `defenseclaw-gateway` binary as a foreground daemon (`run`) in a temp home, and
// timed one-shot CLI runs (`status`, `start`, `stop`, plus bare-Node floors for the startup breakdown).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

/** The CLI entry point. */
export const BIN = fileURLToPath(new URL('../../apps/gateway/bin/defenseclaw-gateway.js', import.meta.url));

/** Whether `taskset` can pin processes to a CPU (and `BENCH_PIN=0` does not turn pinning off). */
export const HAS_TASKSET = (() => {
  if (process.env.BENCH_PIN === '0') return false;
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/** A temporary data dir with its own API port, `gateway.connect: false` and retention off. */
export type BenchHome = { dir: string; port: number; env: NodeJS.ProcessEnv };

/** Creates a bench home under the system temp dir; the caller removes `dir`. */
export async function createHome(token: string, extraConfig = ''): Promise<BenchHome> {
  const dir = mkdtempSync(join(tmpdir(), 'dc-bench-api-'));
  const port = await freePort();
  writeFileSync(
    join(dir, 'config.yaml'),
    `gateway:\n  connect: false\n  api_port: ${port}\naudit:\n  retention_days: 0\n${extraConfig}`,
    { mode: 0o600 },
  );
  return { dir, port, env: cleanEnv({ DEFENSECLAW_API_TOKEN: token }) };
}

/** Finds a free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A foreground daemon started by the bench. */
export type Daemon = { child: ChildProcess; readyMs: number; stop(): Promise<void> };

/**
 * Starts `run` for a home (pinned to `cpu` when taskset exists) and resolves once `/health` shows `api`, `audit`
 * and `policy` running; `readyMs` is spawn → ready.
 */
export async function startDaemon(home: BenchHome, cpu: number | undefined): Promise<Daemon> {
  const t0 = performance.now();
  const pin = HAS_TASKSET && cpu !== undefined;
  const child = spawn(
    pin ? 'taskset' : process.execPath,
    [...(pin ? ['-c', String(cpu), process.execPath] : []), BIN, 'run', '--home', home.dir],
    { env: home.env, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-8192);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let done = false;
  void exited.then(() => {
    done = true;
  });
  while (!(await isReady(home.port))) {
    if (done) throw new Error(`daemon exited during startup:\n${log}`);
    if (performance.now() - t0 > 60_000) {
      child.kill('SIGKILL');
      throw new Error(`daemon not ready within 60 s:\n${log}`);
    }
    await sleep(20);
  }
  const readyMs = performance.now() - t0;
  return {
    child,
    readyMs,
    async stop() {
      if (!done) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** A finished one-shot run: exit code, wall time and output. */
export type Timed = { code: number | null; ms: number; stdout: string; stderr: string };

/** Runs `node <args>` to completion and measures its wall time (spawn → exit). */
export async function timedNode(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  cwd: string = process.cwd(),
): Promise<Timed> {
  const t0 = performance.now();
  const child = spawn(process.execPath, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
  return { code, ms: performance.now() - t0, stdout, stderr };
}

/** Runs the CLI to completion against a home. */
export function timedCli(home: BenchHome, args: readonly string[]): Promise<Timed> {
  return timedNode([BIN, ...args, '--home', home.dir], home.env);
}

/** Sleeps. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// --- internal ---

async function isReady(port: number): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(1000) });
    const health = (await res.json()) as Record<string, { state?: string }>;
    return ['api', 'audit', 'policy'].every((key) => health[key]?.state === 'running');
  } catch {
    return false;
  }
}

/** The parent environment without anything that would point a child at a real data dir or OpenClaw. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    const upper = key.toUpperCase();
    if (upper.startsWith('DEFENSECLAW') || upper.startsWith('OPENCLAW')) continue;
    env[key] = value;
  }
  return { ...env, NO_COLOR: '1', ...extra };
}
