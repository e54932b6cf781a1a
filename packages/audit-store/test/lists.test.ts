import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isAuditStoreError } from '../src/index.ts';
import { openStore } from './_helpers.ts';

const NOW = 1_700_000_000_000;

describe('lists', () => {
  it('maps actions rows to ListSnapshot entries, connector-scoped and global', (t) => {
    const { lists } = openStore(t);
    lists.upsert({
      targetType: 'tool',
      targetName: 'exec',
      list: 'block',
      source: 'api',
      reason: 'no shell',
      nowMs: NOW,
    });
    lists.upsert({
      targetType: 'command',
      targetName: 'terraform destroy*',
      list: 'block',
      source: 'cli',
      nowMs: NOW,
    });
    lists.upsert({
      targetType: 'mcp',
      targetName: 'github',
      connector: 'slack',
      list: 'allow',
      source: 'api',
      nowMs: NOW,
    });
    lists.upsert({
      targetType: 'plugin',
      targetName: 'evil-plugin',
      list: 'block',
      source: 'watcher',
      nowMs: NOW,
    });
    const entries = lists.entries(NOW);
    assert.deepEqual(
      entries.sort((a, b) => a.pattern.localeCompare(b.pattern)),
      [
        { kind: 'tool', pattern: 'exec', action: 'block', reason: 'no shell' },
        { kind: 'mcp', pattern: 'github', connector: 'slack', action: 'allow' },
        { kind: 'command', pattern: 'terraform destroy*', action: 'block' },
      ],
    );
    assert.deepEqual(
      lists
        .list({ list: 'block', nowMs: NOW })
        .map((r) => r.targetName)
        .sort(),
      ['evil-plugin', 'exec', 'terraform destroy*'],
    );
    assert.deepEqual(lists.counts(NOW), { block: 3, allow: 1 });
  });

  it('keeps one list per target: blocking removes the allow entry and reports it', (t) => {
    const { lists } = openStore(t);
    const a = lists.upsert({
      targetType: 'skill',
      targetName: 'pdf',
      list: 'allow',
      source: 'api',
      nowMs: NOW,
    });
    assert.equal(a.previous, null);
    const b = lists.upsert({
      targetType: 'skill',
      targetName: 'pdf',
      list: 'block',
      source: 'watcher',
      nowMs: NOW + 5,
    });
    assert.equal(b.previous, 'allow');
    assert.deepEqual(
      lists.list({ nowMs: NOW + 5 }).map((r) => [r.targetName, r.list, r.source, r.createdAt, r.updatedAt]),
      [['pdf', 'block', 'watcher', NOW + 5, NOW + 5]],
    );
    // Re-blocking keeps the original creation time.
    lists.upsert({ targetType: 'skill', targetName: 'pdf', list: 'block', source: 'api', nowMs: NOW + 9 });
    const row = lists.get({ targetType: 'skill', targetName: 'pdf' }, NOW + 9)!;
    assert.deepEqual([row.createdAt, row.updatedAt], [NOW + 5, NOW + 9]);
    // The same name under a connector is its own entry.
    lists.upsert({
      targetType: 'skill',
      targetName: 'pdf',
      connector: 'c1',
      list: 'allow',
      source: 'api',
      nowMs: NOW,
    });
    assert.equal(lists.list({ nowMs: NOW + 9 }).length, 2);
  });

  it('ignores expired entries and prunes them', (t) => {
    const { lists } = openStore(t);
    lists.upsert({
      targetType: 'tool',
      targetName: 'web_fetch',
      list: 'block',
      source: 'api',
      expiresAt: NOW + 1000,
      nowMs: NOW,
    });
    lists.upsert({ targetType: 'tool', targetName: 'exec', list: 'block', source: 'api', nowMs: NOW });
    assert.equal(lists.entries(NOW + 999).length, 2);
    assert.deepEqual(lists.entries(NOW + 999).find((e) => e.pattern === 'web_fetch')?.expiresAt, NOW + 1000);
    assert.deepEqual(
      lists.entries(NOW + 1000).map((e) => e.pattern),
      ['exec'],
    );
    assert.equal(lists.get({ targetType: 'tool', targetName: 'web_fetch' }, NOW + 1000), undefined);
    assert.deepEqual(lists.counts(NOW + 1000), { block: 1, allow: 0 });
    // An expired entry does not count as the "previous" list.
    assert.equal(
      lists.upsert({
        targetType: 'tool',
        targetName: 'web_fetch',
        list: 'allow',
        source: 'api',
        nowMs: NOW + 2000,
      }).previous,
      null,
    );
    lists.upsert({
      targetType: 'tool',
      targetName: 'gone',
      list: 'block',
      source: 'api',
      expiresAt: NOW + 1,
      nowMs: NOW,
    });
    assert.equal(lists.prune(NOW + 5), 1);
    assert.equal(lists.prune(NOW + 5), 0);
  });

  it('removes an entry, only from the named list when one is given', (t) => {
    const { lists } = openStore(t);
    lists.upsert({ targetType: 'mcp', targetName: 'fs', list: 'allow', source: 'api', nowMs: NOW });
    assert.equal(lists.remove({ targetType: 'mcp', targetName: 'fs', list: 'block' }), false);
    assert.equal(lists.remove({ targetType: 'mcp', targetName: 'fs', list: 'allow' }), true);
    assert.equal(lists.remove({ targetType: 'mcp', targetName: 'fs' }), false);
  });

  it('rejects an unknown target type or list', (t) => {
    const { lists } = openStore(t);
    assert.throws(
      () => lists.upsert({ targetType: 'shell' as 'tool', targetName: 'x', list: 'block', source: 'api' }),
      (err: unknown) => isAuditStoreError(err, 'INVALID_ARGUMENT'),
    );
    assert.throws(
      () => lists.upsert({ targetType: 'tool', targetName: 'x', list: 'deny' as 'block', source: 'api' }),
      (err: unknown) => isAuditStoreError(err, 'INVALID_ARGUMENT'),
    );
  });
});
