// Second-stage candidate checks for rule matches (spec 30 §A4 `validators`, §A5.8). Each returns true when the
// candidate should be kept (a plausible real secret / PII value) and false when it should be dropped.

/** A validator: keeps (true) or drops (false) one matched candidate; `arg` is the `:<n>` of `entropy:<n>`. */
export type Validator = (match: string, arg?: number) => boolean;

/** IBAN length by ISO 3166 country code (SWIFT IBAN registry). */
export const IBAN_LENGTHS: Readonly<Record<string, number>> = {
  AD: 24,
  AE: 23,
  AL: 28,
  AT: 20,
  AZ: 28,
  BA: 20,
  BE: 16,
  BG: 22,
  BH: 22,
  BI: 27,
  BR: 29,
  BY: 28,
  CH: 21,
  CR: 22,
  CY: 28,
  CZ: 24,
  DE: 22,
  DJ: 27,
  DK: 18,
  DO: 28,
  EE: 20,
  EG: 29,
  ES: 24,
  FI: 18,
  FK: 18,
  FO: 18,
  FR: 27,
  GB: 22,
  GE: 22,
  GI: 23,
  GL: 18,
  GR: 27,
  GT: 28,
  HN: 28,
  HR: 21,
  HU: 28,
  IE: 22,
  IL: 23,
  IQ: 23,
  IS: 26,
  IT: 27,
  JO: 30,
  KW: 30,
  KZ: 20,
  LB: 28,
  LC: 32,
  LI: 21,
  LT: 20,
  LU: 20,
  LV: 21,
  LY: 25,
  MC: 27,
  MD: 24,
  ME: 22,
  MK: 19,
  MN: 20,
  MR: 27,
  MT: 31,
  MU: 30,
  NI: 28,
  NL: 18,
  NO: 15,
  OM: 23,
  PK: 24,
  PL: 28,
  PS: 29,
  PT: 25,
  QA: 29,
  RO: 24,
  RS: 22,
  RU: 33,
  SA: 24,
  SC: 31,
  SD: 18,
  SE: 24,
  SI: 19,
  SK: 24,
  SM: 27,
  SO: 23,
  ST: 25,
  SV: 28,
  TL: 23,
  TN: 24,
  TR: 26,
  UA: 29,
  VA: 22,
  VG: 24,
  XK: 20,
  YE: 30,
};

/** Publicly documented example credentials (AWS docs, Stripe docs, jwt.io). */
const DOC_EXAMPLE_SECRETS: ReadonlySet<string> = new Set([
  'AKIAIOSFODNN7EXAMPLE',
  'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  'AKIAI44QH8DHBEXAMPLE',
  'je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY',
  'ASIAIOSFODNN7EXAMPLE',
  'sk_test_4eC39HqLyjWDarjtT1zdp7dc',
  'pk_test_TYooMQauvdEDq54NiTphI7jx',
  'sk_test_BQokikJOvBiI2HlWgH4olfQ2',
  'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c',
]);

