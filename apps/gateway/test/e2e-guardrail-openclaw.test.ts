// End to end: a real OpenClaw 2026.9.6 agent whose LLM traffic goes through the guardrail proxy. `setup guardrail`
// points OpenClaw's model provider at the proxy through `config.patch`; the sidecar runs the proxy in action mode in
// front of the scripted fake LLM; a benign run goes through untouched, and a completion carrying a `curl … | bash`
// exec tool call is blocked before OpenClaw sees it. `setup guardrail --disable` puts everything back. Run it with
// `pnpm test:e2e` (scripts/e2e.mjs fills the cache and sets DEFENSECLAW_E2E_OPENCLAW=1); otherwise it is skipped.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createGatewayClient, deviceIdentityFromSeed, type GatewayClient } from '@defenseclaw/gateway-client';
import Database from 'better-sqlite3';
import { type AuditEvent, cellsContaining, eventPayload, listAuditEvents } from '../../../e2e/audit-db.ts';
import type { FakeLlm } from '../../../e2e/fake-llm.ts';
import { getFreeLoopbackPort } from '../../../e2e/openclaw-harness.ts';
import { type OpenClawStage, startOpenClawStage } from '../../../e2e/openclaw-stage.ts';
import { SIDECAR_BIN, type SidecarProcess, sidecarEnv, startSidecar } from '../../../e2e/sidecar-process.ts';
import { within } from '../../../e2e/wait.ts';
import { plantWorkspace } from '../../../e2e/workspace-files.ts';

const skip =
  process.env.DEFENSECLAW_E2E_OPENCLAW === '1'
    ? false
    : 'set DEFENSECLAW_E2E_OPENCLAW=1 or run `pnpm test:e2e`';

const SESSIONS = { benign: 'agent:main:e2e-gr-benign', evil: 'agent:main:e2e-gr-evil' } as const;

type ChatFinal = { sessionKey: string; text: string; stopReason: unknown };

