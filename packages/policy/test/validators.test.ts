// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are shell text, where ${…} is shell syntax
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  entropy,
  ibanMod97,
  jwtHeader,
  luhn,
  notDocExample,
  notPlaceholder,
  parseValidatorSpec,
  pemBody,
  secretValue,
  shannonEntropy,
  ssnRanges,
  VALIDATORS,
} from '../src/validators.ts';

describe('luhn', () => {
  it('accepts valid card numbers, plain or grouped', () => {
    for (const pan of [
      '4539 1488 0343 6467',
      '4539-1488-0343-6467',
      '5500000000000004',
      '371449635398431',
      '6011 1111 1111 1117',
      '4242424242424242',
    ]) {
      assert.equal(luhn(pan), true, pan);
    }
  });

  it('rejects a wrong check digit, repeated digits, wrong lengths and non-digits', () => {
    for (const s of [
      '4539148803436468',
      '0000000000000000',
      '4111',
      '45391488034364671234',
      '4539 1488 0343 646a',
      '',
    ]) {
      assert.equal(luhn(s), false, s);
    }
  });
});

describe('iban_mod97', () => {
  it('accepts IBANs from several countries (with or without spaces)', () => {
    for (const iban of [
      'DE89 3704 0044 0532 0130 00',
      'GB82 WEST 1234 5698 7654 32',
      'FR14 2004 1010 0505 0001 3M02 606',
      'NL91ABNA0417164300',
      'ES91 2100 0418 4502 0005 1332',
      'IT60 X054 2811 1010 0000 0123 456',
      'BE68 5390 0754 7034',
      'CH93 0076 2011 6238 5295 7',
      'NO93 8601 1117 947',
      'MT84 MALT 0110 0001 2345 MTLC AST0 01S',
      'PL61 1090 1014 0000 0712 1981 2874',
      'SA03 8000 0000 6080 1016 7519',
      'BR18 0036 0305 0000 1000 9795 493C1',
      'de89370400440532013000',
    ]) {
      assert.equal(ibanMod97(iban), true, iban);
    }
  });

  it('rejects bad check digits, wrong per-country lengths and unknown countries', () => {
    for (const s of [
      'DE89 3704 0044 0532 0130 01',
      'GB82 WEST 1234 5698 7654 3',
      'DE89 3704 0044 0532 0130 000',
      'NO93 8601 1117 9470',
      'XX89 3704 0044 0532 0130 00',
      'US12 3456 7890 1234',
      'DE00 3704 0044 0532 0130 00',
      'not an iban',
    ]) {
      assert.equal(ibanMod97(s), false, s);
    }
  });
});

describe('ssn_ranges', () => {
  it('accepts SSNs in issuable ranges', () => {
    for (const s of ['123-45-6789', '001-01-0001', '665-99-9999', '899-12-3456', '123456789'])
      assert.equal(ssnRanges(s), true, s);
  });

  it('rejects area 000/666/9xx, group 00 and serial 0000', () => {
    for (const s of [
      '000-12-3456',
      '666-12-3456',
      '900-12-3456',
      '999-99-9999',
      '123-00-4567',
      '123-45-0000',
      '12-345-6789',
    ]) {
      assert.equal(ssnRanges(s), false, s);
    }
  });
});

