import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as v from 'valibot';
import {
  effectiveHoldbackChars,
  GUARDRAIL_PROXY_CONFIG_ENTRIES,
  GuardrailConfigSchema,
  guardrailConfigIssues,
  parseGuardrailConfig,
} from '../src/config.ts';

describe('GuardrailConfigSchema', () => {
  it('applies the spec defaults to an empty section', () => {
    const config = v.parse(GuardrailConfigSchema, {});
    assert.equal(config.mode, 'observe');
    assert.equal(config.block_compat, 'native');
    assert.equal(config.seen_cache_entries, 50_000);
    assert.equal(config.max_streams, 1024);
    assert.equal(config.max_inflight, 1024);
    assert.equal(config.limits.request_body_bytes, 10 * 1024 * 1024);
    assert.equal(config.limits.response_body_bytes, 20 * 1024 * 1024);
    assert.equal(config.limits.connect_timeout_ms, 5_000);
    assert.equal(config.limits.first_byte_timeout_ms, 600_000);
    assert.equal(config.limits.stream_first_byte_timeout_ms, 120_000);
    assert.equal(config.limits.stream_idle_timeout_ms, 120_000);
    assert.equal(config.limits.stream_total_timeout_ms, 1_800_000);
    assert.equal(config.stream.holdback_chars, null);
    assert.equal(config.stream.scan_step_chars, 128);
    assert.equal(config.stream.overlap_chars, 512);
    assert.equal(config.stream.max_event_bytes, 1024 * 1024);
    assert.equal(config.stream.max_held_bytes, 4 * 1024 * 1024);
    assert.deepEqual(config.providers, {});
  });

  it('exports entries the app can spread into its own guardrail section', () => {
    const section = v.strictObject({
      enabled: v.optional(v.boolean(), false),
      ...GUARDRAIL_PROXY_CONFIG_ENTRIES,
    });
    const parsed = v.parse(section, {
      providers: { o: { base_url: 'https://api.openai.com/v1', flavour: 'openai' } },
    });
    assert.equal(parsed.providers.o?.flavour, 'openai');
    assert.equal(parsed.max_streams, 1024);
  });

  it('names the key and the problem for every invalid leaf at once', () => {
    const result = parseGuardrailConfig({
      providers: {
        meta: { base_url: 'http://169.254.169.254/latest', flavour: 'openai' },
        plainhttp: { base_url: 'http://api.example.com/v1', flavour: 'openai' },
        userinfo: { base_url: 'https://user:pw@api.example.com', flavour: 'anthropic' },
        frag: { base_url: 'https://api.example.com/v1#x', flavour: 'openai' },
        priv: { base_url: 'https://10.1.2.3/v1', flavour: 'openai' },
        'a/b': { base_url: 'https://api.example.com', flavour: 'openai' },
        typo: { base_url: 'https://api.example.com', flavour: 'openai', alow_private: true },
        badflavour: { base_url: 'https://api.example.com', flavour: 'gemini' },
      },
      forward_headers: ['Authorization'],
      stream: { holdback_chars: -1 },
      max_streams: 0,
    });
    assert.equal(result.success, false);
    const errors = result.success ? [] : result.errors;
    const expect = [
      /^guardrail\.providers\.meta\.base_url: points at a cloud metadata address/,
      /^guardrail\.providers\.plainhttp\.base_url: must use https/,
      /^guardrail\.providers\.userinfo\.base_url: must not carry credentials/,
      /^guardrail\.providers\.frag\.base_url: must not have a fragment/,
      /^guardrail\.providers\.priv\.base_url: points at a private address .*allow_private/,
      /^guardrail\.providers\.a\/b: provider names use letters/,
      /^guardrail\.providers\.typo\.alow_private: is not a known key/,
      /^guardrail\.providers\.badflavour\.flavour: must be one of openai, openai-chat, anthropic/,
      /^guardrail\.forward_headers\.0: must not be a credential/,
      /^guardrail\.stream\.holdback_chars: must be at least 0; got -1/,
      /^guardrail\.max_streams: must be at least 1; got 0/,
    ];
    for (const re of expect)
      assert.ok(
        errors.some((e) => re.test(e)),
        `${re} in\n${errors.join('\n')}`,
      );
  });

  it('allows loopback http only with allow_private, and never a metadata host', () => {
    const ok = parseGuardrailConfig({
      providers: {
        ollama: { base_url: 'http://127.0.0.1:11434/v1', flavour: 'openai-chat', allow_private: true },
      },
    });
    assert.equal(ok.success, true);
    const meta = parseGuardrailConfig({
      providers: {
        m: { base_url: 'https://metadata.google.internal/x', flavour: 'openai', allow_private: true },
      },
    });
    assert.equal(meta.success, false);
  });

  it('rejects aliases and default_provider naming unknown providers', () => {
    const result = parseGuardrailConfig({
      providers: { openai: { base_url: 'https://api.openai.com/v1', flavour: 'openai' } },
      aliases: { fast: { provider: 'nope', model: 'x' } },
      default_provider: 'missing',
    });
    assert.equal(result.success, false);
    const errors = result.success ? [] : result.errors;
    assert.ok(
      errors.some((e) => e.startsWith('guardrail.aliases.fast.provider: names an unknown provider "nope"')),
    );
    assert.ok(
      errors.some((e) => e.startsWith('guardrail.default_provider: names an unknown provider "missing"')),
    );
    assert.deepEqual(
      guardrailConfigIssues({
        providers: { a: {} },
        aliases: { x: { provider: 'a' } },
        default_provider: 'a',
      }),
      [],
    );
  });

  it('lowercases forward_headers', () => {
    const result = parseGuardrailConfig({ forward_headers: ['X-Team-Id'] });
    assert.ok(result.success);
    assert.deepEqual(result.config.forward_headers, ['x-team-id']);
  });
});

describe('effectiveHoldbackChars', () => {
  it('defaults to 256 in action mode and 0 in observe, unless configured', () => {
    const base = v.parse(GuardrailConfigSchema, {});
    assert.equal(effectiveHoldbackChars({ ...base, mode: 'action' }), 256);
    assert.equal(effectiveHoldbackChars({ ...base, mode: 'observe' }), 0);
    assert.equal(
      effectiveHoldbackChars({ mode: 'action', stream: { ...base.stream, holdback_chars: 64 } }),
      64,
    );
    assert.equal(
      effectiveHoldbackChars({ mode: 'observe', stream: { ...base.stream, holdback_chars: 0 } }),
      0,
    );
  });
});