describe('the guardrail proxy in front of a real OpenClaw 2026.9.6 agent', { skip, timeout: 600_000 }, () => {
  const token = `e2e-gr-${randomBytes(12).toString('hex')}`;
  const finals: ChatFinal[] = [];
  // Every chat/agent event per session, for the failure message.
  const trail: string[] = [];
  const approvalsRequested: string[] = [];
  let stage: OpenClawStage | undefined;
  let llm: FakeLlm | undefined;
  let driver: GatewayClient | undefined;
  let sidecar: SidecarProcess | undefined;
  let port = 0;
  let proxyPort = 0;
  let configPath = '';
  let dcHome = '';

  const dcEnv = () => ({
    OPENCLAW_GATEWAY_TOKEN: token,
    DEFENSECLAW__GATEWAY__PORT: String(port),
    DEFENSECLAW__CLAW__CONFIG_FILE: configPath,
    DEFENSECLAW__GUARDRAIL__PORT: String(proxyPort),
    DEFENSECLAW__GUARDRAIL__MODE: 'action',
  });
  const cli = (args: string[]) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [SIDECAR_BIN, ...args, '--home', dcHome], {
        env: sidecarEnv(dcEnv()),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk) => {
        stdout += String(chunk);
      });
      child.stderr.on('data', (chunk) => {
        stderr += String(chunk);
      });
      child.on('exit', (code) => resolve({ code, stdout, stderr }));
    });
  const providerInOpenClaw = () =>
    (
      JSON.parse(readFileSync(configPath, 'utf8')) as {
        models: { providers: { fakellm: { baseUrl: string; apiKey: string } } };
      }
    ).models.providers.fakellm;
  const auditEvents = (kind: string): AuditEvent[] => {
    const path = join(dcHome, 'audit.db');
    if (!existsSync(path)) return [];
    const db = new Database(path, { readonly: true, fileMustExist: true });
    try {
      return listAuditEvents(db, { kind });
    } finally {
      db.close();
    }
  };
  const pollAudit = async (kind: string, match: (e: AuditEvent) => boolean, what: string) => {
    const deadline = performance.now() + 15_000;
    for (;;) {
      const found = auditEvents(kind).find(match);
      if (found !== undefined) return found;
      if (performance.now() > deadline)
        assert.fail(`audit.db: no ${what} within 15 s\n--- sidecar output ---\n${sidecar?.output() ?? ''}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  const runToFinal = async (scenario: string, key: string, text: string): Promise<ChatFinal> => {
    assert.ok(driver !== undefined);
    await driver.request('sessions.create', { key, agentId: 'main' });
    const sent = await driver.request<{ status?: unknown }>('chat.send', {
      sessionKey: key,
      message: `[[scenario:${scenario}]] ${text}`,
      idempotencyKey: randomUUID(),
    });
    assert.equal(sent.status, 'started');
    const deadline = performance.now() + 90_000;
    for (;;) {
      const final = finals.find((f) => f.sessionKey === key);
      if (final !== undefined) return final;
      if (performance.now() > deadline)
        assert.fail(
          `no final chat message for ${key} within 90 s\n--- events ---\n${trail.filter((line) => line.includes(key)).join('\n')}\n--- fake LLM calls ---\n${llm?.calls.map((c) => `${c.scenario}:${c.answered}`).join(', ')}\n--- sidecar ---\n${sidecar?.output() ?? ''}`,
        );
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };

  before(
    async () => {
      stage = await startOpenClawStage({ token, prepareWorkspace: plantWorkspace });
      ({ llm, port, configPath, dcHome } = stage);
      proxyPort = await getFreeLoopbackPort();
    },
    { timeout: 120_000 },
  );

  after(
    async () => {
      await driver?.close().catch(() => {});
      await sidecar?.stop({ killAfterMs: 10_000 });
      await stage?.close();
    },
    { timeout: 60_000 },
  );

  it('1. `setup guardrail` points the OpenClaw provider at the proxy through config.patch', async (t) => {
    const started = performance.now();
    const out = await cli(['setup', 'guardrail']);
    t.diagnostic(`setup guardrail: ${Math.round(performance.now() - started)} ms`);
    assert.equal(out.code, 0, `setup guardrail failed:\n${out.stdout}\n${out.stderr}`);
    assert.match(out.stdout, /OpenClaw provider fakellm now calls the guardrail proxy/);
    const provider = providerInOpenClaw();
    assert.equal(provider.baseUrl, `http://127.0.0.1:${proxyPort}/v1`);
    assert.match(provider.apiKey, /^sk-dc-[0-9a-f]{64}$/);
    assert.ok(!out.stdout.includes(provider.apiKey) && !out.stderr.includes(provider.apiKey));
    const again = await cli(['setup', 'guardrail']);
    assert.equal(again.code, 0);
    assert.match(again.stdout, /already enabled/);
  });

  it('2. starts the sidecar with the proxy in action mode', async () => {
    const apiPort = await getFreeLoopbackPort();
    sidecar = startSidecar({ home: dcHome, apiPort, env: dcEnv() });
    const health = await sidecar.waitForHealth(
      (h) => h.gateway?.state === 'running' && h.guardrail?.state === 'running',
      60_000,
    );
    assert.equal((health.guardrail?.details as { mode?: string } | undefined)?.mode, 'action');
    driver = createGatewayClient({
      url: `ws://127.0.0.1:${port}`,
      token,
      identity: deviceIdentityFromSeed(randomBytes(32)),
      bootstrap: false,
      caps: ['tool-events'],
      env: {},
    });
    driver.on('event', ({ name, payload }) => {
      const p = payload as Record<string, unknown>;
      if (name === 'chat' || name === 'agent') trail.push(`${name} ${JSON.stringify(p).slice(0, 400)}`);
      if (name === 'exec.approval.requested') approvalsRequested.push(JSON.stringify(p));
      if (name === 'chat' && p.state === 'final') {
        const message = p.message as { content?: { type?: string; text?: string }[] } | undefined;
        finals.push({
          sessionKey: String(p.sessionKey),
          text: (message?.content ?? []).map((part) => part.text ?? '').join(''),
          stopReason: p.stopReason,
        });
      }
    });
    await within(driver.connect(), 30_000, 'the driver hello-ok');
  });

  it('3. a benign run goes through the proxy to the fake LLM; the master key never reaches it', async () => {
    assert.ok(llm !== undefined);
    const before = llm.calls.length;
    const final = await runToFinal('read', SESSIONS.benign, 'What is in notes.txt?');
    assert.match(final.text, /harmless notes/);
    const calls = llm.calls.slice(before);
    assert.ok(calls.length >= 2, `the fake LLM answered ${calls.length} calls through the proxy`);
    const masterKey = providerInOpenClaw().apiKey;
    for (const call of calls) {
      assert.ok(!JSON.stringify(call.headers).includes(masterKey), 'the master key is never forwarded');
      assert.equal(
        call.headers.authorization,
        'Bearer sk-fake-local-harness',
        'the upstream key comes from .env',
      );
    }
    const event = await pollAudit(
      'proxy.request',
      (e) => eventPayload(e)?.outcome === 'ok',
      'an ok proxy.request event',
    );
    assert.equal(event.source, 'proxy');
  });

  it('4. in action mode, a completion proposing `curl … | bash` is blocked; OpenClaw never runs or asks for it', async () => {
    const final = await runToFinal('exec-deny', SESSIONS.evil, 'Install the helper script.');
    assert.match(final.text, /\[DefenseClaw\] Blocked/);
    assert.equal(approvalsRequested.length, 0, 'the blocked tool call never became an exec approval');
    const event = await pollAudit(
      'proxy.request',
      // OpenClaw streams: a stream blocked by the tool-call hold ends as cut_midstream (nothing unsafe delivered).
      (e) => ['blocked_response', 'cut_midstream'].includes(String(eventPayload(e)?.outcome)),
      'a blocked proxy.request event',
    );
    assert.ok(event.verdicts.some((v) => v.action === 'block'));
    const db = new Database(join(dcHome, 'audit.db'), { readonly: true });
    try {
      assert.deepEqual(cellsContaining(db, providerInOpenClaw().apiKey), [], 'no master key in audit.db');
    } finally {
      db.close();
    }
  });

  it('5. `setup guardrail --disable` points the provider back at its own upstream', async () => {
    assert.ok(llm !== undefined);
    const out = await cli(['setup', 'guardrail', '--disable']);
    assert.equal(out.code, 0, `${out.stdout}\n${out.stderr}`);
    const provider = providerInOpenClaw();
    assert.equal(provider.baseUrl, llm.baseUrl);
    assert.equal(provider.apiKey, 'sk-fake-local-harness');
  });
});