/** Public test card numbers (Stripe, Adyen, Braintree, PayPal docs) — never real cards. */
const TEST_PANS: ReadonlySet<string> = new Set([
  '4242424242424242',
  '4000056655665556',
  '4000002500003155',
  '4000002760003184',
  '4000003720000278',
  '4000000000000002',
  '4000000000000077',
  '4000000000000093',
  '4000000000000101',
  '4000000000000341',
  '4000000000000119',
  '4000000000000127',
  '4000000000000069',
  '4000000000000259',
  '4000000000003220',
  '4000000000009995',
  '4000000000009987',
  '4000000000009979',
  '4000000000000010',
  '4000000000000028',
  '4000000000000036',
  '4000000000000044',
  '4000000000000051',
  '4000000000000085',
  '4000000000003063',
  '4000000000003055',
  '4000008400001629',
  '4000008260003178',
  '4000000760000002',
  '4000001240000000',
  '4000004840008001',
  '4242424242424241',
  '4111111111111111',
  '4012888888881881',
  '4222222222222',
  '4222222222222220',
  '4005519200000004',
  '4009348888881881',
  '4012000033330026',
  '4012000077777777',
  '4217651111111119',
  '4500600000000061',
  '4444333322221111',
  '4917610000000000',
  '4462030000000000',
  '4917300800000000',
  '4484070000000000',
  '4988438843884305',
  '4166676667666746',
  '4646464646464644',
  '4000620000000007',
  '4035501000000008',
  '4360000001000005',
  '4131840000000003',
  '4001590000000001',
  '5555555555554444',
  '2223003122003222',
  '5200828282828210',
  '5105105105105100',
  '5555555555555557',
  '5454545454545454',
  '5431111111111111',
  '5500000000000004',
  '5424000000000015',
  '2223000048400011',
  '2222400070000005',
  '5101180000000007',
  '5577000055770004',
  '5136333333333335',
  '5585558555855583',
  '5555444433331111',
  '5555341244441115',
  '2221000000000009',
  '2223520043560014',
  '5019717010103742',
  '378282246310005',
  '371449635398431',
  '378734493671000',
  '370000000000002',
  '340000000000009',
  '371111111111114',
  '374245455400126',
  '6011111111111117',
  '6011000990139424',
  '6011000000000004',
  '6011000400000000',
  '6011601160116611',
  '6445644564456445',
  '3056930009020004',
  '36227206271667',
  '30569309025904',
  '38520000023237',
  '36006666333344',
  '36070500001020',
  '3566002020360505',
  '3530111333300000',
  '3566111111111113',
  '3569990010095841',
  '3337000000000008',
  '6200000000000005',
  '6205500000000000004',
  '6243030000000001',
  '6703444444444449',
  '6759649826438453',
  '6799990100000000019',
  '6304000000000000',
  '6331101999990016',
  '5066991111111118',
  '6362970000457013',
  '6062828888666688',
  '2201382000000013',
  '2200000000000053',
  '4035501000000008',
  '6250941006528599',
  '6060111111111111',
]);

/** Social Security numbers used in advertising and documentation (voided or never issued). */
const DOC_SSNS: ReadonlySet<string> = new Set([
  '078051120',
  '219099999',
  '123456789',
  '111111111',
  '457555462',
]);

