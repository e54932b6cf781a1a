// Shared support for the real-OpenClaw e2e tests: locate the cached install (scripts/e2e.mjs
// fills the cache), find a free loopback port, make a scratch dir, and run `openclaw gateway`
// as a detached process group with a clean environment.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';

/** Is the OpenClaw version the e2e test runs against. */
export const OPENCLAW_VERSION = '2026.9.6';

/** Is the line OpenClaw prints once the gateway accepts connections. */
const READY_PATTERN = /\[gateway\] ready\b/;

// OpenClaw 2026.9.6 writes to two fixed places outside TMPDIR: its preferred temp root (media
// roots of an agent run) and the SQLite lifecycle lock dir, whose lock files it never deletes.
const SHARED_PATHS = [
  '/tmp/openclaw',
  `/tmp/openclaw-state-locks${process.getuid ? `-${process.getuid()}` : ''}`,
];

// Process groups and scratch dirs not yet cleaned up, for the exit and signal hooks.
const liveGroups = new Set<number>();
const liveScratch = new Set<string>();
let exitHookInstalled = false;

/** Describes a usable cached install: the Node 24 bin dir and the `openclaw` entry. */
export type OpenClawInstall = { cacheDir: string; nodeBinDir: string; openclawBin: string; version: string };

/** Returns the e2e cache dir (`$DEFENSECLAW_E2E_CACHE`, else `~/.cache/defenseclaw-e2e`). */
export function e2eCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.DEFENSECLAW_E2E_CACHE;
  return fromEnv !== undefined && fromEnv !== '' ? fromEnv : join(homedir(), '.cache', 'defenseclaw-e2e');
}

/** Finds Node 24 and openclaw@2026.9.6 in the cache, or says what is missing. */
export function locateOpenClaw(
  cacheDir: string = e2eCacheDir(),
): { success: true; install: OpenClawInstall } | { success: false; reason: string } {
  const nodeBinDir = join(
    cacheDir,
    'node24',
    'node_modules',
    `node-${process.platform}-${process.arch}`,
    'bin',
  );
  if (!existsSync(join(nodeBinDir, 'node'))) return { success: false, reason: `no Node 24 in ${nodeBinDir}` };
  const pkgPath = join(cacheDir, 'openclaw', 'node_modules', 'openclaw', 'package.json');
  let version: string | undefined;
  try {
    version = (JSON.parse(readFileSync(pkgPath, 'utf8')) as { version?: string }).version;
  } catch {
    return { success: false, reason: `no openclaw in ${pkgPath}` };
  }
  if (version !== OPENCLAW_VERSION)
    return { success: false, reason: `${pkgPath} is ${version}, not ${OPENCLAW_VERSION}` };
  const openclawBin = join(cacheDir, 'openclaw', 'node_modules', '.bin', 'openclaw');
  if (!existsSync(openclawBin)) return { success: false, reason: `no ${openclawBin}` };
  return { success: true, install: { cacheDir, nodeBinDir, openclawBin, version } };
}

/** Returns a loopback port that was free a moment ago. */
export async function getFreeLoopbackPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port from the OS');
  return address.port;
}

/** Tells whether nothing listens on `port` on 127.0.0.1 and ::1. */
export async function isPortFree(port: number): Promise<boolean> {
  for (const host of ['127.0.0.1', '::1']) {
    const server = createServer();
    const result = await new Promise<'free' | 'busy' | 'n/a'>((resolve) => {
      server.once('error', (error: NodeJS.ErrnoException) =>
        resolve(error.code === 'EADDRINUSE' ? 'busy' : 'n/a'),
      );
      server.listen({ port, host, exclusive: true }, () => resolve('free'));
    });
    if (result === 'free') await new Promise<void>((resolve) => server.close(() => resolve()));
    if (result === 'busy') return false;
  }
  return true;
}

/** Is a temp dir with `home/` and `tmp/` for one gateway, plus its removal. */
export type ScratchDir = {
  root: string;
  home: string;
  tmp: string;
  /** Deletes the dir, and what OpenClaw left in its fixed `/tmp` paths since; returns those paths. */
  remove(): Promise<{ removedShared: string[] }>;
};

