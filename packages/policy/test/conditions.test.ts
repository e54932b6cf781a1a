import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LineCounter } from 'yaml';
import { IssueSink, parseYamlTree } from '../src/_pnode.ts';
import {
  type Condition,
  conditionNeeds,
  evaluateConditions,
  type FactsView,
  parseConditions,
} from '../src/conditions.ts';
import type { PathFact, SimpleCommand, UrlFact } from '../src/shell/types.ts';

function cond(yaml: string): Condition {
  const sink = new IssueSink();
  const tree = parseYamlTree('c.yaml', yaml, sink, new LineCounter());
  assert.ok(tree, JSON.stringify(sink.issues));
  const c = parseConditions(tree!, 'c.yaml', 'R-X', sink);
  assert.deepEqual(sink.issues, []);
  return c!;
}

function issues(yaml: string) {
  const sink = new IssueSink();
  const tree = parseYamlTree('c.yaml', yaml, sink, new LineCounter());
  parseConditions(tree!, 'c.yaml', 'R-X', sink);
  return sink.issues;
}

function cmd(argv: string[], over: Partial<SimpleCommand> = {}): SimpleCommand {
  const args = argv.slice(1);
  const flags = new Set<string>();
  const operands: string[] = [];
  for (const a of args) {
    if (a.startsWith('--')) flags.add(a.split('=')[0]!);
    else if (a.startsWith('-') && a.length > 1) for (const c of a.slice(1)) flags.add(`-${c}`);
    else operands.push(a);
  }
  return {
    argv,
    program: argv[0]!.split('/').pop()!.toLowerCase(),
    args,
    flags,
    operands,
    dynamicOperands: operands.some((o) => o.includes('$')),
    sudo: false,
    remote: false,
    redirects: [],
    pipesTo: [],
    pipesFrom: [],
    executesSubstitutionOf: [],
    text: argv.join(' '),
    depth: 0,
    ...over,
  };
}

function facts(commands: SimpleCommand[], paths: PathFact[] = [], urls: UrlFact[] = []): FactsView {
  return { commands, paths, urls };
}

const holds = (c: Condition, f: FactsView) => evaluateConditions(c, f) !== undefined;