/** Returns whether `match` (digits, optionally grouped by spaces or dashes) passes the Luhn checksum. */
export function luhn(match: string): boolean {
  const digits = match.replace(/[\s-]/g, '');
  if (!/^\d{12,19}$/.test(digits) || /^(\d)\1+$/.test(digits)) return false;
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/** Returns whether `match` is an IBAN of its country's registered length whose mod-97 check equals 1. */
export function ibanMod97(match: string): boolean {
  const s = match.replace(/[\s-]/g, '').toUpperCase();
  const m = /^([A-Z]{2})(\d{2})([A-Z0-9]+)$/.exec(s);
  if (!m) return false;
  const len = IBAN_LENGTHS[m[1]!];
  if (len === undefined || s.length !== len) return false;
  if (m[2] === '00' || m[2] === '01' || m[2] === '99') return false;
  const rearranged = s.slice(4) + s.slice(0, 4);
  let rem = 0;
  for (const ch of rearranged) {
    const code = ch.charCodeAt(0);
    const v = code >= 65 ? code - 55 : code - 48;
    rem = v >= 10 ? (rem * 100 + v) % 97 : (rem * 10 + v) % 97;
  }
  return rem === 1;
}

/** Returns whether `match` holds a US SSN in an issuable range (area not 000/666/9xx, group not 00, serial not 0000). */
export function ssnRanges(match: string): boolean {
  const m = /(\d{3})[- ]?(\d{2})[- ]?(\d{4})/.exec(match);
  if (!m) return false;
  const area = Number(m[1]);
  if (area === 0 || area === 666 || area >= 900) return false;
  if (m[2] === '00' || m[3] === '0000') return false;
  return true;
}

/** Returns the Shannon entropy of `text` in bits per character. */
export function shannonEntropy(text: string): number {
  if (text.length === 0) return 0;
  const counts = new Map<string, number>();
  for (const ch of text) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  const n = [...text].length;
  let h = 0;
  for (const c of counts.values()) {
    const p = c / n;
    h -= p * Math.log2(p);
  }
  return h;
}

/** Returns whether the secret value inside `match` has at least `bits` (default 3) bits of entropy per character. */
export function entropy(match: string, bits?: number): boolean {
  return shannonEntropy(secretValue(match)) >= (bits ?? 3);
}

/**
 * Returns whether the secret value inside `match` is not a placeholder: `xxx`, `***`, `…`, `<…>`, `${…}`, `{{…}}`,
 * `$VAR`, `changeme`, `your_…`, `example`, `dummy`, `sample`, `placeholder`, `redacted`, or one repeated character.
 */
export function notPlaceholder(match: string): boolean {
  const v = secretValue(match);
  if (v.length === 0) return false;
  const lower = v.toLowerCase();
  if (/x{3,}/i.test(v) || /\*{3,}/.test(v) || v.includes('…') || v.includes('...') || /•{2,}/.test(v))
    return false;
  if (
    /<[^<>]*>/.test(v) ||
    /\$\{[^}]*\}/.test(v) ||
    /\{\{[^}]*\}\}/.test(v) ||
    /^\$[A-Za-z_][A-Za-z0-9_]*$/.test(v)
  )
    return false;
  if (/^%[A-Za-z_][A-Za-z0-9_]*%$/.test(v) || /%\([a-z_]+\)s/i.test(v)) return false;
  if (
    /change[_-]?me|replace[_-]?me|^your[_-]?|[_-]your[_-]|example|dummy|sample|placeholder|redacted|insert[_-]?(your|here)|fill[_-]?me|^todo$|^fixme$|^none$|^null$|^undefined$|^password$|^secret$|^token$/.test(
      lower,
    )
  ) {
    return false;
  }
  const chars = new Set([...v.replace(/[\s_.:/-]/g, '')]);
  if (chars.size <= 1) return false;
  // Two alternating characters repeated ("abababab", "1010101010") is a test value too.
  if (chars.size === 2 && v.length >= 8 && /^(..)\1+.?$/.test(v)) return false;
  return true;
}

/** Returns whether `match` is not a publicly documented example (AWS docs keys, Stripe test PANs and keys, jwt.io). */
export function notDocExample(match: string): boolean {
  const v = secretValue(match);
  for (const candidate of [match.trim(), v]) {
    if (DOC_EXAMPLE_SECRETS.has(candidate)) return false;
    if (/^(AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|A3T[A-Z0-9])[A-Z0-9]*EXAMPLE$/.test(candidate))
      return false;
    if (/EXAMPLEKEY$/.test(candidate)) return false;
  }
  for (const known of DOC_EXAMPLE_SECRETS) if (match.includes(known)) return false;
  const digits = match.replace(/[\s-]/g, '');
  if (/^\d{12,19}$/.test(digits) && TEST_PANS.has(digits)) return false;
  const ssn = /^(\d{3})[- ]?(\d{2})[- ]?(\d{4})$/.exec(match.trim());
  if (ssn && DOC_SSNS.has(`${ssn[1]}${ssn[2]}${ssn[3]}`)) return false;
  return true;
}

/** Returns whether `match` (a JWT, or text containing one) has a first segment decoding to a JSON object with `alg`. */
export function jwtHeader(match: string): boolean {
  const m = /[A-Za-z0-9_-]{10,}(?=\.[A-Za-z0-9_-]*)/.exec(match.replace(/^(bearer\s+)/i, ''));
  const seg = m ? m[0] : match.split('.')[0]!;
  const decoded = _base64Decode(seg, true);
  if (decoded === undefined) return false;
  try {
    const header: unknown = JSON.parse(decoded);
    return (
      typeof header === 'object' &&
      header !== null &&
      !Array.isArray(header) &&
      typeof (header as { alg?: unknown }).alg === 'string'
    );
  } catch {
    return false;
  }
}

/**
 * Returns whether `match` holds a structurally plausible private-key body: ≥ 64 base64 characters after a
 * `-----BEGIN … -----` line (up to the END line or the end of the match), or an OpenSSH key body (`openssh-key-v1`).
 */
