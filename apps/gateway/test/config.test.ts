import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  type ConfigError,
  ensureDataDir,
  isConfigError,
  loadConfig,
  loadEnvFile,
  parseEnvText,
  resolveConfigPath,
  resolveDataDir,
  resolveGatewayToken,
  writeEnvVar,
} from '../src/config/index.ts';

let root: string;
let n = 0;
before(() => {
  root = mkdtempSync(join(tmpdir(), 'dc-config-'));
});
after(() => {
  rmSync(root, { recursive: true, force: true });
});

/** A fresh data dir with an optional config.yaml (mode 0600). */
function dataDir(yaml?: string): { dir: string; configPath: string } {
  const dir = join(root, `d${n++}`);
  ensureDataDir(dir);
  const configPath = join(dir, 'config.yaml');
  if (yaml !== undefined) writeFileSync(configPath, yaml, { mode: 0o600 });
  return { dir, configPath };
}

function loadError(yaml: string | undefined, env: NodeJS.ProcessEnv = {}): ConfigError {
  const { dir, configPath } = dataDir(yaml);
  try {
    loadConfig({ dataDir: dir, configPath, env });
  } catch (error) {
    assert.ok(isConfigError(error), `expected a ConfigError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected loadConfig to throw');
}

describe('loadConfig', () => {
  it('returns every default when config.yaml is absent', () => {
    const { dir, configPath } = dataDir();
    const { config, exists } = loadConfig({ dataDir: dir, configPath, env: {} });
    assert.equal(exists, false);
    assert.equal(config.config_version, 1);
    assert.equal(config.gateway.connect, true);
    assert.equal(config.gateway.host, '127.0.0.1');
    assert.equal(config.gateway.port, 18789);
    assert.equal(config.gateway.api_host, '127.0.0.1');
    assert.equal(config.gateway.api_port, 18970);
    assert.equal(config.gateway.reconnect_ms, 800);
    assert.equal(config.gateway.max_reconnect_ms, 15000);
    assert.equal(config.gateway.token_env, 'OPENCLAW_GATEWAY_TOKEN');
    assert.equal(config.gateway.device_key_file, join(dir, 'device.key'));
    assert.equal(config.guardrail.mode, 'observe');
    assert.equal(config.policy.mode, 'action');
    assert.deepEqual(config.policy.pack_dirs, [join(dir, 'policies')]);
    assert.equal(config.audit.path, join(dir, 'audit.db'));
    assert.equal(config.log.level, 'info');
    assert.equal(config.log.format, 'text');
  });

  it('treats sections whose keys are all commented out as defaults', () => {
    const { dir, configPath } = dataDir('config_version: 1\ngateway:\n  # port: 18789\nlog:\n');
    const { config } = loadConfig({ dataDir: dir, configPath, env: {} });
    assert.equal(config.gateway.port, 18789);
    assert.equal(config.log.level, 'info');
  });

  it('expands ~ and resolves relative paths against the data dir', () => {
    const { dir, configPath } = dataDir(
      'claw:\n  config_file: ~/oc/openclaw.json\ngateway:\n  device_key_file: keys/dev.key\naudit:\n  path: /var/tmp/a.db\n',
    );
    const { config } = loadConfig({ dataDir: dir, configPath, env: {}, homeDir: '/home/op' });
    assert.equal(config.claw.config_file, '/home/op/oc/openclaw.json');
    assert.equal(config.gateway.device_key_file, join(dir, 'keys/dev.key'));
    assert.equal(config.audit.path, '/var/tmp/a.db');
  });

  it('names an unknown key with its line and a did-you-mean', () => {
    const error = loadError(
      'config_version: 1\ngateway:\n  host: 127.0.0.1\n  api_prot: 18971\nwatchdog:\n  enabled: true\n',
    );
    assert.match(error.message, /^config error: .*config\.yaml$/m);
    assert.match(
      error.message,
      /^ {2}gateway\.api_prot \(line 4\): unknown key — did you mean gateway\.api_port\?$/m,
    );
    assert.match(error.message, /^ {2}watchdog \(line 5\): unknown key — did you mean gateway\.watchdog\?$/m);
  });

  it('suggests nothing for an unrelated unknown key and at most distance 1 for short keys', () => {
    const error = loadError('gateway:\n  zzzzzzzz: 1\n  pxrt: 2\n');
    assert.match(error.message, /gateway\.zzzzzzzz \(line 2\): unknown key$/m);
    assert.match(error.message, /gateway\.pxrt \(line 3\): unknown key — did you mean gateway\.port\?$/m);
  });

  it('reports wrong types and enum values, every issue at once', () => {
    const error = loadError(
      'gateway:\n  port: "abc"\n  connect: yes\nguardrail:\n  mode: block\nlog:\n  level: loud\n',
    );
    assert.equal(error.issues.length, 4);
    assert.match(error.message, /gateway\.port \(line 2\): must be an integer; got "abc"/);
    assert.match(error.message, /gateway\.connect \(line 3\): must be true or false; got "yes"/);
    assert.match(error.message, /guardrail\.mode \(line 5\): must be one of observe, action; got "block"/);
    assert.match(error.message, /log\.level \(line 7\): must be one of debug, info, warn, error; got "loud"/);
  });

  it('applies the cross-field rules', () => {
    const error = loadError('gateway:\n  host: 10.1.2.3\n  reconnect_ms: 5000\n  max_reconnect_ms: 1000\n');
    assert.match(
      error.message,
      /gateway\.host \(line 2\): non-loopback host "10\.1\.2\.3" needs gateway\.tls: true/,
    );
    assert.match(
      error.message,
      /gateway\.max_reconnect_ms \(line 4\): must be at least gateway\.reconnect_ms \(5000\); got 1000/,
    );
  });

  it('validates the guardrail provider registry: SSRF-checked URLs, unknown keys inside entries, dangling aliases', () => {
    const error = loadError(
      [
        'guardrail:',
        '  providers:',
        '    openai: { base_url: http://api.openai.com/v1, flavour: openai }',
        '    local: { base_url: http://127.0.0.1:11434/v1, flavour: openai-chat, allow_private: true, bogus: 1 }',
        '  aliases:',
        '    fast: { provider: nope, model: m }',
        '',
      ].join('\n'),
    );
    assert.match(error.message, /guardrail\.providers\.openai\.base_url \(line 3\): must use https/);
    assert.match(error.message, /guardrail\.providers\.local\.bogus \(line 4\): unknown key/);
    assert.match(
      error.message,
      /guardrail\.aliases\.fast\.provider \(line 6\): names an unknown provider "nope"/,
    );
  });

  it('accepts a non-loopback host with tls', () => {
    const { dir, configPath } = dataDir('gateway:\n  host: gw.example.com\n  tls: true\n');
    assert.equal(loadConfig({ dataDir: dir, configPath, env: {} }).config.gateway.host, 'gw.example.com');
  });

  it('refuses reserved features switched on and a config_version other than 1', () => {
    const error = loadError(
      'config_version: 2\nsandbox:\n  enabled: true\ntelemetry:\n  otlp:\n    enabled: true\n',
    );
    assert.match(error.message, /config_version \(line 1\): must be 1/);
    assert.match(error.message, /sandbox\.enabled \(line 3\): sandbox is not supported in this build/);
    assert.match(
      error.message,
      /telemetry\.otlp\.enabled \(line 6\): OTLP export is not supported in this build/,
    );
  });

  it('gives line and column for YAML syntax errors and duplicate keys', () => {
    const dup = loadError('gateway:\n  port: 1\n  port: 2\n');
    assert.match(dup.message, /line 3, column 3: duplicate key "port"/);
    const syntax = loadError('gateway:\n  port: [1, 2\nlog: {}\n');
    assert.equal(syntax.issues.length > 0, true);
    assert.ok(
      syntax.issues.every((issue) => typeof issue.line === 'number' && typeof issue.column === 'number'),
    );
  });

  it('applies DEFENSECLAW__ overrides case-insensitively with YAML scalar parsing', () => {
    const { dir, configPath } = dataDir('gateway:\n  api_port: 18000\n');
    const { config, overrides } = loadConfig({
      dataDir: dir,
      configPath,
      env: {
        DEFENSECLAW__GATEWAY__API_PORT: '18971',
        defenseclaw__guardrail__mode: 'action',
        DEFENSECLAW__POLICY__PACK_DIRS: '[~/packs, extra]',
        DEFENSECLAW__GATEWAY__CONNECT: 'false',
      },
      homeDir: '/home/op',
    });
    assert.equal(config.gateway.api_port, 18971);
    assert.equal(config.guardrail.mode, 'action');
    assert.equal(config.gateway.connect, false);
    assert.deepEqual(config.policy.pack_dirs, ['/home/op/packs', join(dir, 'extra')]);
    assert.equal(overrides.length, 4);
  });

  it('names the variable of an unknown or invalid override', () => {
    const error = loadError(undefined, {
      DEFENSECLAW__GATEWAY__API_PROT: '1',
      DEFENSECLAW__GATEWAY__PORT: 'many',
    });
    assert.match(
      error.message,
      /gateway\.api_prot \(DEFENSECLAW__GATEWAY__API_PROT\): unknown key — did you mean gateway\.api_port\?/,
    );
    assert.match(
      error.message,
      /gateway\.port \(DEFENSECLAW__GATEWAY__PORT\): must be an integer; got "many"/,
    );
  });

  it('refuses a literal gateway.token in a config file readable by others, without printing it', () => {
    const { dir, configPath } = dataDir('gateway:\n  token: super-secret-token-value\n');
    chmodSync(configPath, 0o644);
    try {
      loadConfig({ dataDir: dir, configPath, env: {} });
      assert.fail('expected a ConfigError');
    } catch (error) {
      assert.ok(isConfigError(error));
      assert.match(
        error.message,
        /gateway\.token \(line 2\): a literal token needs a 0600 config file; .* has mode 0644/,
      );
      assert.doesNotMatch(error.message, /super-secret/);
    }
    chmodSync(configPath, 0o600);
    const loaded = loadConfig({ dataDir: dir, configPath, env: {} });
    assert.equal(loaded.config.gateway.token, 'super-secret-token-value');
    assert.equal(loaded.warnings.length, 1);
  });
});

describe('resolveDataDir', () => {
  it('prefers --home over DEFENSECLAW_HOME over ~/.defenseclaw', () => {
    assert.equal(resolveDataDir({ home: '/a', env: { DEFENSECLAW_HOME: '/b' } }), '/a');
    assert.equal(resolveDataDir({ env: { DEFENSECLAW_HOME: '/b' } }), '/b');
    assert.equal(resolveDataDir({ env: {}, homeDir: '/home/op' }), '/home/op/.defenseclaw');
  });
});

describe('resolveConfigPath', () => {
  it('prefers --config over DEFENSECLAW_CONFIG over <data dir>/config.yaml', () => {
    assert.equal(
      resolveConfigPath({ config: '/x.yaml', dataDir: '/d', env: { DEFENSECLAW_CONFIG: '/y.yaml' } }),
      '/x.yaml',
    );
    assert.equal(resolveConfigPath({ dataDir: '/d', env: { DEFENSECLAW_CONFIG: '/y.yaml' } }), '/y.yaml');
    assert.equal(resolveConfigPath({ dataDir: '/d', env: {} }), '/d/config.yaml');
  });
});

describe('ensureDataDir', () => {
  it('creates the data dir 0700 and tightens a looser one with a warning', () => {
    const dir = join(root, 'fresh', 'nested');
    assert.deepEqual(ensureDataDir(dir).warnings, []);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    chmodSync(dir, 0o755);
    const { warnings } = ensureDataDir(dir);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /had mode 0755; tightened to 0700/);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
  });
});

describe('parseEnvText', () => {
  it('parses KEY=VALUE lines with comments, quotes and export, without expansion', () => {
    const result = parseEnvText(
      '# secrets\nA=plain\nB="with spaces # not a comment"\nC=\'single\'\nexport D=x # trailing\nE=$HOME\n\nF=\n',
    );
    assert.ok(result.success);
    assert.deepEqual(Object.fromEntries(result.vars), {
      A: 'plain',
      B: 'with spaces # not a comment',
      C: 'single',
      D: 'x',
      E: '$HOME',
      F: '',
    });
  });

  it('reports bad lines by number, never by value', () => {
    const result = parseEnvText('GOOD=1\nthis is not an assignment secret-value\n1BAD=2\n');
    assert.equal(result.success, false);
    if (result.success) return;
    assert.deepEqual(
      result.issues.map((issue) => issue.line),
      [2, 3],
    );
    assert.ok(result.issues.every((issue) => !issue.message.includes('secret-value')));
  });
});

describe('loadEnvFile', () => {
  it('sets variables that are not already set', () => {
    const { dir } = dataDir();
    const file = join(dir, '.env');
    writeFileSync(file, 'DC_T_ONE=from-file\nDC_T_TWO=from-file\n', { mode: 0o600 });
    const env: NodeJS.ProcessEnv = { DC_T_ONE: 'from-env' };
    assert.deepEqual(loadEnvFile(file, env), ['DC_T_TWO']);
    assert.equal(env.DC_T_ONE, 'from-env');
    assert.equal(env.DC_T_TWO, 'from-file');
  });

  it('accepts an absent file', () => {
    const { dir } = dataDir();
    assert.deepEqual(loadEnvFile(join(dir, '.env'), {}), []);
  });

  it('refuses a file with group or other permissions, naming file and mode but not values', () => {
    const { dir } = dataDir();
    const file = join(dir, '.env');
    writeFileSync(file, 'OPENCLAW_GATEWAY_TOKEN=very-secret-value\n', { mode: 0o644 });
    chmodSync(file, 0o644);
    assert.throws(
      () => loadEnvFile(file, {}),
      (error: unknown) =>
        isConfigError(error) &&
        /\.env has mode 0644; secrets files must be 0600 \(chmod 600 .*\.env\)/.test(error.message) &&
        !error.message.includes('very-secret-value'),
    );
  });

  it('refuses a symlink', () => {
    const { dir } = dataDir();
    const target = join(dir, 'real-env');
    writeFileSync(target, 'A=1\n', { mode: 0o600 });
    symlinkSync(target, join(dir, '.env'));
    assert.throws(() => loadEnvFile(join(dir, '.env'), {}), /not a regular file/);
  });
});

describe('writeEnvVar', () => {
  it('replaces or appends one variable, keeps the other lines and leaves the file 0600', () => {
    const { dir } = dataDir();
    const file = join(dir, '.env');
    writeFileSync(file, '# keep me\nOTHER=1\nOPENCLAW_GATEWAY_TOKEN=old\n', { mode: 0o600 });
    writeEnvVar(file, 'OPENCLAW_GATEWAY_TOKEN', 'new-token');
    writeEnvVar(file, 'ADDED', 'two words');
    assert.equal(
      readFileSync(file, 'utf8'),
      '# keep me\nOTHER=1\nOPENCLAW_GATEWAY_TOKEN=new-token\nADDED="two words"\n',
    );
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const parsed = parseEnvText(readFileSync(file, 'utf8'));
    assert.ok(parsed.success);
    assert.equal(parsed.vars.get('ADDED'), 'two words');
  });
});

describe('resolveGatewayToken', () => {
  it('takes the first non-empty of $token_env, OPENCLAW_GATEWAY_TOKEN, DEFENSECLAW_GATEWAY_TOKEN, gateway.token', () => {
    const { dir, configPath } = dataDir('gateway:\n  token_env: MY_TOKEN\n  token: from-config\n');
    const { config } = loadConfig({ dataDir: dir, configPath, env: {} });
    assert.deepEqual(resolveGatewayToken(config, { MY_TOKEN: 'a', OPENCLAW_GATEWAY_TOKEN: 'b' }), {
      token: 'a',
      source: 'MY_TOKEN',
    });
    assert.deepEqual(resolveGatewayToken(config, { MY_TOKEN: '', OPENCLAW_GATEWAY_TOKEN: 'b' }), {
      token: 'b',
      source: 'OPENCLAW_GATEWAY_TOKEN',
    });
    assert.deepEqual(resolveGatewayToken(config, { DEFENSECLAW_GATEWAY_TOKEN: 'c' }), {
      token: 'c',
      source: 'DEFENSECLAW_GATEWAY_TOKEN',
    });
    assert.deepEqual(resolveGatewayToken(config, {}), { token: 'from-config', source: 'gateway.token' });
  });
});
