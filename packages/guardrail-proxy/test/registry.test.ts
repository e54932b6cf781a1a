import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseGuardrailConfig } from '../src/config.ts';
import {
  createProviderRegistry,
  describeProviders,
  listModels,
  providerViews,
  upstreamUrl,
} from '../src/providers/registry.ts';

function registryConfig(extra: Record<string, unknown> = {}) {
  const parsed = parseGuardrailConfig({
    providers: {
      openai: {
        base_url: 'https://api.openai.com/v1/',
        api_key_env: 'OPENAI_API_KEY',
        flavour: 'openai',
        models: ['gpt-x'],
      },
      anthropic: {
        base_url: 'https://api.anthropic.com',
        api_key_env: 'ANTHROPIC_API_KEY',
        flavour: 'anthropic',
      },
      openrouter: {
        base_url: 'https://openrouter.ai/api/v1',
        api_key_env: 'OPENROUTER_API_KEY',
        flavour: 'openai-chat',
      },
      ollama: {
        base_url: 'http://127.0.0.1:11434/v1',
        flavour: 'openai-chat',
        allow_private: true,
        models: ['llama3'],
      },
    },
    aliases: { 'defenseclaw/gpt-x': { provider: 'openai', model: 'gpt-x' } },
    ...extra,
  });
  if (!parsed.success) throw new Error(parsed.errors.join('\n'));
  return parsed.config;
}

describe('createProviderRegistry', () => {
  it('resolves an exact alias first', () => {
    const built = createProviderRegistry(registryConfig());
    assert.ok(built.success);
    const r = built.registry.resolve('defenseclaw/gpt-x');
    assert.equal(r?.provider.name, 'openai');
    assert.equal(r?.model, 'gpt-x');
    assert.equal(r?.via, 'alias');
  });

  it('splits provider/model at the first slash', () => {
    const built = createProviderRegistry(registryConfig());
    assert.ok(built.success);
    const r = built.registry.resolve('openrouter/anthropic/claude-x');
    assert.equal(r?.provider.name, 'openrouter');
    assert.equal(r?.model, 'anthropic/claude-x');
    assert.equal(r?.via, 'prefix');
  });

  it('falls back to default_provider with the model unchanged, else resolves nothing', () => {
    const none = createProviderRegistry(registryConfig());
    assert.ok(none.success);
    assert.equal(none.registry.resolve('gpt-4o'), undefined);
    assert.equal(none.registry.resolve('unknown/model'), undefined);
    const withDefault = createProviderRegistry(registryConfig({ default_provider: 'openrouter' }));
    assert.ok(withDefault.success);
    const r = withDefault.registry.resolve('meta/llama-x');
    assert.equal(r?.provider.name, 'openrouter');
    assert.equal(r?.model, 'meta/llama-x');
    assert.equal(r?.via, 'default');
  });

  it('reports every invalid URL and cross reference', () => {
    const built = createProviderRegistry({
      providers: {
        bad: { base_url: 'http://10.0.0.1/v1', flavour: 'openai', allow_private: false, models: [] },
      },
      aliases: { a: { provider: 'ghost', model: 'm' } },
      default_provider: undefined,
    });
    assert.equal(built.success, false);
    assert.equal(built.success ? 0 : built.errors.length, 2);
  });
});

describe('upstreamUrl', () => {
  it('joins endpoint paths per flavour, tolerating an Anthropic base with or without /v1', () => {
    const built = createProviderRegistry(registryConfig());
    assert.ok(built.success);
    const p = built.registry.providers;
    assert.equal(upstreamUrl(p.get('openai')!, 'chat'), 'https://api.openai.com/v1/chat/completions');
    assert.equal(upstreamUrl(p.get('openai')!, 'responses'), 'https://api.openai.com/v1/responses');
    assert.equal(upstreamUrl(p.get('anthropic')!, 'messages'), 'https://api.anthropic.com/v1/messages');
    const v1 = createProviderRegistry({
      providers: {
        a: {
          base_url: 'https://api.anthropic.com/v1',
          flavour: 'anthropic',
          allow_private: false,
          models: [],
        },
      },
      aliases: {},
      default_provider: undefined,
    });
    assert.ok(v1.success);
    assert.equal(
      upstreamUrl(v1.registry.providers.get('a')!, 'messages'),
      'https://api.anthropic.com/v1/messages',
    );
  });
});

describe('listModels / providerViews / describeProviders', () => {
  it('lists aliases then provider/model ids, without calling upstream', () => {
    const built = createProviderRegistry(registryConfig());
    assert.ok(built.success);
    assert.deepEqual(
      listModels(built.registry).map((m) => [m.id, m.owned_by]),
      [
        ['defenseclaw/gpt-x', 'openai'],
        ['openai/gpt-x', 'openai'],
        ['ollama/llama3', 'ollama'],
      ],
    );
  });

  it('shows key variable names and presence, never values', () => {
    const built = createProviderRegistry(registryConfig());
    assert.ok(built.success);
    const views = providerViews(built.registry, (n) =>
      n === 'OPENAI_API_KEY' ? 'sk-secret-value' : undefined,
    );
    const text = JSON.stringify(views);
    assert.ok(!text.includes('sk-secret-value'));
    assert.equal(views.find((p) => p.name === 'openai')?.key_present, true);
    assert.equal(views.find((p) => p.name === 'anthropic')?.key_present, false);
    assert.equal(views.find((p) => p.name === 'ollama')?.api_key_env, null);
    const described = describeProviders(registryConfig({ default_provider: 'openai' }), () => undefined);
    assert.ok(described.success);
    assert.equal(described.default_provider, 'openai');
    assert.deepEqual(described.models['defenseclaw/gpt-x'], { provider: 'openai', model: 'gpt-x' });
  });
});
