import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadModule } from '../src/commands/_load-module.ts';
import { subCommands } from '../src/main.ts';
import { runCli } from './_helpers.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

// The bin runs every command under tsx's in-thread CommonJS hook, where Node's own import() cannot load TypeScript.
describe('the bin loader', () => {
  it('finds no bare import() of a workspace TypeScript module in the sources the bin loads', () => {
    const dirs = [
      join(ROOT, 'apps/gateway/src'),
      ...readdirSync(join(ROOT, 'packages')).map((name) => join(ROOT, 'packages', name, 'src')),
    ];
    const offenders: string[] = [];
    for (const file of dirs.flatMap((dir) => tsFiles(dir))) {
      const text = readFileSync(file, 'utf8');
      for (const match of text.matchAll(
        /(?<!typeof\s*)\bimport\(\s*(?:['"`](?:\.|@defenseclaw\/)|new URL)/g,
      )) {
        const line = text.slice(0, match.index).split('\n').length;
        offenders.push(`${relative(ROOT, file)}:${line}`);
      }
    }
    assert.deepEqual(
      offenders,
      [],
      'use loadModule() from apps/gateway/src/commands/_load-module.ts instead',
    );
  });

  it('loads every subcommand, nested ones included, through the bin', async () => {
    const names = Object.keys(subCommands).filter((name) => !name.startsWith('_'));
    assert.ok(names.includes('status') && names.includes('run'));
    for (const args of [...names.map((name) => [name]), ['setup', 'guardrail'], ['service', 'install']]) {
      const { code, stdout, stderr } = await runCli([...args, '--help']);
      assert.equal(code, 0, `${args.join(' ')} --help exited ${code}: ${stderr}`);
      assert.match(stdout, new RegExp(`USAGE .*\\b${args.join(' ')}\\b`));
    }
  });

  it('loads a workspace module by file URL and by package name', async () => {
    const byUrl = await loadModule<typeof import('../src/cli-error.ts')>(
      new URL('../src/cli-error.ts', import.meta.url),
    );
    assert.equal(byUrl.EXIT_CODES.CONFIG, 3);
    const byName = await loadModule<typeof import('@defenseclaw/protocol')>('@defenseclaw/protocol');
    assert.equal(typeof byName.PROTOCOL_VERSION_MAX, 'number');
    await assert.rejects(loadModule(new URL('../src/no-such-module.ts', import.meta.url)));
  });
});

// --- internal ---

function tsFiles(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return tsFiles(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}