describe('entropy', () => {
  it('measures Shannon bits per character', () => {
    assert.equal(shannonEntropy(''), 0);
    assert.equal(shannonEntropy('aaaaaaaaaaaaaaaa'), 0);
    assert.equal(shannonEntropy('abcdefghijklmnop'), 4);
    assert.equal(shannonEntropy('abab'), 1);
  });

  it('keeps values at or above the threshold and drops the rest', () => {
    assert.equal(entropy('password = "Xk9#mP2$vL8@qR5!"', 3.5), true);
    assert.equal(entropy('password = "hunter2hunter2hu"', 3.5), false);
    assert.equal(entropy('secret: aaaaaaaaaaaaaaaaaaaa', 1), false);
    assert.equal(entropy('wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', 4.5), true);
    assert.equal(entropy('wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', 5), false);
  });

  it('scores only the value of an assignment or connection string', () => {
    assert.equal(secretValue('api_key = "abc123"'), 'abc123');
    assert.equal(secretValue('"client_secret": "s3cr3t",'), 's3cr3t');
    assert.equal(secretValue('postgres://admin:S3cretPassw0rd@db.example.com/app'), 'S3cretPassw0rd');
    assert.equal(secretValue('ghp_abcdef'), 'ghp_abcdef');
  });
});

describe('not_placeholder', () => {
  it('drops placeholders', () => {
    for (const s of [
      'password=xxxxxxxxxxxxxxxx',
      'token: XXXX-XXXX-XXXX',
      'secret=********',
      'api_key=<your-api-key>',
      'API_KEY=${API_KEY}',
      'token={{ secrets.TOKEN }}',
      'password=$DB_PASSWORD',
      'password=changeme',
      'password: change_me',
      'api_key=your_api_key_here',
      'secret=YOUR-SECRET',
      'key=example-key-123',
      'token=dummy-token-value',
      'password=aaaaaaaaaaaaaaaa',
      'token=1111111111111111',
      'token=abababababababab',
      'password=…',
      'AKIAIO…MPLE',
      'postgres://user:changeme@db.example.com/app',
      'password=placeholder',
      'token=REDACTED',
    ]) {
      assert.equal(notPlaceholder(s), false, s);
    }
  });

  it('keeps realistic values (also next to example.com hosts and sequential test data)', () => {
    for (const s of [
      'password = "s3cr3t-Value-9f8e7d6c"',
      'postgres://admin:Zq8vN3rT6wLp@db.example.com:5432/app',
      'acme_deploy_0123456789abcdef0123456789abcdef',
      'ghp_R7dKq2LmN9vXc4Bt6Yh1Jw8Zs3Pf5Ga0Ee2U',
      'sk_test_51HqLyjWDarjtT1zdp7dc9f8e',
    ]) {
      assert.equal(notPlaceholder(s), true, s);
    }
  });
});

describe('not_doc_example', () => {
  it('drops the AWS documentation keys', () => {
    for (const s of [
      'AKIAIOSFODNN7EXAMPLE',
      'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
      'aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
      'AKIAI44QH8DHBEXAMPLE',
      'ASIAXXXXEXAMPLE',
    ]) {
      assert.equal(notDocExample(s), false, s);
    }
  });

  it('drops public test PANs, Stripe docs keys, the jwt.io token and advertising SSNs', () => {
    for (const s of [
      '4242 4242 4242 4242',
      '4242-4242-4242-4242',
      '4000056655665556',
      '5555555555554444',
      '378282246310005',
      '6011111111111117',
      '4111111111111111',
      'sk_test_4eC39HqLyjWDarjtT1zdp7dc',
      'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c',
      '078-05-1120',
      '219-09-9999',
    ]) {
      assert.equal(notDocExample(s), false, s);
    }
  });

  it('keeps real-looking keys and card numbers', () => {
    for (const s of [
      'AKIAZ7Q3M4N5P6R7S8T9',
      '4539 1488 0343 6467',
      'aws_secret_access_key = Zq8vN3rT6wLpX2cV5bN7mK9jH4gF1dS0aQ3wE6rT',
      '536-90-4399',
    ]) {
      assert.equal(notDocExample(s), true, s);
    }
  });
});

