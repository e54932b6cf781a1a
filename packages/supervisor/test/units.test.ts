import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isSupervisorError, LAUNCHD_LABEL, renderLaunchdPlist, renderSystemdUnit } from '../src/index.ts';
import { tempDir } from './_helpers.ts';

function has(tool: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
}

describe('renderSystemdUnit', () => {
  it('renders the template unit with ordering, restart policy and journal output', () => {
    const text = renderSystemdUnit({ execStart: ['/usr/local/bin/defenseclaw-gateway', 'run'] });
    assert.equal(
      text,
      [
        '[Unit]',
        'Description=DefenseClaw gateway sidecar (%i)',
        'After=network-online.target',
        'Wants=network-online.target',
        '',
        '[Service]',
        'Type=exec',
        'User=%i',
        'ExecStart=/usr/local/bin/defenseclaw-gateway run',
        'Restart=on-failure',
        'RestartSec=5',
        'StandardOutput=journal',
        'StandardError=journal',
        '',
        '[Install]',
        'WantedBy=default.target',
        '',
      ].join('\n'),
    );
  });

  it('quotes paths with spaces and escapes % and $, and adds Environment for a custom home', () => {
    const text = renderSystemdUnit({
      execStart: ['/opt/my node/bin/node', '/opt/dc 100%/bin/defenseclaw-gateway.js', 'run'],
      environment: { DEFENSECLAW_HOME: '/srv/dc $x' },
    });
    assert.match(
      text,
      /^ExecStart="\/opt\/my node\/bin\/node" "\/opt\/dc 100%%\/bin\/defenseclaw-gateway.js" run$/m,
    );
    assert.match(text, /^Environment="DEFENSECLAW_HOME=\/srv\/dc \$\$x"$/m);
    assert.throws(
      () => renderSystemdUnit({ execStart: ['relative', 'run'] }),
      (e) => isSupervisorError(e, 'INVALID_ARGUMENT'),
    );
    assert.throws(
      () => renderSystemdUnit({ execStart: ['/bin/x\nExecStartPre=/bin/evil'] }),
      (e) => isSupervisorError(e),
    );
  });

  it('passes systemd-analyze verify', {
    skip: has('systemd-analyze') ? false : 'systemd-analyze is not installed (apt-get install systemd)',
  }, (t) => {
    const dir = tempDir(t);
    const bin = join(dir, 'defenseclaw-gateway');
    writeFileSync(bin, '#!/bin/sh\nexit 0\n');
    chmodSync(bin, 0o755);
    const file = join(dir, 'defenseclaw-gateway@.service');
    writeFileSync(
      file,
      renderSystemdUnit({ execStart: [bin, 'run'], environment: { DEFENSECLAW_HOME: dir } }),
    );
    // A template is verified through an instance; root exists everywhere.
    const instance = join(dir, 'defenseclaw-gateway@root.service');
    writeFileSync(
      instance,
      renderSystemdUnit({ execStart: [bin, 'run'], environment: { DEFENSECLAW_HOME: dir } }),
    );
    const result = spawnSync('systemd-analyze', ['verify', '--man=no', instance], { encoding: 'utf8' });
    const complaints = `${result.stdout}${result.stderr}`
      .split('\n')
      .filter((line) => line.includes('defenseclaw-gateway@'));
    assert.deepEqual(complaints, [], `${result.stdout}${result.stderr}`);
    assert.equal(result.status, 0, `${result.stdout}${result.stderr}`);
  });
});

describe('renderLaunchdPlist', () => {
  const xml = renderLaunchdPlist({
    programArguments: ['/usr/local/bin/defenseclaw-gateway', 'run'],
    stdoutPath: '/Users/a/.defenseclaw/gateway.out.log',
    stderrPath: '/Users/a/.defenseclaw/gateway.err.log',
    environment: { DEFENSECLAW_HOME: '/Users/a/dc & <co>' },
  });

  it('holds the required keys with the right types', () => {
    const keys = [...xml.matchAll(/^ {2}<key>([^<]+)<\/key>$/gm)].map((m) => m[1]);
    assert.deepEqual(keys, [
      'Label',
      'ProgramArguments',
      'EnvironmentVariables',
      'RunAtLoad',
      'KeepAlive',
      'StandardOutPath',
      'StandardErrorPath',
    ]);
    assert.match(xml, new RegExp(`<key>Label</key>\\n  <string>${LAUNCHD_LABEL}</string>`));
    assert.match(xml, /<key>RunAtLoad<\/key>\n {2}<true\/>/);
    assert.match(xml, /<key>KeepAlive<\/key>\n {2}<true\/>/);
    assert.match(
      xml,
      /<array>\n {4}<string>\/usr\/local\/bin\/defenseclaw-gateway<\/string>\n {4}<string>run<\/string>\n {2}<\/array>/,
    );
    assert.match(xml, /<string>\/Users\/a\/dc &amp; &lt;co&gt;<\/string>/);
    assert.doesNotMatch(
      renderLaunchdPlist({ programArguments: ['/x', 'run'], stdoutPath: '/o', stderrPath: '/e' }),
      /EnvironmentVariables/,
    );
  });

  it('is well-formed XML', {
    skip:
      has('xmllint') || has('plutil') || has('python3')
        ? false
        : 'no XML checker (xmllint, plutil or python3)',
  }, (t) => {
    const file = join(tempDir(t), `${LAUNCHD_LABEL}.plist`);
    writeFileSync(file, xml);
    if (has('plutil')) {
      execFileSync('plutil', ['-lint', file]);
    } else if (has('python3')) {
      const out = execFileSync('python3', [
        '-c',
        'import plistlib,sys,json; d=plistlib.load(open(sys.argv[1],"rb")); print(json.dumps(d))',
        file,
      ]).toString();
      const parsed = JSON.parse(out) as Record<string, unknown>;
      assert.equal(parsed.Label, LAUNCHD_LABEL);
      assert.deepEqual(parsed.ProgramArguments, ['/usr/local/bin/defenseclaw-gateway', 'run']);
      assert.equal(parsed.RunAtLoad, true);
      assert.equal(parsed.KeepAlive, true);
      assert.deepEqual(parsed.EnvironmentVariables, { DEFENSECLAW_HOME: '/Users/a/dc & <co>' });
    } else {
      execFileSync('xmllint', ['--noout', file]);
    }
  });
});
