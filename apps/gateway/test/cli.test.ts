import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { openAuditStore } from '@defenseclaw/audit-store';
import { createFakeOpenClawGateway, type FakeOpenClawGateway } from '@defenseclaw/gateway-client/testing';
import { type CliProcess, cleanEnv, freePort, runCli, spawnCli, waitUntil } from './_helpers.ts';

const TOKEN = 'fake-gateway-token-0123456789';

let root: string;
const children: CliProcess[] = [];
before(() => {
  root = mkdtempSync(join(tmpdir(), 'dc-cli-'));
});
afterEach(async () => {
  for (const child of children.splice(0)) {
    child.kill('SIGKILL');
    await child.exited;
  }
});
after(() => {
  rmSync(root, { recursive: true, force: true });
});

let n = 0;
function home(): string {
  return mkdtempSync(join(root, `h${n++}-`));
}

type HealthBody = Record<
  string,
  { state: string; since: string; last_error?: string; details?: Record<string, unknown> }
>;

async function getHealth(port: number): Promise<HealthBody | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/health`);
    return (await res.json()) as HealthBody;
  } catch {
    return undefined;
  }
}

describe('defenseclaw-gateway --help and version', () => {
  it('prints usage with the commands and exits 0', async () => {
    const { code, stdout } = await runCli(['--help']);
    assert.equal(code, 0);
    assert.match(stdout, /USAGE defenseclaw-gateway/);
    assert.match(stdout, /\brun\b.*foreground/);
    assert.match(stdout, /\bversion\b/);
    assert.match(stdout, /--home/);
    const run = await runCli(['run', '--help']);
    assert.equal(run.code, 0);
    assert.match(run.stdout, /defenseclaw-gateway run/);
  });

  it('prints the version line, and JSON with --json', async () => {
    const text = await runCli(['version']);
    assert.equal(text.code, 0);
    assert.match(
      text.stdout,
      /^defenseclaw-gateway \d+\.\d+\.\d+ \(node v\d+\.\d+\.\d+; [a-z0-9]+-[a-z0-9]+; OpenClaw protocol 3–4\)\n$/,
    );
    const json = await runCli(['version', '--json']);
    assert.equal(json.code, 0);
    const info = JSON.parse(json.stdout) as {
      name: string;
      version: string;
      node: string;
      protocol: { min: number; max: number };
    };
    assert.equal(info.name, 'defenseclaw-gateway');
    assert.equal(info.node, process.version);
    assert.deepEqual(info.protocol, { min: 3, max: 4 });
    // Global flags are accepted before the command too.
    const leading = await runCli(['--no-color', 'version']);
    assert.equal(leading.code, 0);
    assert.equal(leading.stdout, text.stdout);
  });

  it('exits 2 on an unknown command or flag', async () => {
    const command = await runCli(['frobnicate']);
    assert.equal(command.code, 2);
    assert.match(command.stderr, /unknown command "frobnicate"/);
    const flag = await runCli(['version', '--jsno']);
    assert.equal(flag.code, 2);
    assert.match(flag.stderr, /unknown flag --jsno/);
  });
});

describe('defenseclaw-gateway run', () => {
  let fake: FakeOpenClawGateway;
  before(async () => {
    fake = await createFakeOpenClawGateway({ token: TOKEN });
  });
  after(async () => {
    await fake.close();
  });

  it('connects, serves /health, logs tool calls, results and approvals one line each, and exits 0 on SIGTERM', async () => {
    const dir = home();
    const apiPort = await freePort();
    const child = spawnCli(
      ['run', '--home', dir],
      cleanEnv({
        OPENCLAW_GATEWAY_TOKEN: TOKEN,
        DEFENSECLAW__GATEWAY__API_PORT: String(apiPort),
        DEFENSECLAW__GATEWAY__PORT: String(fake.port),
      }),
    );
    children.push(child);

    const health = await waitUntil(
      async () => {
        const body = await getHealth(apiPort);
        return body?.gateway?.state === 'running' ? body : undefined;
      },
      15_000,
      'gateway running in /health',
    );
    assert.equal(health.api?.state, 'running');
    assert.equal(health.gateway?.details?.protocol, 4);
    assert.equal(health.sandbox?.state, 'disabled');
    assert.equal(health.sandbox?.details?.reason, 'not supported in this build');
    for (const key of ['guardrail', 'splunk']) {
      assert.equal(health[key]?.state, 'disabled', key);
      assert.equal(typeof health[key]?.details?.reason, 'string', key);
    }
    assert.equal(health.watcher?.state, 'running');
    assert.equal(health.telemetry?.state, 'running');
    assert.equal(health.telemetry?.details?.metrics_path, '/metrics');
    const metrics = await fetch(`http://127.0.0.1:${apiPort}/metrics`);
    assert.equal(metrics.status, 200);
    assert.match(
      await metrics.text(),
      /^defenseclaw_subsystem_state\{subsystem="gateway",state="running"\} 1$/m,
    );
    // The audit store and the policy engine are live.
    assert.equal(health.audit?.state, 'running');
    assert.equal(health.audit?.details?.path, join(dir, 'audit.db'));
    assert.equal(health.audit?.details?.synchronous, 'normal');
    assert.equal(health.audit?.details?.queue_capacity, 10_000);
    assert.equal(health.policy?.state, 'running');
    assert.equal(health.policy?.details?.mode, 'action');
    assert.equal(health.policy?.details?.profile, 'default');
    assert.ok(Number(health.policy?.details?.rules) > 50, 'the default pack is loaded');
    assert.match(
      String((health.policy?.details?.generation as { digest?: string })?.digest),
      /^[0-9a-f]{64}$/,
    );
    // The data dir was created private, with the device key, .env and audit.db inside.
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    assert.equal(statSync(join(dir, 'device.key')).mode & 0o777, 0o600);
    assert.equal(statSync(join(dir, 'audit.db')).mode & 0o777, 0o600);
    assert.equal(statSync(join(dir, '.env')).mode & 0o777, 0o600);
    const envText = readFileSync(join(dir, '.env'), 'utf8');
    const evidenceKey = /^DEFENSECLAW_EVIDENCE_KEY=([0-9a-f]{64})$/m.exec(envText)?.[1];
    const apiToken = /^DEFENSECLAW_API_TOKEN=([0-9a-f]{64})$/m.exec(envText)?.[1];
    assert.ok(evidenceKey && apiToken, 'both secrets generated into .env');

    await fake.emitToolRun({
      sessionKey: 'agent:main:main',
      tool: 'read',
      args: { path: 'notes.txt' },
      result: 'hello',
    });
    await child.waitForStderr(/tool call read id=\S+ session=agent:main:main args=\[path\] bytes=\d+/);
    await child.waitForStderr(/tool result read id=\S+ error=false bytes=5/);

    void fake
      .requestApproval(
        { command: 'rm -rf /tmp/scratch', sessionKey: 'agent:main:main' },
        { expiresInMs: 60_000 },
      )
      .catch(() => {});
    await child.waitForStderr(
      /approval requested id=\S+ session=agent:main:main (call=\S+ )?command_chars=19/,
    );

    const stderr = child.stderr();
    assert.equal(stderr.match(/tool call read/g)?.length, 1, 'one line per tool call');
    assert.equal(stderr.match(/tool result read/g)?.length, 1, 'one line per tool result');
    assert.ok(!stderr.includes(TOKEN), 'the token never reaches the log');
    assert.ok(!stderr.includes('notes.txt') && !stderr.includes('/tmp/scratch'), 'tool content never logged');
    assert.ok(!stderr.includes(evidenceKey) && !stderr.includes(apiToken), 'generated secrets never logged');
    assert.match(stderr, /^\d{4}-\d\d-\d\dT[\d:.]+Z INFO \[events\] tool call read/m);
    assert.match(stderr, /INFO \[sidecar\] generated DEFENSECLAW_EVIDENCE_KEY into /);

    child.kill('SIGTERM');
    const { code } = await child.exited;
    assert.equal(code, 0);
    assert.equal(await getHealth(apiPort), undefined, 'the API port is released');

    // The trail: start, the read's call and result, the approval, and a clean stop with the drain counts.
    const store = openAuditStore({ path: join(dir, 'audit.db') });
    try {
      assert.equal(store.previousShutdown, 'clean');
      const kinds = store.queries
        .listEvents({ limit: 100 })
        .events.map((e) => e.kind)
        .reverse();
      assert.deepEqual(kinds, ['sidecar.start', 'tool.call', 'tool.result', 'exec.approval', 'sidecar.stop']);
      const start = store.queries.listEvents({ kind: 'sidecar.start' }).events[0]!;
      assert.equal(
        (store.queries.getEvent(start.id)!.payload as { previous_shutdown: string }).previous_shutdown,
        'first',
      );
      const stop = store.queries.getEvent(store.queries.listEvents({ kind: 'sidecar.stop' }).events[0]!.id)!;
      assert.equal((stop.payload as { dropped: number }).dropped, 0);
    } finally {
      await store.close();
    }
  });

  it('exits 3 with file:line:col for an invalid operator pack, and 1 when audit.db cannot be opened', async () => {
    const dir = home();
    mkdirSync(join(dir, 'policies'));
    writeFileSync(
      join(dir, 'policies', 'acme.yaml'),
      [
        'pack: { name: acme, version: 1.0.0 }',
        'rules:',
        '  - id: ACME-RM',
        '    title: rm in the deploy dir',
        '    category: custom',
        '    severity: high',
        '    targets: [command]',
        "    patterns: ['rm -rf /srv/deploy']",
        '    colour: red',
        '',
      ].join('\n'),
    );
    const pack = await runCli(['run', '--home', dir], cleanEnv({ DEFENSECLAW__GATEWAY__CONNECT: 'false' }));
    assert.equal(pack.code, 3);
    assert.match(pack.stderr, /^policy error: 1 problem in the rule packs$/m);
    assert.match(pack.stderr, /acme\.yaml:9:\d+ .*colour/);

    const other = home();
    mkdirSync(join(other, 'audit.db'));
    const audit = await runCli(
      ['run', '--home', other],
      cleanEnv({ DEFENSECLAW__GATEWAY__CONNECT: 'false' }),
    );
    assert.equal(audit.code, 1);
    assert.match(audit.stderr, /^audit: cannot open .*audit\.db: /m);
  });

  it('exits 3 naming the unknown key, with its line and a did-you-mean', async () => {
    const dir = home();
    writeFileSync(join(dir, 'config.yaml'), 'config_version: 1\ngateway:\n  api_prot: 18971\n', {
      mode: 0o600,
    });
    const { code, stderr } = await runCli(['run', '--home', dir]);
    assert.equal(code, 3);
    assert.match(stderr, /^config error: .*config\.yaml$/m);
    assert.match(
      stderr,
      /^ {2}gateway\.api_prot \(line 3\): unknown key — did you mean gateway\.api_port\?$/m,
    );
  });

  it('exits 3 for a bad DEFENSECLAW__ override and for a .env readable by others', async () => {
    const override = await runCli(
      ['run', '--home', home()],
      cleanEnv({ DEFENSECLAW__GATEWAY__API_PORT: 'lots' }),
    );
    assert.equal(override.code, 3);
    assert.match(
      override.stderr,
      /gateway\.api_port \(DEFENSECLAW__GATEWAY__API_PORT\): must be an integer; got "lots"/,
    );

    const dir = home();
    writeFileSync(join(dir, '.env'), `OPENCLAW_GATEWAY_TOKEN=${TOKEN}\n`);
    chmodSync(join(dir, '.env'), 0o644);
    const env = await runCli(['run', '--home', dir]);
    assert.equal(env.code, 3);
    assert.match(env.stderr, /\.env has mode 0644; secrets files must be 0600/);
    assert.ok(!env.stderr.includes(TOKEN));
  });

  it('exits 4 with the bind message when the API port is taken', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const { code, stderr } = await runCli(
        ['run', '--home', home()],
        cleanEnv({ DEFENSECLAW__GATEWAY__API_PORT: String(port), DEFENSECLAW__GATEWAY__CONNECT: 'false' }),
      );
      assert.equal(code, 4);
      assert.match(
        stderr,
        new RegExp(
          `^run: FAILED: bind: address already in use: 127\\.0\\.0\\.1:${port} \\(gateway\\.api_port\\)$`,
          'm',
        ),
      );
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });

  it('reports gateway disabled with gateway.connect false and stops on SIGINT', async () => {
    const apiPort = await freePort();
    const child = spawnCli(
      ['run', '--home', home()],
      cleanEnv({ DEFENSECLAW__GATEWAY__API_PORT: String(apiPort), DEFENSECLAW__GATEWAY__CONNECT: 'false' }),
    );
    children.push(child);
    const health = await waitUntil(() => getHealth(apiPort), 15_000, '/health');
    assert.equal(health.gateway?.state, 'disabled');
    assert.match(String(health.gateway?.details?.reason), /gateway\.connect: false/);
    child.kill('SIGINT');
    assert.equal((await child.exited).code, 0);
  });
});