export function pemBody(match: string): boolean {
  const begin = /-----BEGIN ([A-Z0-9 ]+)-----/.exec(match);
  let body: string;
  let openssh = false;
  if (begin) {
    openssh = begin[1]!.includes('OPENSSH');
    let rest = match.slice(begin.index + begin[0].length);
    const end = rest.indexOf('-----END');
    if (end >= 0) rest = rest.slice(0, end);
    // Drop RFC 1421 headers of encrypted PEM (Proc-Type, DEK-Info).
    rest = rest.replace(/^[ \t]*[A-Za-z-]+:[^\n]*\n/gm, '');
    body = rest.replace(/\\n|\\r|[\s"',]/g, '');
  } else {
    const m = /b3BlbnNzaC1rZXktdjE[A-Za-z0-9+/=\s]*/.exec(match);
    if (!m) return false;
    body = m[0].replace(/\s/g, '');
    openssh = true;
  }
  if (body.length < 64 || !/^[A-Za-z0-9+/]+={0,2}$/.test(body)) return false;
  if (/(.)\1{15,}/.test(body) || /redacted/i.test(body)) return false;
  if (new Set(body).size < 16) return false;
  if (openssh && !body.startsWith('b3BlbnNzaC1rZXktdjE')) return false;
  return true;
}

/** The bundled validators by name (rule YAML `validators:` entries; `entropy` takes `:<bits-per-char>`). */
export const VALIDATORS: Readonly<Record<string, Validator>> = {
  luhn,
  iban_mod97: ibanMod97,
  ssn_ranges: ssnRanges,
  entropy,
  not_placeholder: notPlaceholder,
  not_doc_example: notDocExample,
  jwt_header: jwtHeader,
  pem_body: pemBody,
};

/** The result of parsing a `validators:` entry such as `entropy:3.5`. */
export type ValidatorSpecResult =
  | { success: true; name: string; arg?: number; fn: Validator }
  | { success: false; message: string };

/** Parses a validator spec (`name` or `name:<number>`) against the bundled validators. */
export function parseValidatorSpec(spec: string): ValidatorSpecResult {
  const m = /^([a-z][a-z0-9_]*)(?::(\d+(?:\.\d+)?))?$/.exec(spec.trim());
  if (!m) return { success: false, message: `invalid validator "${spec}"` };
  const fn = VALIDATORS[m[1]!];
  if (!fn)
    return {
      success: false,
      message: `unknown validator "${m[1]}"; use ${Object.keys(VALIDATORS).join(', ')}`,
    };
  if (m[2] !== undefined && m[1] !== 'entropy')
    return { success: false, message: `validator "${m[1]}" takes no argument` };
  if (m[1] === 'entropy' && m[2] === undefined)
    return { success: false, message: 'entropy needs bits per character, e.g. entropy:3.5' };
  const out: ValidatorSpecResult = { success: true, name: m[1]!, fn };
  if (m[2] !== undefined) out.arg = Number(m[2]);
  return out;
}

/**
 * Extracts the secret value from a candidate: the password of a `scheme://user:pass@host` URL, the value of a
 * trailing `key = value` / `key: value` assignment (quotes stripped), or the candidate itself.
 */
export function secretValue(match: string): string {
  const s = match.trim();
  const url = /^[a-z][a-z0-9+.-]*:\/\/[^:@/\s]*:([^@/\s]*)@/i.exec(s);
  if (url) return url[1]!;
  const assign = /([A-Za-z_][A-Za-z0-9_.-]*)["']?\s*(?::=|=>|=|:)\s*["'`]?([^"'`\s]+?)["'`]?[,;]?\s*$/.exec(
    s,
  );
  if (assign && !assign[2]!.startsWith('//')) return assign[2]!;
  return s.replace(/^["'`]+|["'`]+$/g, '');
}

// --- internal ---

function _base64Decode(seg: string, url: boolean): string | undefined {
  if (!(url ? /^[A-Za-z0-9_-]+={0,2}$/ : /^[A-Za-z0-9+/]+={0,2}$/).test(seg)) return undefined;
  try {
    return Buffer.from(seg.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8');
  } catch {
    return undefined;
  }
}
