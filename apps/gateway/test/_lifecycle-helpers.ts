import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { BIN, cleanEnv, freePort } from './_helpers.ts';

/** A temporary data dir with a free API port and `gateway.connect: false`, cleaned up after the test. */
export type TestHome = {
  dir: string;
  port: number;
  /** Runs the CLI against this home and collects its output. */
  cli(args: readonly string[], extraEnv?: Record<string, string>): Promise<CliResult>;
  /** The PID in `gateway.pid`, if any. */
  daemonPid(): number | undefined;
  /** The PID in `watchdog.pid`, if any. */
  watchdogPid(): number | undefined;
  /** Every live process carrying this home's markers (Linux). */
  markedProcesses(): number[];
  /** Fetches `/health`; undefined when nothing answers. */
  health(): Promise<Record<string, { state: string }> | undefined>;
};

/** The outcome of one CLI run. */
export type CliResult = { code: number | null; stdout: string; stderr: string };

/**
 * Creates a test home. After the test, every process with this home's markers and every PID named in its PID
 * files is killed by PID (SIGKILL), and the dir is removed.
 */
export async function createTestHome(
  t: TestContext,
  extraConfig = '',
  options: { root?: string } = {},
): Promise<TestHome> {
  const dir = mkdtempSync(join(options.root ?? tmpdir(), 'dc-life-'));
  const port = await freePort();
  writeFileSync(join(dir, 'config.yaml'), `gateway:\n  connect: false\n  api_port: ${port}\n${extraConfig}`, {
    mode: 0o600,
  });
  const real = realpathSync(dir);
  const home: TestHome = {
    dir,
    port,
    cli: (args, extraEnv = {}) => runCliIn(dir, args, extraEnv),
    daemonPid: () => readPid(join(dir, 'gateway.pid')),
    watchdogPid: () => readPid(join(dir, 'watchdog.pid')),
    markedProcesses: () => markedProcesses(real),
    health: async () => {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(2000) });
        return (await res.json()) as Record<string, { state: string }>;
      } catch {
        return undefined;
      }
    },
  };
  t.after(async () => {
    // Only processes carrying this home's markers are ours to kill; a foreign PID planted by a test is its own.
    const leaked = markedProcesses(real);
    for (const pid of leaked) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await waitFor(() => markedProcesses(real).length === 0, 5000);
    rmSync(dir, { recursive: true, force: true });
    // A test that ends with its daemon or watchdog still running leaked it (the kill above only tidies up).
    if (leaked.length > 0)
      throw new Error(`the test left processes running for ${dir}: PID ${leaked.join(', ')}`);
  });
  return home;
}

/** Polls `check` every 50 ms until it holds or `timeoutMs` passes; returns whether it held. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Tells whether a PID runs and is not a zombie. */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return process.platform !== 'linux';
  }
}

/** Tells whether a TCP port on 127.0.0.1 can be bound (nothing listens). */
export function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

// --- internal ---

function runCliIn(
  dir: string,
  args: readonly string[],
  extraEnv: Record<string, string>,
): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args, '--home', dir], {
      env: cleanEnv(extraEnv),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function readPid(file: string): number | undefined {
  try {
    const match = /^([1-9][0-9]*)\n?$/.exec(readFileSync(file, 'utf8'));
    return match === null ? undefined : Number(match[1]);
  } catch {
    return undefined;
  }
}

function markedProcesses(realDir: string): number[] {
  if (process.platform !== 'linux') return [];
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(name)) continue;
    try {
      const env = readFileSync(`/proc/${name}/environ`, 'utf8').split('\0');
      if (env.includes(`DEFENSECLAW_DATA_DIR=${realDir}`) && isRunning(Number(name)))
        found.push(Number(name));
    } catch {
      // gone or unreadable
    }
  }
  return found;
}
