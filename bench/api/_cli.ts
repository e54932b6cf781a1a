// Processes for bench:api: the real `defenseclaw-gateway` binary as a foreground daemon (`run`) in a temp home, and
// timed one-shot CLI runs (`status`, `start`, `stop`, plus bare-Node floors for the startup breakdown).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

/** The CLI entry point. */
export const BIN = fileURLToPath(new URL('../../apps/gateway/bin/defenseclaw-gateway.js', import.meta.url));

/** Whether to pin the daemon and the load generator to a CPU each: `BENCH_PIN=1` and taskset present. */
export const PIN = (() => {
  if (process.env.BENCH_PIN !== '1') return false;
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/** GNU time, when installed: it reports a child's CPU time, which other load on the machine does not inflate. */
const GNU_TIME = (() => {
  try {
    execFileSync('/usr/bin/time', ['-f', '%U', 'true'], { stdio: 'ignore' });
    return '/usr/bin/time';
  } catch {
    return undefined;
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
  const pin = PIN && cpu !== undefined;
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

/** A finished one-shot run: exit code, wall time, CPU time (user + system, when GNU time exists) and output. */
export type Timed = { code: number | null; ms: number; cpuMs: number; stdout: string; stderr: string };

/** Runs `node <args>` to completion and measures its wall time (spawn → exit) and CPU time. */
export async function timedNode(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  cwd: string = process.cwd(),
): Promise<Timed> {
  const t0 = performance.now();
  const child =
    GNU_TIME === undefined
      ? spawn(process.execPath, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn(GNU_TIME, ['-f', `${CPU_MARK}%U %S`, process.execPath, ...args], {
          env,
          cwd,
          stdio: ['ignore', 'pipe', 'pipe'],
        });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
  const ms = performance.now() - t0;
  const mark = stderr.lastIndexOf(CPU_MARK);
  let cpuMs = Number.NaN;
  if (mark !== -1) {
    const [user, system] = stderr
      .slice(mark + CPU_MARK.length)
      .trim()
      .split(' ')
      .map(Number);
    cpuMs = ((user ?? Number.NaN) + (system ?? Number.NaN)) * 1000;
    stderr = stderr.slice(0, mark);
  }
  return { code, ms, cpuMs, stdout, stderr };
}

/**
 * How long a process's main thread has waited for a CPU while runnable, in ms (the second field of
 * /proc/<pid>/task/<pid>/schedstat): on a shared machine, the latency other processes add. NaN without /proc.
 */
export function runQueueWaitMs(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    const fields = readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').trim().split(' ');
    return Number(fields[1]) / 1e6;
  } catch {
    return Number.NaN;
  }
}

/** A process's CPU time so far (user + system, ms) from /proc; NaN where /proc is missing. */
export function processCpuMs(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of stat(5), in clock ticks (100 per second on Linux).
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return Number.NaN;
  }
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

const CPU_MARK = '@@cpu ';

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