describe('jwt_header', () => {
  it('accepts a token whose header decodes to JSON with alg', () => {
    const header = Buffer.from('{"alg":"RS256","kid":"k1"}').toString('base64url');
    assert.equal(jwtHeader(`${header}.eyJzdWIiOiJ4In0.c2ln`), true);
    assert.equal(jwtHeader(`Authorization: Bearer ${header}.eyJzdWIiOiJ4In0.c2ln`), true);
  });

  it('rejects headers without alg, non-JSON and non-base64url segments', () => {
    const noAlg = Buffer.from('{"typ":"JWT"}').toString('base64url');
    const arr = Buffer.from('["alg"]').toString('base64url');
    for (const s of [`${noAlg}.e30.sig`, `${arr}.e30.sig`, 'eyJub3QganNvbg.e30.sig', 'abc.def.ghi', ''])
      assert.equal(jwtHeader(s), false, s);
  });
});

describe('pem_body', () => {
  const { privateKey } = generateKeyPairSync('ed25519', {
    privateKeyEncoding: { format: 'pem', type: 'pkcs8' },
    publicKeyEncoding: { format: 'pem', type: 'spki' },
  });
  const rsa = generateKeyPairSync('rsa', {
    modulusLength: 1024,
    privateKeyEncoding: { format: 'pem', type: 'pkcs1' },
    publicKeyEncoding: { format: 'pem', type: 'spki' },
  }).privateKey;
  const opensshBody = Buffer.concat([Buffer.from('openssh-key-v1\0'), randomBytes(180)]).toString('base64');
  const openssh = `-----BEGIN OPENSSH PRIVATE KEY-----\n${opensshBody.match(/.{1,70}/g)!.join('\n')}\n-----END OPENSSH PRIVATE KEY-----`;

  it('accepts real PEM private keys and OpenSSH keys, also cut before the END line', () => {
    assert.equal(pemBody(rsa), true);
    assert.equal(pemBody(rsa.slice(0, 200)), true);
    assert.equal(pemBody(openssh), true);
    assert.equal(pemBody(opensshBody), true);
    assert.equal(pemBody(JSON.stringify({ key: rsa })), true);
    // A 32-byte ed25519 PKCS#8 body is 64 base64 characters: exactly the minimum.
    assert.equal(pemBody(privateKey), true);
  });

  it('rejects headers alone, short, masked, repetitive or non-base64 bodies', () => {
    for (const s of [
      '-----BEGIN RSA PRIVATE KEY-----',
      '-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6P\n-----END RSA PRIVATE KEY-----',
      '-----BEGIN RSA PRIVATE KEY-----\n…redacted…\n-----END RSA PRIVATE KEY-----',
      `-----BEGIN PRIVATE KEY-----\n${'A'.repeat(120)}\n-----END PRIVATE KEY-----`,
      `-----BEGIN PRIVATE KEY-----\n${'your key here '.repeat(10)}\n-----END PRIVATE KEY-----`,
      `-----BEGIN OPENSSH PRIVATE KEY-----\n${randomBytes(120).toString('base64').replace(/^./, 'Z')}\n-----END OPENSSH PRIVATE KEY-----`,
    ]) {
      assert.equal(pemBody(s), false, s.slice(0, 60));
    }
  });
});

describe('VALIDATORS and parseValidatorSpec', () => {
  it('exposes the eight bundled validators by their YAML names', () => {
    assert.deepEqual(Object.keys(VALIDATORS).sort(), [
      'entropy',
      'iban_mod97',
      'jwt_header',
      'luhn',
      'not_doc_example',
      'not_placeholder',
      'pem_body',
      'ssn_ranges',
    ]);
  });

  it('parses name and name:<bits> specs and rejects unknown or malformed ones', () => {
    const e = parseValidatorSpec('entropy:3.5');
    assert.ok(e.success);
    assert.equal(e.success && e.arg, 3.5);
    assert.equal(e.success && e.fn('token=Xk9mP2vL8qR5wT3y', e.arg), true);
    assert.ok(parseValidatorSpec('luhn').success);
    for (const s of ['entropy', 'luhn:2', 'nope', 'Luhn', 'entropy:x'])
      assert.equal(parseValidatorSpec(s).success, false, s);
  });
});
