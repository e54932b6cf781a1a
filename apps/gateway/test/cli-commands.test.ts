import assert from 'node:assert/strict';
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { openAuditStore } from '@defenseclaw/audit-store';
import { runCli } from './_helpers.ts';
import { createTestHome, type TestHome } from './_lifecycle-helpers.ts';

type Seen = { method: string; url: string; headers: IncomingMessage['headers']; body: string };

// A fake daemon API on the home's port: real HTTP, scripted answers, every request recorded.
async function fakeApi(
  t: TestContext,
  home: TestHome,
  answer: (req: Seen) => { status: number; body: unknown },
): Promise<Seen[]> {
  const seen: Seen[] = [];
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.setEncoding('utf8').on('data', (chunk: string) => {
      body += chunk;
    });
    req.on('end', () => {
      const request = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body };
      seen.push(request);
      const { status, body: out } = answer(request);
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(out));
    });
  });
  await new Promise<void>((resolve) => server.listen(home.port, '127.0.0.1', resolve));
  t.after(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return seen;
}

function token(home: TestHome): string {
  const match = /^DEFENSECLAW_API_TOKEN=(\S+)$/m.exec(readFileSync(join(home.dir, '.env'), 'utf8'));
  assert.ok(match, 'init wrote the API token');
  return match[1]!;
}