describe('conditions', () => {
  it('evaluates command predicates within one simple command', () => {
    const c = cond(
      'all:\n  - program: [rm]\n  - flags_all: [[-r, -R, --recursive], [-f, --force]]\n  - operand_path: { equals: [/, <home>] }\n',
    );
    assert.equal(holds(c, facts([cmd(['rm', '-rf', '/'])])), true);
    assert.equal(holds(c, facts([cmd(['rm', '-r', '--force', '<home>'])])), true);
    assert.equal(holds(c, facts([cmd(['rm', '-rf', 'node_modules'])])), false);
    // rm in one segment and -rf / in another never combine.
    assert.equal(holds(c, facts([cmd(['rm', 'x']), cmd(['echo', '-rf', '/'])])), false);
    assert.equal(evaluateConditions(c, facts([cmd(['ls']), cmd(['rm', '-fr', '/'])])), 1);
  });

  it('supports any, not, sudo, flags_any, args_any and an implicit all', () => {
    const c = cond('program: [kill]\nargs_any: ["-1"]\nflags_any: [-9, -KILL]\n');
    assert.equal(holds(c, facts([cmd(['kill', '-9', '-1'])])), true);
    assert.equal(holds(c, facts([cmd(['kill', '-9', '123'])])), false);
    const s = cond('any:\n  - sudo: true\n  - not: { program: [ls, cat] }\n');
    assert.equal(holds(s, facts([cmd(['cat', 'x'], { sudo: true })])), true);
    assert.equal(holds(s, facts([cmd(['cat', 'x'])])), false);
    assert.equal(holds(s, facts([cmd(['vim'])])), true);
  });

  it('matches program globs lowercased', () => {
    const c = cond('program: ["mkfs*", python]\n');
    assert.equal(holds(c, facts([cmd(['/sbin/MKFS.ext4', '/dev/sda'])])), true);
    assert.equal(holds(c, facts([cmd(['python'])])), true);
    assert.equal(holds(c, facts([cmd(['pythonx'])])), false);
  });

  it('matches operand paths by equals / under / basename globs; dynamic operands never satisfy equals', () => {
    const c = cond('operand_path: { under: [<home>/.ssh], basename: ["id_*"] }\n');
    assert.equal(holds(c, facts([cmd(['cat', '<home>/.ssh/id_rsa'])])), true);
    assert.equal(holds(c, facts([cmd(['cat', '<home>/.ssh/config'])])), false);
    assert.equal(holds(c, facts([cmd(['cat', '<home>/.sshx/id_rsa'])])), false);
    const under = cond('operand_path: { under: [/etc] }\n');
    assert.equal(holds(under, facts([cmd(['rm', '/etc'])])), true);
    assert.equal(holds(under, facts([cmd(['rm', '/etc/x/y'])])), true);
    assert.equal(holds(under, facts([cmd(['rm', '/etcetera'])])), false);
    const root = cond('operand_path: { under: [/] }\n');
    assert.equal(holds(root, facts([cmd(['rm', '/x'])])), true);
    assert.equal(holds(root, facts([cmd(['rm', 'x'])])), false);
    const eq = cond('operand_path: { equals: ["/etc/**"] }\n');
    assert.equal(holds(eq, facts([cmd(['rm', '/etc/a/b'])])), true);
    assert.equal(holds(eq, facts([cmd(['rm', '$X/etc/a'], { dynamicOperands: true })])), false);
    const star = cond('operand_path: { equals: ["/etc/*"] }\n');
    assert.equal(holds(star, facts([cmd(['rm', '/etc/a/b'])])), false);
  });

  it('redirect_to looks only at output redirects', () => {
    const c = cond('redirect_to: { basename: [.bashrc] }\n');
    assert.equal(
      holds(c, facts([cmd(['echo', 'x'], { redirects: [{ op: '>>', target: '<home>/.bashrc' }] })])),
      true,
    );
    assert.equal(
      holds(c, facts([cmd(['cat'], { redirects: [{ op: '<', target: '<home>/.bashrc' }] })])),
      false,
    );
  });

  it('pipes_to / pipes_from / executes_substitution_of', () => {
    const c = cond('all: [{ program: [curl] }, { pipes_to: [sh, bash] }]\n');
    assert.equal(
      holds(c, facts([cmd(['curl', 'u'], { pipesTo: ['bash'] }), cmd(['bash'], { pipesFrom: ['curl'] })])),
      true,
    );
    assert.equal(holds(c, facts([cmd(['curl', 'u'], { pipesTo: ['jq'] })])), false);
    const e = cond('executes_substitution_of: [curl, wget]\n');
    assert.equal(holds(e, facts([cmd(['sh', '-c'], { executesSubstitutionOf: ['curl'] })])), true);
  });

  it('path predicates range over the target, with access', () => {
    const c = cond('path: { basename: [authorized_keys], access: [write, delete] }\n');
    const p = (access: PathFact['access']): PathFact => ({
      path: '<home>/.ssh/authorized_keys',
      raw: '~/.ssh/authorized_keys',
      access,
      source: 'arg',
      dynamic: false,
    });
    assert.equal(holds(c, facts([], [p('write')])), true);
    assert.equal(holds(c, facts([], [p('read')])), false);
    // A path predicate combined with a command predicate: the path may come from any command of the target.
    const mixed = cond('all: [{ program: [curl] }, { path: { basename: [.env] } }]\n');
    const env: PathFact = { path: '.env', raw: '.env', access: 'read', source: 'operand', dynamic: false };
    assert.equal(holds(mixed, facts([cmd(['cat', '.env']), cmd(['curl', '-d', '@-'])], [env])), true);
    assert.equal(evaluateConditions(cond('path: { basename: [.env] }\n'), facts([], [env])), -1);
  });

  it('url predicates: host_in, host_suffix, ip_class, port', () => {
    const u = (host: string, extra: Partial<UrlFact> = {}): UrlFact => ({ raw: host, host, ...extra });
    const c = cond('url: { host_suffix: [webhook.site, ngrok.io] }\n');
    assert.equal(holds(c, facts([], [], [u('abc.webhook.site')])), true);
    assert.equal(holds(c, facts([], [], [u('webhook.site')])), true);
    assert.equal(holds(c, facts([], [], [u('notwebhook.site')])), false);
    const ip = cond('url: { ip_class: [metadata, link_local], port: [80, 443] }\n');
    assert.equal(
      holds(ip, facts([], [], [u('169.254.169.254', { ipClass: 'metadata', scheme: 'http' })])),
      true,
    );
    assert.equal(
      holds(ip, facts([], [], [u('169.254.169.254', { ipClass: 'metadata', port: 8080 })])),
      false,
    );
    const host = cond('url: { host_in: ["metadata.google.*"] }\n');
    assert.equal(holds(host, facts([], [], [u('metadata.google.internal')])), true);
  });

  it('reports what facts a tree needs', () => {
    const needs = conditionNeeds(
      cond('all: [{ program: [cat] }, { path: { basename: [x], access: [read] } }]\n'),
    );
    assert.equal(needs.commands, true);
    assert.equal(needs.paths, true);
    assert.equal(needs.urls, false);
    assert.deepEqual([...needs.access], ['read']);
  });

  it('reports malformed conditions with positions', () => {
    assert.match(
      issues('all: []\n')[0]!.message,
      /^c\.yaml:1:6 rule R-X conditions\.all: all takes a non-empty list/,
    );
    assert.match(issues('sudo: yes\n')[0]!.message, /conditions\.sudo: must be true or false/);
    assert.match(issues('path: { access: [run] }\n')[0]!.message, /access must be one of/);
    assert.equal(issues('path: { access: [run] }\n')[0]!.code, 'E_ENUM');
    assert.match(issues('url: { ip_class: [intranet] }\n')[0]!.message, /ip_class must be one of/);
    assert.match(
      issues('url: { hosts: [x] }\n')[0]!.message,
      /unknown field "hosts" \(did you mean "host_in"\?\)/,
    );
    assert.match(issues('flags_all: [-r]\n')[0]?.message ?? 'none', /none/);
  });
});

describe('globs', () => {
  it('match name globs by exact, contains, prefix, suffix and general shapes alike', async () => {
    const { compileGlobSet, compileGlob } = await import('../src/_glob.ts');
    const sources = ['ls', '*curl *', 'mkfs*', '*.sh', 'a?c', '{x,y}z', 'p[0-9]'];
    const set = compileGlobSet(sources, 'name');
    for (const v of [
      'ls',
      'x curl y',
      'curl z',
      'mkfs.ext4',
      'run.sh',
      'abc',
      'xz',
      'yz',
      'p7',
      'curl',
      'lsx',
      'a.sh.bak',
      'p77',
    ]) {
      assert.equal(
        set.test(v),
        sources.some((s) => compileGlob(s, 'name').test(v)),
        v,
      );
    }
    const path = compileGlobSet(['/etc/*', '<home>/**/id_*'], 'path');
    assert.equal(path.test('/etc/passwd'), true);
    assert.equal(path.test('/etc/a/b'), false);
    assert.equal(path.test('<home>/.ssh/id_rsa'), true);
    assert.equal(path.test('<home>/id_rsa'), true);
  });
});
