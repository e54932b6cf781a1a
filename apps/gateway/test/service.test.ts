import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { BIN, cleanEnv } from './_helpers.ts';

type Result = { code: number | null; stdout: string; stderr: string };

// PATH without a defenseclaw-gateway on it, so the launcher is `<node> <bin script>`.
const PATH = '/usr/local/bin:/usr/bin:/bin';

function tempHome(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'dc-svc-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function cli(
  args: string[],
  env: Record<string, string>,
  as?: { uid: number; gid: number },
): Promise<Result> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: cleanEnv({ PATH, ...env }),
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(as === undefined ? {} : { uid: as.uid, gid: as.gid }),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      stdout += c;
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr += c;
    });
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

// As root the test runs the CLI as `nobody`, which must be able to read the checkout.
function nonRootSkipReason(): string | false {
  if (typeof process.getuid !== 'function') return 'POSIX only';
  if (process.getuid() !== 0) return false;
  const probe = spawnSync(process.execPath, ['-e', `require('fs').accessSync(${JSON.stringify(BIN)})`], {
    uid: 65534,
    gid: 65534,
  });
  return probe.status === 0 ? false : 'running as root and user nobody cannot read the checkout';
}

function goldenUnit(environment: string | undefined): string {
  return [
    '[Unit]',
    'Description=DefenseClaw gateway sidecar (%i)',
    'After=network-online.target',
    'Wants=network-online.target',
    '',
    '[Service]',
    'Type=exec',
    'User=%i',
    ...(environment === undefined ? [] : [`Environment=DEFENSECLAW_HOME=${environment}`]),
    `ExecStart=${process.execPath} ${BIN} run`,
    'Restart=on-failure',
    'RestartSec=5',
    'StandardOutput=journal',
    'StandardError=journal',
    '',
    '[Install]',
    'WantedBy=default.target',
    '',
  ].join('\n');
}

describe('service install --print', () => {
  it('prints the golden systemd unit, with DEFENSECLAW_HOME only for a non-default home', async (t) => {
    const home = tempHome(t);
    const plain = await cli(['service', 'install', '--systemd', '--print'], { HOME: home });
    assert.equal(plain.code, 0, plain.stderr);
    assert.equal(plain.stdout, goldenUnit(undefined));
    const custom = await cli(['service', 'install', '--systemd', '--print', '--home', join(home, 'dc')], {
      HOME: home,
    });
    assert.equal(custom.stdout, goldenUnit(join(home, 'dc')));
  });

  it('prints the golden launchd plist on any OS, logs in the data dir', async (t) => {
    const home = tempHome(t);
    const result = await cli(['service', 'install', '--launchd', '--print'], { HOME: home });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(
      result.stdout,
      [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">',
        '<plist version="1.0">',
        '<dict>',
        '  <key>Label</key>',
        '  <string>ai.defenseclaw.gateway</string>',
        '  <key>ProgramArguments</key>',
        '  <array>',
        `    <string>${process.execPath}</string>`,
        `    <string>${BIN}</string>`,
        '    <string>run</string>',
        '  </array>',
        '  <key>RunAtLoad</key>',
        '  <true/>',
        '  <key>KeepAlive</key>',
        '  <true/>',
        '  <key>StandardOutPath</key>',
        `  <string>${home}/.defenseclaw/gateway.out.log</string>`,
        '  <key>StandardErrorPath</key>',
        `  <string>${home}/.defenseclaw/gateway.err.log</string>`,
        '</dict>',
        '</plist>',
        '',
      ].join('\n'),
    );
    assert.equal(existsSync(join(home, 'Library')), false, '--print touches nothing');
  });

  it('exits 2 without exactly one of --systemd and --launchd', async (t) => {
    const home = tempHome(t);
    assert.equal((await cli(['service', 'install', '--print'], { HOME: home })).code, 2);
    assert.equal(
      (await cli(['service', 'install', '--systemd', '--launchd', '--print'], { HOME: home })).code,
      2,
    );
  });
});

describe('service install --systemd', { skip: process.platform === 'linux' ? false : 'Linux only' }, () => {
  it('writes the unit (0644) to the unit dir, passes systemd-analyze, and uninstalls', async (t) => {
    const home = tempHome(t);
    const units = join(home, 'units');
    const installed = await cli(['service', 'install', '--systemd', '--unit-dir', units], { HOME: home });
    assert.equal(installed.code, 0, installed.stderr);
    const file = join(units, 'defenseclaw-gateway@.service');
    assert.equal(readFileSync(file, 'utf8'), goldenUnit(undefined));
    assert.equal(statSync(file).mode & 0o777, 0o644);
    assert.match(
      installed.stdout,
      /^Enable it with: sudo systemctl enable --now defenseclaw-gateway@\S+\.service$/m,
    );

    const removed = await cli(['service', 'uninstall', '--systemd', '--unit-dir', units], { HOME: home });
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal(existsSync(file), false);
    const again = await cli(['service', 'uninstall', '--systemd', '--unit-dir', units], { HOME: home });
    assert.equal(again.code, 0);
    assert.match(again.stdout, /is not installed; nothing to do/);
  });

  it('renders a unit systemd-analyze verify accepts', {
    skip:
      spawnSync('sh', ['-c', 'command -v systemd-analyze']).status === 0
        ? false
        : 'systemd-analyze not installed (apt-get install systemd)',
  }, async (t) => {
    const home = tempHome(t);
    const printed = await cli(['service', 'install', '--systemd', '--print', '--home', join(home, 'dc')], {
      HOME: home,
    });
    // Verify through an instance of the template (root exists everywhere).
    const instance = join(home, 'defenseclaw-gateway@root.service');
    writeFileSync(instance, printed.stdout);
    const result = spawnSync('systemd-analyze', ['verify', '--man=no', instance], { encoding: 'utf8' });
    const output = `${result.stdout}${result.stderr}`;
    assert.deepEqual(
      output.split('\n').filter((line) => line.includes('defenseclaw-gateway@')),
      [],
      output,
    );
    assert.equal(result.status, 0, output);
  });

  it('refuses a non-root install into /etc/systemd/system with exit 1 and writes nothing', {
    skip: nonRootSkipReason(),
  }, async (t) => {
    const home = tempHome(t);
    chmodSync(home, 0o777);
    const before = existsSync('/etc/systemd/system/defenseclaw-gateway@.service');
    const asNobody = process.getuid!() === 0 ? { uid: 65534, gid: 65534 } : undefined;
    const result = await cli(['service', 'install', '--systemd'], { HOME: home }, asNobody);
    assert.equal(result.code, 1, result.stderr);
    assert.equal(
      result.stderr,
      'writing /etc/systemd/system requires root: re-run with sudo, or use --print\n',
    );
    assert.equal(existsSync('/etc/systemd/system/defenseclaw-gateway@.service'), before);
  });

  it('refuses a launchd install on Linux with exit 2', async (t) => {
    const home = tempHome(t);
    const result = await cli(['service', 'install', '--launchd'], { HOME: home });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /needs macOS; use --print to see the unit/);
    assert.equal(existsSync(join(home, 'Library')), false);
  });
});