/** Creates a scratch dir under `os.tmpdir()`. */
export async function createScratchDir(): Promise<ScratchDir> {
  const root = await mkdtemp(join(tmpdir(), 'defenseclaw-e2e-'));
  const home = join(root, 'home');
  const tmp = join(root, 'tmp');
  await mkdir(join(home, '.openclaw'), { recursive: true });
  await mkdir(tmp, { recursive: true });
  const before = new Map(SHARED_PATHS.map((path) => [path, listDir(path)]));
  installExitHook();
  liveScratch.add(root);
  return {
    root,
    home,
    tmp,
    async remove() {
      await rm(root, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
      liveScratch.delete(root);
      const removedShared: string[] = [];
      for (const [path, entries] of before) {
        const now = listDir(path);
        if (now === undefined) continue;
        // Only what appeared during our run: the dir itself if it is new, else its new entries.
        const targets =
          entries === undefined ? [path] : now.filter((e) => !entries.includes(e)).map((e) => join(path, e));
        for (const target of targets) await rm(target, { recursive: true, force: true });
        removedShared.push(...targets);
      }
      return { removedShared };
    },
  };
}

/** Is a running `openclaw gateway` process group. */
export type OpenClawGateway = {
  pid: number;
  port: number;
  /** Is the time from spawn to the `[gateway] ready` line. */
  startupMs: number;
  /** Returns the last lines of stdout and stderr. */
  output(): string;
  /** Tells whether the process has exited. */
  readonly exited: boolean;
  /** Resolves with the exit code or signal once the process is gone. */
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Stops the group: SIGTERM, SIGKILL after `killAfterMs`, then any stray descendants. */
  stop(options?: { killAfterMs?: number }): Promise<{ stopMs: number; killed: boolean }>;
  /** Tells whether the process, its group, or a descendant seen at the last stop is still alive. */
  running(): boolean;
};

/** Describes how to start the gateway. */
export type StartOpenClawOptions = {
  install: OpenClawInstall;
  scratch: ScratchDir;
  port: number;
  /** Are the arguments after `openclaw`, e.g. `['gateway', 'run', '--port', '…']`. */
  args: readonly string[];
  /** @default 60000 */
  readyTimeoutMs?: number;
  /** @default 400 */
  outputLines?: number;
};

/** Spawns the gateway detached with a clean env and waits for its ready line. */
export async function startOpenClawGateway(options: StartOpenClawOptions): Promise<OpenClawGateway> {
  const { install, scratch, port, args, readyTimeoutMs = 60_000, outputLines = 400 } = options;
  installExitHook();
  const ring: string[] = [];
  const started = performance.now();
  // Only these three variables: nothing from our env (OPENCLAW_*, tokens, NODE_OPTIONS) leaks in.
  const child = spawn(install.openclawBin, [...args], {
    cwd: scratch.root,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: `${install.nodeBinDir}:/usr/bin:/bin`, HOME: scratch.home, TMPDIR: scratch.tmp },
  });
  const pid = child.pid;
  if (pid === undefined) {
    const error = await new Promise<unknown>((resolve) => child.once('error', resolve));
    throw new Error(`cannot spawn ${install.openclawBin}: ${String(error)}`);
  }
  liveGroups.add(pid);
  let exited = false;
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = true;
      resolve({ code, signal });
    });
  });
  const ready = watchOutput(child, ring, outputLines);
  let seenAtStop: ProcRef[] = [];
  const gateway: OpenClawGateway = {
    pid,
    port,
    startupMs: 0,
    output: () => ring.join('\n'),
    get exited() {
      return exited;
    },
    exit,
    stop: async (stopOptions) => {
      // After a completed stop the pid may belong to someone else: never look at it again.
      if (exited && !liveGroups.has(pid)) return { stopMs: 0, killed: false };
      seenAtStop = listDescendants(pid);
      return stopGroup(pid, seenAtStop, exit, () => exited, stopOptions?.killAfterMs ?? 10_000);
    },
    running: () => !exited || groupAlive(pid) || seenAtStop.some((d) => sameProcess(d)),
  };
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    ready.then(() => 'ready' as const),
    exit.then((e) => `exited early (code ${e.code}, signal ${e.signal})`),
    new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve(`no "[gateway] ready" within ${readyTimeoutMs} ms`), readyTimeoutMs);
    }),
  ]);
  clearTimeout(timer);
  if (outcome !== 'ready') {
    await gateway.stop({ killAfterMs: 5_000 });
    throw new Error(
      `openclaw ${args.join(' ')}: ${outcome}\n--- gateway output ---\n${gateway.output()}\n---`,
    );
  }
  gateway.startupMs = Math.round(performance.now() - started);
  return gateway;
}

