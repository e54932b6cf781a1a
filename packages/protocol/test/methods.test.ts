import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as v from 'valibot';
import {
  APPROVAL_DECISIONS,
  buildConfigPatchParams,
  buildResolveApprovalParams,
  buildSessionsListParams,
  buildSessionsMessagesSubscribeParams,
  buildSessionsSendParams,
  buildSessionsSubscribeParams,
  buildSkillsStatusParams,
  buildSkillsUpdateParams,
  buildToolsCatalogParams,
  ConfigGetResultSchema,
  ConfigPatchResultSchema,
  isApprovalDecision,
  METHOD_RESULT_SCHEMAS,
  METHODS,
  type ResolveApprovalParams,
  type SessionsListFilters,
  SessionsListResultSchema,
  SessionsSendResultSchema,
  SkillsBinsResultSchema,
  serializeRequest,
} from '../src/index.ts';

describe('METHODS', () => {
  it('lists the twelve non-connect methods of spec 10 §3.1', () => {
    assert.equal(Object.keys(METHODS).length, 12);
    assert.equal(Object.values(METHODS).includes('connect' as never), false);
    assert.deepEqual(Object.keys(METHOD_RESULT_SCHEMAS).sort(), Object.values(METHODS).sort());
  });
});

describe('APPROVAL_DECISIONS', () => {
  it('holds the three decisions, and isApprovalDecision recognises only them', () => {
    assert.deepEqual(APPROVAL_DECISIONS, ['allow-once', 'allow-always', 'deny']);
    assert.equal(isApprovalDecision('deny'), true);
    assert.equal(isApprovalDecision('maybe'), false);
    assert.equal(isApprovalDecision(undefined), false);
  });
});

describe('buildSessionsSubscribeParams', () => {
  it('is always {}', () => {
    assert.deepEqual(buildSessionsSubscribeParams(), {});
    assert.equal(
      serializeRequest({
        type: 'req',
        id: '1',
        method: METHODS.SESSIONS_SUBSCRIBE,
        params: buildSessionsSubscribeParams(),
      }),
      '{"type":"req","id":"1","method":"sessions.subscribe","params":{}}',
    );
  });
});

describe('buildSessionsMessagesSubscribeParams', () => {
  it('is exactly {key}', () => {
    assert.deepEqual(buildSessionsMessagesSubscribeParams('agent:main:main'), { key: 'agent:main:main' });
  });
});

describe('buildResolveApprovalParams', () => {
  it('is exactly {id, decision} and never carries a reason', () => {
    const input = { id: 'a-1', decision: 'deny', reason: 'policy' } as unknown as ResolveApprovalParams;
    assert.deepEqual(buildResolveApprovalParams(input), { id: 'a-1', decision: 'deny' });
  });
});

describe('buildConfigPatchParams', () => {
  it('sends {raw, baseHash} and adds replacePaths and note only when given', () => {
    assert.deepEqual(buildConfigPatchParams({ raw: '{}', baseHash: 'h' }), { raw: '{}', baseHash: 'h' });
    assert.deepEqual(buildConfigPatchParams({ raw: '{}' }), { raw: '{}' });
    const paths = ['plugins.allow'];
    const withPaths = buildConfigPatchParams({ raw: '{}', baseHash: 'h', replacePaths: paths, note: 'n' });
    assert.deepEqual(withPaths, { raw: '{}', baseHash: 'h', replacePaths: ['plugins.allow'], note: 'n' });
    assert.notEqual(withPaths.replacePaths, paths);
  });

  it('omits an empty replacePaths and undefined keys', () => {
    const out = buildConfigPatchParams({ raw: '{}', baseHash: undefined, replacePaths: [], note: undefined });
    assert.deepEqual(Object.keys(out), ['raw']);
  });
});

describe('buildSkillsUpdateParams', () => {
  it('is exactly {skillKey, enabled}', () => {
    const input = { skillKey: '1password', enabled: false, source: 'x' } as Parameters<
      typeof buildSkillsUpdateParams
    >[0];
    assert.deepEqual(buildSkillsUpdateParams(input), { skillKey: '1password', enabled: false });
  });
});

describe('buildToolsCatalogParams', () => {
  it('sends only the given keys', () => {
    assert.deepEqual(buildToolsCatalogParams(), {});
    assert.deepEqual(buildToolsCatalogParams({ agentId: 'main' }), { agentId: 'main' });
    assert.deepEqual(buildToolsCatalogParams({ agentId: 'main', includePlugins: true }), {
      agentId: 'main',
      includePlugins: true,
    });
    assert.deepEqual(buildToolsCatalogParams({ includePlugins: undefined }), {});
  });
});

describe('buildSkillsStatusParams', () => {
  it('sends only the given keys', () => {
    assert.deepEqual(buildSkillsStatusParams(), {});
    assert.deepEqual(buildSkillsStatusParams({ agentId: 'main' }), { agentId: 'main' });
  });
});

describe('buildSessionsListParams', () => {
  it('keeps only the given known filters', () => {
    assert.deepEqual(buildSessionsListParams(), {});
    const all: SessionsListFilters = {
      limit: 5,
      offset: 10,
      agentId: 'main',
      search: 'x',
      activeMinutes: 30,
      includeGlobal: true,
      includeUnknown: false,
      archived: false,
    };
    assert.deepEqual(buildSessionsListParams(all), all);
    const noisy = { limit: 5, search: undefined, sessionId: 'nope' } as SessionsListFilters;
    assert.deepEqual(buildSessionsListParams(noisy), { limit: 5 });
  });
});

describe('buildSessionsSendParams', () => {
  it('sends {key, message} plus idempotencyKey when given', () => {
    assert.deepEqual(buildSessionsSendParams({ key: 'k', message: 'm' }), { key: 'k', message: 'm' });
    assert.deepEqual(buildSessionsSendParams({ key: 'k', message: 'm', idempotencyKey: 'i' }), {
      key: 'k',
      message: 'm',
      idempotencyKey: 'i',
    });
  });
});

describe('parameterless methods', () => {
  it('serialise config.get, status and skills.bins without a params key', () => {
    for (const method of [METHODS.CONFIG_GET, METHODS.STATUS, METHODS.SKILLS_BINS]) {
      assert.deepEqual(Object.keys(JSON.parse(serializeRequest({ type: 'req', id: '1', method }))), [
        'type',
        'id',
        'method',
      ]);
    }
  });
});

describe('result schemas', () => {
  it('require what we read: config.get needs config, sessions.list is an object with sessions', () => {
    assert.equal(v.safeParse(ConfigGetResultSchema, { hash: 'h' }).success, false);
    assert.equal(v.safeParse(SessionsListResultSchema, []).success, false);
    assert.equal(v.safeParse(SessionsListResultSchema, { sessions: [{ status: 'x' }] }).success, false);
    assert.equal(v.safeParse(SessionsSendResultSchema, { status: 'started' }).success, false);
    assert.equal(v.safeParse(SkillsBinsResultSchema, { bins: [1] }).success, false);
    assert.equal(v.safeParse(ConfigPatchResultSchema, { hash: 'h' }).success, false);
  });

  it('read null hash/raw as absent', () => {
    const result = v.safeParse(ConfigGetResultSchema, { config: {}, exists: false, hash: null, raw: null });
    assert.ok(result.success);
    assert.equal(result.output.hash, undefined);
    assert.equal(result.output.raw, undefined);
  });
});
