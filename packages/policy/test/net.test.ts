import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonicalIp, classifyIp, hostFact, parseIpv4, parseUrlFact } from '../src/net.ts';

describe('classifyIp', () => {
  it('classifies every spelling of 169.254.169.254 as metadata', () => {
    const spellings = [
      '169.254.169.254',
      '2852039166',
      '0xA9FEA9FE',
      '0xa9fea9fe',
      '0251.0376.0251.0376',
      '0xa9.0xfe.0xa9.0xfe',
      '0251.254.0xa9.254',
      '169.254.43518',
      '169.16689662',
      '0x0000a9fea9fe',
      '169.254.169.254.',
      '::ffff:169.254.169.254',
      '::ffff:a9fe:a9fe',
      '[::ffff:a9fe:a9fe]',
      '0:0:0:0:0:ffff:a9fe:a9fe',
      '::FFFF:A9FE:A9FE',
      '64:ff9b::a9fe:a9fe',
      '::169.254.169.254',
    ];
    for (const s of spellings) {
      assert.equal(classifyIp(s), 'metadata', s);
      assert.equal(canonicalIp(s.replace(/^\[|\]$/g, '')), '169.254.169.254', s);
    }
  });

  it('classifies the other metadata endpoints and hostnames', () => {
    for (const s of [
      'fd00:ec2::254',
      'FD00:EC2:0:0:0:0:0:254',
      '169.254.170.2',
      '100.100.100.200',
      'metadata.google.internal',
      'METADATA.GOOGLE.INTERNAL.',
      'metadata.goog',
    ]) {
      assert.equal(classifyIp(s), 'metadata', s);
    }
  });

  it('treats hostnames that merely contain an IP as hostnames', () => {
    for (const s of [
      '169.254.169.254.nip.io',
      'a9fea9fe.rbndr.us',
      'example.com',
      'localhost',
      'metadata.google.internal.evil.example',
    ]) {
      assert.equal(classifyIp(s), undefined, s);
    }
  });

  it('classifies loopback, private, link-local, cgnat and public ranges', () => {
    const cases: Array<[string, string]> = [
      ['127.0.0.1', 'loopback'],
      ['127.1.2.3', 'loopback'],
      ['127.1', 'loopback'],
      ['2130706433', 'loopback'],
      ['0x7f000001', 'loopback'],
      ['0177.0.0.1', 'loopback'],
      ['0.0.0.0', 'loopback'],
      ['::1', 'loopback'],
      ['[::1]', 'loopback'],
      ['::', 'loopback'],
      ['::ffff:127.0.0.1', 'loopback'],
      ['10.0.0.5', 'private'],
      ['012.0.0.1', 'private'],
      ['172.16.0.1', 'private'],
      ['172.31.255.255', 'private'],
      ['192.168.1.1', 'private'],
      ['fd12:3456::1', 'private'],
      ['fc00::1', 'private'],
      ['169.254.1.1', 'link_local'],
      ['169.254.170.3', 'link_local'],
      ['fe80::1', 'link_local'],
      ['fe80::1%eth0', 'link_local'],
      ['febf::1', 'link_local'],
      ['100.64.0.1', 'cgnat'],
      ['100.127.255.254', 'cgnat'],
      ['100.128.0.1', 'public'],
      ['172.32.0.1', 'public'],
      ['8.8.8.8', 'public'],
      ['203.0.113.9', 'public'],
      ['168.63.129.16', 'public'],
      ['2001:4860:4860::8888', 'public'],
    ];
    for (const [ip, cls] of cases) assert.equal(classifyIp(ip), cls, ip);
  });

  it('rejects malformed literals', () => {
    for (const s of [
      '256.1.1.1',
      '1.2.3.4.5',
      '08.1.1.1',
      '1..2.3',
      '4294967296',
      '1:2:3:4:5:6:7:8:9',
      '::1::2',
      'gg::1',
      '',
    ]) {
      assert.equal(classifyIp(s), undefined, s);
    }
    assert.equal(parseIpv4('1.2.3.256'), undefined);
    assert.equal(parseIpv4('1.2.65535'), (1 << 24) + (2 << 16) + 65535);
  });
});

describe('parseUrlFact', () => {
  it('parses scheme, userinfo, host, port and canonicalises IP hosts', () => {
    assert.deepEqual(parseUrlFact('http://user:pw@2852039166:8080/latest?x=1#f'), {
      raw: 'http://user:pw@2852039166:8080/latest?x=1#f',
      scheme: 'http',
      host: '169.254.169.254',
      port: 8080,
      ipClass: 'metadata',
    });
    assert.deepEqual(parseUrlFact('https://[::ffff:a9fe:a9fe]/x'), {
      raw: 'https://[::ffff:a9fe:a9fe]/x',
      scheme: 'https',
      host: '169.254.169.254',
      ipClass: 'metadata',
    });
    assert.deepEqual(parseUrlFact('HTTPS://API.Example.COM/v1'), {
      raw: 'HTTPS://API.Example.COM/v1',
      scheme: 'https',
      host: 'api.example.com',
    });
    assert.equal(parseUrlFact('http://[fe80::1]:80/')?.ipClass, 'link_local');
  });

  it('parses bare hosts with a dot, a port, or a local/metadata name', () => {
    assert.equal(parseUrlFact('example.com/path')?.host, 'example.com');
    assert.equal(parseUrlFact('localhost:5432')?.ipClass, 'loopback');
    assert.equal(parseUrlFact('metadata.google.internal/computeMetadata/v1/')?.ipClass, 'metadata');
    assert.equal(parseUrlFact('169.254.169.254/latest')?.ipClass, 'metadata');
    assert.equal(parseUrlFact('0xA9FEA9FE')?.host, '169.254.169.254');
    assert.equal(parseUrlFact('app.localhost')?.ipClass, 'loopback');
  });

  it('returns undefined for text without a usable host', () => {
    for (const s of [
      '',
      'node_modules',
      'mailto:a@example.com',
      'file:///etc/passwd',
      'http://',
      'http://exa mple.com',
      'http://host:99999/',
      'C:\\Windows',
    ]) {
      assert.equal(parseUrlFact(s), undefined, s);
    }
  });
});

describe('hostFact', () => {
  it('accepts bare hostnames without a dot (ssh/nc targets)', () => {
    assert.deepEqual(hostFact('db', 'db', 5432), { raw: 'db', host: 'db', port: 5432 });
    assert.equal(hostFact('x', '0251.0376.0251.0376')?.host, '169.254.169.254');
    assert.equal(hostFact('x', 'not a host'), undefined);
  });
});