// --- internal ---

function listDir(path: string): string[] | undefined {
  try {
    return readdirSync(path);
  } catch {
    return undefined;
  }
}

function watchOutput(child: ChildProcess, ring: string[], max: number): Promise<void> {
  return new Promise<void>((resolve) => {
    for (const stream of [child.stdout, child.stderr]) {
      let partial = '';
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => {
        const lines = (partial + chunk).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) {
          ring.push(line);
          if (ring.length > max) ring.shift();
          if (READY_PATTERN.test(line)) resolve();
        }
      });
    }
  });
}

// `descendants` is the process tree seen just before the stop: OpenClaw's spawn broker calls setsid,
// so it is outside our process group and needs its own check.
async function stopGroup(
  pid: number,
  descendants: ProcRef[],
  exit: Promise<unknown>,
  isExited: () => boolean,
  killAfterMs: number,
): Promise<{ stopMs: number; killed: boolean }> {
  const started = performance.now();
  let killed = false;
  if (!isExited() || groupAlive(pid)) {
    signalGroup(pid, 'SIGTERM');
    if (!(await waitFor(() => isExited() && !groupAlive(pid), killAfterMs))) {
      killed = true;
      signalGroup(pid, 'SIGKILL');
      await waitFor(() => isExited() && !groupAlive(pid), 5_000);
    }
  }
  await exit;
  const strays = descendants.filter((d) => sameProcess(d));
  if (strays.length > 0 && !(await waitFor(() => strays.every((d) => !sameProcess(d)), 2_000))) {
    for (const d of strays) if (sameProcess(d)) signal(d.pid, 'SIGKILL');
    killed = true;
    await waitFor(() => strays.every((d) => !sameProcess(d)), 2_000);
  }
  liveGroups.delete(pid);
  return { stopMs: Math.round(performance.now() - started), killed };
}

type ProcRef = { pid: number; startTime: string };

function readStat(pid: number): { ppid: number; startTime: string } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name: state ppid … (starttime is field 22).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(fields[1]), startTime: fields[19] ?? '' };
  } catch {
    return undefined;
  }
}

function listDescendants(root: number): ProcRef[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return [];
  }
  const children = new Map<number, ProcRef[]>();
  for (const name of entries) {
    const pid = Number(name);
    const stat = readStat(pid);
    if (stat === undefined) continue;
    const list = children.get(stat.ppid) ?? [];
    list.push({ pid, startTime: stat.startTime });
    children.set(stat.ppid, list);
  }
  const out: ProcRef[] = [];
  const queue = [root];
  while (queue.length > 0) {
    for (const child of children.get(queue.shift()!) ?? []) {
      out.push(child);
      queue.push(child.pid);
    }
  }
  return out;
}

function sameProcess(ref: ProcRef): boolean {
  const stat = readStat(ref.pid);
  if (stat === undefined || stat.startTime !== ref.startTime) return false;
  // A zombie waiting for its parent is gone for our purposes.
  try {
    return !/^\S+ \(.*\) Z /.test(readFileSync(`/proc/${ref.pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

function signalGroup(pgid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pgid, sig);
  } catch {
    // already gone
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

async function waitFor(predicate: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!predicate()) {
    if (performance.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last resort when the test process ends before its after() hooks ran (an uncaught error, or
  // Ctrl-C: the gateway has its own process group, so the terminal's SIGINT never reaches it).
  const killAll = () => {
    for (const pgid of liveGroups) signalGroup(pgid, 'SIGKILL');
    liveGroups.clear();
    for (const root of liveScratch) rmSync(root, { recursive: true, force: true });
    liveScratch.clear();
  };
  process.once('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      killAll();
      process.exit(128 + (sig === 'SIGHUP' ? 1 : sig === 'SIGINT' ? 2 : 15));
    });
  }
}
