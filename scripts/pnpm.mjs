#!/usr/bin/env node
// Runs the workspace's pinned pnpm (package.json "packageManager") through npx, so a machine
// with only Node and npm can set the project up. Arguments pass through unchanged.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const pinned = String(pkg.packageManager ?? 'pnpm@10.34.9');
const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx';
const result = spawnSync(npx, ['--yes', pinned, ...process.argv.slice(2)], { stdio: 'inherit' });
if (result.error) {
  console.error(`pnpm: cannot run ${pinned} through npx: ${result.error.message}`);
  process.exit(1);
}
process.exit(result.status ?? 1);
