import assert from 'node:assert/strict';
import type { LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { describe, it } from 'node:test';
import { checkProviderUrl, classifyAddress, createGuardedLookup, isAddressAllowed } from '../src/ssrf.ts';

/** A fake resolver answering from a table, in the shape `net.connect` calls. */
function fakeResolver(table: Record<string, string[]>): LookupFunction {
  return ((hostname: string, options: { all?: boolean }, cb: (...args: unknown[]) => void) => {
    const answers = table[hostname];
    if (!answers) {
      cb(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }));
      return;
    }
    const list: LookupAddress[] = answers.map((address) => ({
      address,
      family: address.includes(':') ? 6 : 4,
    }));
    if (options.all) cb(null, list);
    else cb(null, list[0]!.address, list[0]!.family);
  }) as unknown as LookupFunction;
}

function resolve(
  lookup: LookupFunction,
  host: string,
  all: boolean,
): Promise<{ error?: Error; result?: unknown }> {
  return new Promise((done) => {
    (lookup as unknown as (h: string, o: object, cb: (...args: unknown[]) => void) => void)(
      host,
      { all },
      (err, address) => done(err ? { error: err as Error } : { result: address }),
    );
  });
}

describe('classifyAddress', () => {
  it('classifies private, loopback, link-local, CGNAT, multicast, reserved and metadata addresses', () => {
    const cases: [string, string][] = [
      ['8.8.8.8', 'public'],
      ['2606:4700::1111', 'public'],
      ['127.0.0.1', 'loopback'],
      ['::1', 'loopback'],
      ['10.0.0.5', 'private'],
      ['172.20.1.1', 'private'],
      ['192.168.1.1', 'private'],
      ['fd12::1', 'private'],
      ['169.254.10.10', 'link_local'],
      ['fe80::1', 'link_local'],
      ['100.64.0.1', 'cgnat'],
      ['224.0.0.251', 'multicast'],
      ['ff02::1', 'multicast'],
      ['0.0.0.0', 'reserved'],
      ['255.255.255.255', 'reserved'],
      ['169.254.169.254', 'metadata'],
      ['::ffff:169.254.169.254', 'metadata'],
      ['::ffff:10.0.0.1', 'private'],
      ['fd00:ec2::254', 'metadata'],
      ['100.100.100.200', 'metadata'],
      ['168.63.129.16', 'metadata'],
    ];
    for (const [ip, cls] of cases) assert.equal(classifyAddress(ip), cls, ip);
  });

  it('never allows metadata, even with allow_private', () => {
    assert.equal(isAddressAllowed('metadata', true), false);
    assert.equal(isAddressAllowed('private', true), true);
    assert.equal(isAddressAllowed('private', false), false);
    assert.equal(isAddressAllowed('public', false), true);
  });
});

describe('checkProviderUrl', () => {
  it('accepts https public URLs and loopback http with allow_private', () => {
    assert.equal(checkProviderUrl('https://api.openai.com/v1', false).success, true);
    assert.equal(checkProviderUrl('http://127.0.0.1:11434/v1', true).success, true);
    assert.equal(checkProviderUrl('http://localhost:11434/v1', true).success, true);
    assert.equal(checkProviderUrl('http://[::1]:8080', true).success, true);
  });

  it('refuses http elsewhere, userinfo, fragments, queries, odd IPv4 spellings of metadata and private literals', () => {
    for (const [url, allow] of [
      ['http://api.example.com/v1', true],
      ['http://127.0.0.1:11434/v1', false],
      ['https://user@api.example.com', false],
      ['https://api.example.com/v1#frag', false],
      ['https://api.example.com/v1?x=1', false],
      ['https://0xa9fea9fe/', true],
      ['https://2852039166/', true],
      ['https://[::ffff:a9fe:a9fe]/', true],
      ['https://192.168.0.10/v1', false],
      ['ftp://api.example.com', false],
      ['not a url', false],
    ] as const) {
      assert.equal(checkProviderUrl(url, allow).success, false, url);
    }
  });
});

describe('createGuardedLookup', () => {
  const table = {
    'public.test': ['93.184.216.34'],
    'private.test': ['10.0.0.7'],
    'mixed.test': ['93.184.216.34', '192.168.0.2'],
    'imds.test': ['169.254.169.254'],
    'loop.test': ['127.0.0.1'],
  };

  it('passes public answers through in both lookup shapes', async () => {
    const lookup = createGuardedLookup({ allowPrivate: false, lookup: fakeResolver(table) });
    assert.equal((await resolve(lookup, 'public.test', false)).result, '93.184.216.34');
    assert.deepEqual((await resolve(lookup, 'public.test', true)).result, [
      { address: '93.184.216.34', family: 4 },
    ]);
  });

  it('refuses a name whose answer is private, mixed or metadata', async () => {
    const lookup = createGuardedLookup({ allowPrivate: false, lookup: fakeResolver(table) });
    for (const host of ['private.test', 'mixed.test', 'imds.test', 'loop.test']) {
      const r = await resolve(lookup, host, true);
      assert.equal((r.error as { code?: string })?.code, 'DC_SSRF_REFUSED', host);
    }
  });

  it('allows private answers with allow_private but still refuses metadata and metadata names', async () => {
    const lookup = createGuardedLookup({ allowPrivate: true, lookup: fakeResolver(table) });
    assert.equal((await resolve(lookup, 'loop.test', false)).result, '127.0.0.1');
    assert.equal((await resolve(lookup, 'imds.test', false)).error?.name, 'SsrfRefusedError');
    assert.equal((await resolve(lookup, 'metadata.google.internal', false)).error?.name, 'SsrfRefusedError');
  });

  it('passes resolver errors through', async () => {
    const lookup = createGuardedLookup({ allowPrivate: false, lookup: fakeResolver(table) });
    assert.equal((await resolve(lookup, 'nx.test', false)).error?.message.includes('ENOTFOUND'), true);
  });
});