describe('init', () => {
  it('creates everything once, is idempotent, and reports an invalid config with exit 3', async (t) => {
    const home = await createTestHome(t);
    const configFile = join(home.dir, 'config.yaml');
    const userConfig = readFileSync(configFile, 'utf8');
    const first = await home.cli(['init']);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /^✔ API token written to \S+\/\.env \(DEFENSECLAW_API_TOKEN\)$/m);
    assert.match(first.stdout, /^✔ created device key \S+device\.key \(device id [0-9a-f]{64};/m);
    assert.match(first.stdout, /^✔ created audit DB /m);
    assert.match(first.stdout, /^• \S+config\.yaml exists and is valid$/m);
    assert.equal(readFileSync(configFile, 'utf8'), userConfig, 'an existing config is never overwritten');
    for (const file of ['.env', 'device.key', 'audit.db']) {
      assert.equal(statSync(join(home.dir, file)).mode & 0o777, 0o600, file);
    }
    const apiToken = token(home);
    assert.ok(!first.stdout.includes(apiToken), 'the token is never printed');

    const second = await home.cli(['init', '--json']);
    assert.equal(second.code, 0, second.stderr);
    const steps = (JSON.parse(second.stdout) as { steps: { step: string; status: string }[] }).steps;
    assert.deepEqual(
      steps.map((s) => `${s.step}:${s.status}`),
      [
        'data_dir:skip',
        'config:skip',
        'device_key:skip',
        'api_token:skip',
        'evidence_key:skip',
        'openclaw_token:skip',
        'audit_db:skip',
      ],
    );
    assert.equal(token(home), apiToken);

    writeFileSync(configFile, `${userConfig}bogus: 1\n`);
    const bad = await home.cli(['init']);
    assert.equal(bad.code, 3);
    assert.match(bad.stdout, /^✖ \S+config\.yaml is invalid/m);
    assert.match(bad.stderr, /bogus \(line \d+\): unknown key/);
  });

  it('writes a commented default config that loads, and --force keeps a backup', async (t) => {
    const home = await createTestHome(t);
    const configFile = join(home.dir, 'config.yaml');
    const forced = await home.cli(['init', '--force']);
    assert.equal(forced.code, 0, forced.stderr);
    const text = readFileSync(configFile, 'utf8');
    assert.match(text, /^config_version: 1$/m);
    assert.match(text, /^# {3}api_port: 18970$/m);
    assert.match(text, /^# {5}interval_s: 10$/m);
    assert.equal(statSync(configFile).mode & 0o777, 0o600);
    assert.match(forced.stdout, /the previous file is \S+config\.yaml\.bak-/);
    // The written defaults validate: doctor's config check passes on them.
    const doctor = await home.cli(['doctor', '--json']);
    const checks = (JSON.parse(doctor.stdout) as { checks: { id: string; status: string }[] }).checks;
    assert.equal(checks.find((c) => c.id === 'config')?.status, 'pass');
  });
});

describe('doctor', () => {
  it('reports PASS, WARN and FAIL lines and exits 1 on a failure', async (t) => {
    const home = await createTestHome(t);
    const fresh = await home.cli(['doctor', '--json']);
    assert.equal(fresh.code, 1, 'no API token yet');
    const report = JSON.parse(fresh.stdout) as {
      checks: { id: string; status: string; message: string; fix?: string }[];
      summary: { pass: number; warn: number; fail: number };
    };
    const byId = new Map(report.checks.map((c) => [c.id, c]));
    assert.equal(byId.get('config')?.status, 'pass');
    assert.equal(byId.get('ports')?.status, 'pass');
    assert.equal(byId.get('api-token')?.status, 'fail');
    assert.match(byId.get('api-token')?.fix ?? '', /init/);
    assert.equal(byId.get('db')?.status, 'warn');
    assert.equal(byId.get('runtime')?.status, 'pass');
    assert.equal(report.summary.fail, 1);

    assert.equal((await home.cli(['init'])).code, 0);
    chmodSync(join(home.dir, '.env'), 0o640);
    const loose = await home.cli(['doctor']);
    assert.match(
      loose.stdout,
      /^\[WARN\] files: too loose: \S+\.env has mode 0640 — fix: chmod 600 \S+\.env$/m,
    );
    chmodSync(join(home.dir, '.env'), 0o600);

    const healthy = await home.cli(['doctor']);
    assert.equal(healthy.code, 0, healthy.stdout);
    assert.match(healthy.stdout, /^\[PASS\] config: /m);
    assert.match(healthy.stdout, /^\[PASS\] api-token: DEFENSECLAW_API_TOKEN set \(64 chars\)$/m);
    assert.match(healthy.stdout, /^\[PASS\] db: audit\.db passes quick_check$/m);
    assert.match(healthy.stdout, /^\d+ passed, 0 warnings, 0 failed$/m);

    // Another process on the API port.
    const blocker = createServer((_req, res) => res.writeHead(500).end());
    await new Promise<void>((resolve) => blocker.listen(home.port, '127.0.0.1', resolve));
    t.after(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
    const taken = await home.cli(['doctor']);
    assert.equal(taken.code, 1);
    assert.match(
      taken.stdout,
      new RegExp(
        `^\\[FAIL\\] ports: 127\\.0\\.0\\.1:${home.port} \\(gateway\\.api_port\\) is held by another process — fix: find it with 'lsof -i :${home.port}'`,
        'm',
      ),
    );
  });

  it('fails the config check with every issue named', async (t) => {
    const home = await createTestHome(t, '  api_prot: 5\n');
    const result = await home.cli(['doctor']);
    assert.equal(result.code, 1);
    assert.match(
      result.stdout,
      /^\[FAIL\] config: .*gateway\.api_prot \(line 4\): unknown key — did you mean gateway\.api_port\?/m,
    );
  });
});

describe('alerts', () => {
  it('reads audit.db read-only when the daemon is down, with filters', async (t) => {
    const home = await createTestHome(t);
    assert.equal((await home.cli(['init'])).code, 0);
    const store = openAuditStore({ path: join(home.dir, 'audit.db') });
    const finding = (severity: 'high' | 'low') => ({
      ruleId: `RULE-${severity.toUpperCase()}`,
      category: 'destructive',
      title: `a ${severity} finding`,
      severity,
      confidence: 0.9,
      target: 'command' as const,
      basis: 'facts' as const,
      detectionOnly: false,
      snippet: 'rm -rf ~',
      location: null,
      fingerprint: '0123456789abcdef',
      tags: [],
    });
    for (const [i, severity] of (['high', 'low'] as const).entries()) {
      store.writeNow({
        event: {
          ts: Date.now() - 1000 + i,
          kind: 'tool.call',
          source: 'ws',
          tool: 'exec',
          sessionKey: 'agent:main',
        },
        verdicts: [
          {
            lane: 'ws_tool_call',
            action: 'alert',
            rawAction: 'alert',
            mode: 'action',
            wouldBlock: false,
            severity,
            ruleIds: [`RULE-${severity.toUpperCase()}`],
            reason: 'matched',
            profile: 'default',
            generationId: 'gen-1',
            enforced: false,
            enforcement: 'none',
            scanMicros: 1,
            findings: [finding(severity)],
          },
        ],
      } as Parameters<typeof store.writeNow>[0]);
    }
    await store.close({ drainTimeoutMs: 1000 });

    const all = await home.cli(['alerts']);
    assert.equal(all.code, 0, all.stderr);
    assert.match(all.stderr, /^\(daemon not running; read from \S+audit\.db\)$/m);
    const lines = all.stdout.trim().split('\n');
    assert.match(lines[0]!, /^TIME +SEV +ACTION +TOOL +SESSION +RULES$/);
    assert.equal(lines.length, 3);
    assert.match(lines[1]!, /low +alert +exec +agent:main +RULE-LOW$/);
    const high = await home.cli(['alerts', '--severity', 'high', '--json']);
    const page = JSON.parse(high.stdout) as { alerts: { severity: string; rule_ids: string[] }[] };
    assert.deepEqual(
      page.alerts.map((a) => [a.severity, a.rule_ids]),
      [['high', ['RULE-HIGH']]],
    );
    const acked = await home.cli(['alerts', '--ack', '1']);
    assert.equal(acked.code, 1);
    assert.match(acked.stderr, /not running; acknowledging needs the daemon/);
    assert.equal((await home.cli(['alerts', '--severity', 'severe'])).code, 2);
  });

  it('lists and acknowledges through the API with the token and client header', async (t) => {
    const home = await createTestHome(t);
    assert.equal((await home.cli(['init'])).code, 0);
    const seen = await fakeApi(t, home, (req) =>
      req.url.startsWith('/alerts?')
        ? {
            status: 200,
            body: {
              alerts: [
                {
                  id: 7,
                  ts: '2026-05-01T10:00:00.000Z',
                  severity: 'critical',
                  title: 'x',
                  action: 'block',
                  tool: 'exec',
                  session_key: 'agent:main:main',
                  rule_ids: ['DLX-PIPE-SHELL'],
                },
              ],
              next_cursor: null,
            },
          }
        : { status: 200, body: { acked: [7, 8], already_acked: [], not_found: [9] } },
    );
    const listed = await home.cli(['alerts', '--limit', '5', '--since', '1h', '--tool', 'exec']);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(
      listed.stdout,
      /^2026-05-01T10:00:00Z +critical +block +exec +agent:main:main +DLX-PIPE-SHELL$/m,
    );
    const query = new URL(seen[0]!.url, 'http://x').searchParams;
    assert.equal(query.get('limit'), '5');
    assert.equal(query.get('since'), '1h');
    assert.equal(query.get('tool'), 'exec');
    assert.equal(query.get('status'), 'open');

    const acked = await home.cli(['alerts', '--ack', '7', '8', '9']);
    assert.equal(acked.code, 0, acked.stderr);
    assert.equal(acked.stdout, 'Acknowledged 2 alert(s), not found: 9\n');
    const post = seen.find((r) => r.method === 'POST')!;
    assert.equal(post.url, '/alerts/ack');
    assert.deepEqual(JSON.parse(post.body), { ids: [7, 8, 9] });
    assert.equal(post.headers.authorization, `Bearer ${token(home)}`);
    assert.equal(post.headers['x-defenseclaw-client'], 'cli');
    assert.equal(post.headers['content-type'], 'application/json');
    assert.equal((await home.cli(['alerts', '--ack-all'])).code, 2, '--ack-all without a TTY needs --yes');
  });
});

describe('policy reload', () => {
  it('prints the new generation, exits 3 on a rejected config and 1 when nothing runs', async (t) => {
    const home = await createTestHome(t);
    assert.equal((await home.cli(['init'])).code, 0);
    const down = await home.cli(['policy', 'reload']);
    assert.equal(down.code, 1);
    assert.equal(down.stderr, 'Gateway sidecar is not running\n');

    let reject = false;
    const seen = await fakeApi(t, home, () =>
      reject
        ? {
            status: 422,
            body: {
              error: {
                code: 'config_invalid',
                message: 'config.yaml is invalid',
                details: {
                  generation: 'gen-2',
                  errors: ['guardrail.mode (line 3): must be one of observe, action'],
                },
              },
            },
          }
        : {
            status: 200,
            body: {
              status: 'reloaded',
              generation: { id: 'gen-3' },
              policy: { profile: 'default', mode: 'observe', packs: 9, rules: 147 },
              restart_required: ['gateway.api_port'],
            },
          },
    );
    const ok = await home.cli(['policy', 'reload']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(
      ok.stdout,
      'Policy reloaded: profile default, mode observe, 9 packs, 147 rules (generation gen-3)\n' +
        '  ! restart required for: gateway.api_port (run: defenseclaw-gateway restart)\n',
    );
    assert.equal(seen[0]!.url, '/policy/reload');
    assert.equal(seen[0]!.headers.authorization, `Bearer ${token(home)}`);
    assert.equal(seen[0]!.headers['x-defenseclaw-client'], 'cli');
    assert.equal(seen[0]!.body, '{}');

    reject = true;
    const failed = await home.cli(['policy', 'reload']);
    assert.equal(failed.code, 3);
    assert.match(
      failed.stderr,
      /^policy reload: FAILED\n {2}config\.yaml is invalid \(config_invalid\)\n {2}guardrail\.mode/,
    );
  });
});

describe('status against an older daemon', () => {
  it('falls back to /health when /status is missing', async (t) => {
    const home = await createTestHome(t);
    await fakeApi(t, home, (req) =>
      req.url === '/health'
        ? {
            status: 200,
            body: {
              api: {
                state: 'running',
                since: new Date(Date.now() - 65_000).toISOString(),
                details: { addr: 'x', api_token: 'sekrit' },
              },
              gateway: {
                state: 'reconnecting',
                since: '2026-05-01T10:00:00.000Z',
                last_error: 'connect ECONNREFUSED',
              },
            },
          }
        : { status: 404, body: { error: { code: 'not_found', message: 'no route' } } },
    );
    const result = await home.cli(['status']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^DefenseClaw gateway sidecar — running \(up 1m \d+s\)$/m);
    assert.match(result.stdout, /^ {2}gateway +reconnecting +2026-05-01T10:00:00\.000Z$/m);
    assert.match(result.stdout, /^ {4}last error: connect ECONNREFUSED$/m);
    assert.doesNotMatch(result.stdout, /sekrit/, 'DETAIL never shows token-like keys');
  });
});

describe('help', () => {
  it('lists the lifecycle commands and hides _watchdog', async () => {
    const { code, stdout } = await runCli(['--help']);
    assert.equal(code, 0);
    for (const name of [
      'start',
      'stop',
      'restart',
      'status',
      'init',
      'doctor',
      'alerts',
      'policy',
      'service',
    ]) {
      assert.match(stdout, new RegExp(`\\b${name}\\b`), name);
    }
    assert.doesNotMatch(stdout, /_watchdog/);
  });
});
