#!/usr/bin/env node
// `pnpm test:e2e`: makes sure Node 24 and openclaw@2026.9.6 are in the e2e cache (installing them
// from the npm registry on a fresh machine, reusing them otherwise), then runs the end-to-end tests
// against a real OpenClaw gateway, one file after the other: the gateway client's (spec 10 §7.3),
// then the real sidecar judging real agent runs. Exits with the first failing test's code (0 if all pass).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const OPENCLAW_VERSION = '2026.9.6';
const NODE_MAJOR = '24';
const TEST_FILES = [
  'packages/gateway-client/test/e2e-openclaw.test.ts',
  'apps/gateway/test/e2e-sidecar-openclaw.test.ts',
  'apps/gateway/test/e2e-guardrail-openclaw.test.ts',
  'apps/gateway/test/e2e-watcher-openclaw.test.ts',
];

const started = performance.now();
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cacheDir = process.env.DEFENSECLAW_E2E_CACHE || join(homedir(), '.cache', 'defenseclaw-e2e');
const nodePackage = `node-${process.platform}-${process.arch}`;
const nodeBinDir = join(cacheDir, 'node24', 'node_modules', nodePackage, 'bin');
const openclawPkg = join(cacheDir, 'openclaw', 'node_modules', 'openclaw', 'package.json');

const say = (line) => process.stderr.write(`e2e: ${line}\n`);
const seconds = (fromMs) => `${((performance.now() - fromMs) / 1000).toFixed(1)} s`;

if (process.platform === 'win32') {
  say('the real-OpenClaw e2e test runs on Linux and macOS only');
  process.exit(1);
}

// Each install goes to a fresh sibling dir that is renamed into place only when npm succeeded, so an
// interrupted install never leaves a half-filled cache that looks complete.
function npmInstall(target, spec, pathPrefix) {
  const staging = `${target}.partial-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  const env = { ...process.env };
  if (pathPrefix !== undefined) env.PATH = `${pathPrefix}:${process.env.PATH ?? ''}`;
  const npm = spawnSync(
    'npm',
    ['install', '--prefix', staging, '--no-audit', '--no-fund', '--loglevel=error', spec],
    {
      env,
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  if (npm.error !== undefined || npm.status !== 0) {
    rmSync(staging, { recursive: true, force: true });
    say(`npm install ${spec} failed (${npm.error?.message ?? `exit ${npm.status}`})`);
    process.exit(1);
  }
  rmSync(target, { recursive: true, force: true });
  renameSync(staging, target);
}

function nodeVersion() {
  const probe = spawnSync(join(nodeBinDir, 'node'), ['--version'], { encoding: 'utf8' });
  return probe.status === 0 ? probe.stdout.trim() : undefined;
}

function openclawVersion() {
  try {
    return JSON.parse(readFileSync(openclawPkg, 'utf8')).version;
  } catch {
    return undefined;
  }
}

mkdirSync(cacheDir, { recursive: true });

let version = nodeVersion();
if (version?.startsWith(`v${NODE_MAJOR}.`)) {
  say(`node ${version} ready (cached)`);
} else {
  const t = performance.now();
  say(`installing Node ${NODE_MAJOR} into ${join(cacheDir, 'node24')}…`);
  npmInstall(join(cacheDir, 'node24'), `${nodePackage}@${NODE_MAJOR}`);
  version = nodeVersion();
  if (!version?.startsWith(`v${NODE_MAJOR}.`)) {
    say(`${join(nodeBinDir, 'node')} does not run as Node ${NODE_MAJOR} (${version ?? 'no output'})`);
    process.exit(1);
  }
  say(`node ${version} installed in ${seconds(t)}`);
}

if (
  openclawVersion() === OPENCLAW_VERSION &&
  existsSync(join(cacheDir, 'openclaw', 'node_modules', '.bin', 'openclaw'))
) {
  say(`openclaw ${OPENCLAW_VERSION} ready (cached)`);
} else {
  const t = performance.now();
  say(`installing openclaw ${OPENCLAW_VERSION} into ${join(cacheDir, 'openclaw')} (about 650 MB)…`);
  // openclaw's engines field wants Node >= 24, and its install scripts run `node` from PATH.
  npmInstall(join(cacheDir, 'openclaw'), `openclaw@${OPENCLAW_VERSION}`, nodeBinDir);
  if (openclawVersion() !== OPENCLAW_VERSION) {
    say(`openclaw install finished but ${openclawPkg} is not ${OPENCLAW_VERSION}`);
    process.exit(1);
  }
  say(`openclaw ${OPENCLAW_VERSION} installed in ${seconds(t)}`);
}

const testStarted = performance.now();
let code = 0;
for (const file of TEST_FILES) {
  const fileStarted = performance.now();
  say(`running ${file}…`);
  const run = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', file], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, DEFENSECLAW_E2E_OPENCLAW: '1', DEFENSECLAW_E2E_CACHE: cacheDir },
  });
  const fileCode = run.status ?? (run.signal !== null ? 1 : 0);
  say(`${file} ${fileCode === 0 ? 'passed' : 'FAILED'} in ${seconds(fileStarted)}`);
  if (code === 0) code = fileCode;
}
say(
  `e2e tests ${code === 0 ? 'passed' : 'FAILED'} in ${seconds(testStarted)} (wall time ${seconds(started)})`,
);
process.exit(code);
