// Evidence handling (spec 30 §A3.6): snippet windows, span redaction, the secret masker, keyed fingerprints.
import { createHmac } from 'node:crypto';

/** The longest evidence snippet, in characters. */
export const SNIPPET_MAX = 120;

/** Categories whose matched value is always replaced by a `[REDACTED:…]` marker. */
export const REDACTED_CATEGORIES: ReadonlySet<string> = new Set(['secret_output', 'secret_access', 'pii']);

/** Known token prefixes that may stay visible in front of a redaction marker. */
export const KNOWN_TOKEN_PREFIXES = [
  'AKIA',
  'ASIA',
  'AGPA',
  'AIDA',
  'AROA',
  'AIPA',
  'ANPA',
  'ANVA',
  'ABIA',
  'ACCA',
  'ghp_',
  'gho_',
  'ghu_',
  'ghs_',
  'ghr_',
  'github_pat_',
  'glpat-',
  'xoxb-',
  'xoxp-',
  'xoxa-',
  'xoxr-',
  'xoxs-',
  'sk-ant-',
  'sk-proj-',
  'sk-svcacct-',
  'sk-admin-',
  'sk-dc-',
  'sk_live_',
  'rk_live_',
  'sk_test_',
  'rk_test_',
  'npm_',
  'pypi-',
  'hf_',
  'AIza',
  'SG.',
  'glsa_',
  'shpat_',
  'dop_v1_',
] as const;

// Bounded patterns over ≤ 120-char snippets (JS RegExp is safe here: inputs are tiny and patterns have no
// nested quantifiers).
const MASKS: readonly RegExp[] = [
  /-----BEGIN[A-Z ]{0,40}PRIVATE KEY-----[\s\S]{0,120}?(?:-----END[A-Z ]{0,40}PRIVATE KEY-----|$)/g,
  /\b(?:AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|ABIA|ACCA)[A-Z0-9]{4,16}/g,
  /\b(?:gh[pousr]_[A-Za-z0-9]{4,255}|github_pat_[A-Za-z0-9_]{4,255}|glpat-[A-Za-z0-9_-]{4,64})/g,
  /\bxox[abprs]-[A-Za-z0-9-]{4,255}/g,
  /\b(?:sk|rk)[-_](?:ant-|proj-|svcacct-|admin-|dc-|live_|test_)?[A-Za-z0-9_-]{8,255}/g,
  /\b(?:npm_[A-Za-z0-9]{8,64}|pypi-[A-Za-z0-9_-]{8,255}|hf_[A-Za-z0-9]{8,64}|AIza[0-9A-Za-z_-]{8,64}|SG\.[A-Za-z0-9_-]{8,64}(?:\.[A-Za-z0-9_-]{4,64})?)/g,
  /\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{0,}(?:\.[A-Za-z0-9_-]{0,})?/g,
  /(?<=[?&;\s"'{,]|^)((?:[A-Za-z0-9_.-]{0,32})(?:pass(?:word|wd)?|secret|token|api[_-]?key|apikey|auth|credential|private[_-]?key|access[_-]?key)[A-Za-z0-9_.-]{0,32}["']?\s{0,3}[:=]\s{0,3}["']?)([^\s"'&,;}]{4,120})/gi,
  /(\b[a-z][a-z0-9+.-]{1,20}:\/\/[^\s:/@]{0,64}:)([^\s@/]{1,64})(@)/gi,
  /\b[A-Za-z0-9+/_-]{32,}={0,2}/g,
];

// Necessary conditions of the three costly masks, checked first (most text has none of them): the assignment mask
// needs one of its key words (same flags, so the same case folding), the userinfo mask needs `://` and `@`, the
// long-token mask a run of 32 token characters. The cheap masks run as they are.
const ASSIGNMENT_WORD =
  /pass|secret|token|api[_-]?key|apikey|auth|credential|private[_-]?key|access[_-]?key/i;
const MAY_MATCH: readonly (((text: string) => boolean) | undefined)[] = [
  undefined,
  undefined,
  undefined,
  undefined,
  undefined,
  undefined,
  undefined,
  (text) => ASSIGNMENT_WORD.test(text),
  (text) => text.includes('://') && text.includes('@'),
  hasTokenRun,
];

/** Whether `text` has 32 consecutive characters of `[A-Za-z0-9+/_-]`. */
function hasTokenRun(text: string): boolean {
  let run = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (
      (c >= 97 && c <= 122) ||
      (c >= 65 && c <= 90) ||
      (c >= 48 && c <= 57) ||
      c === 43 ||
      c === 47 ||
      c === 95 ||
      c === 45
    ) {
      if (++run >= 32) return true;
    } else run = 0;
  }
  return false;
}

/** Masks anything that looks like a secret in a short string (keeps known prefixes). */
export function maskSecrets(text: string): string {
  let out = text;
  for (let m = 0; m < MASKS.length; m++) {
    const re = MASKS[m]!;
    if (MAY_MATCH[m]?.(out) === false) continue;
    re.lastIndex = 0;
    out = out.replace(re, (match: string, ...groups: unknown[]) => {
      if (typeof groups[0] === 'string' && typeof groups[1] === 'string' && groups.length >= 4) {
        // Assignment / URL-userinfo shapes: keep the key, mask the value.
        const third = typeof groups[2] === 'string' ? groups[2] : '';
        return `${groups[0]}[MASKED len=${groups[1].length}]${third}`;
      }
      if (match.startsWith('[MASKED') || match.startsWith('[REDACTED')) return match;
      const prefix = KNOWN_TOKEN_PREFIXES.find((p) => match.startsWith(p)) ?? '';
      return `${prefix}[MASKED len=${match.length - prefix.length}]`;
    });
  }
  return out;
}

/** Returns the redaction marker for a value matched by `ruleId`, keeping a known token prefix. */
export function redactionMarker(ruleId: string, value: string): string {
  const prefix = KNOWN_TOKEN_PREFIXES.find((p) => value.startsWith(p) && value.length > p.length + 8) ?? '';
  return `${prefix}[REDACTED:${ruleId} len=${value.length - prefix.length}]`;
}

/** Options of `buildSnippet`. */
export type SnippetInput = {
  text: string;
  start: number;
  end: number;
  valueStart: number;
  valueEnd: number;
  ruleId: string;
  redact: boolean;
};

/** Builds a ≤ 120-char evidence snippet around a match, redacted and masked. */
export function buildSnippet(input: SnippetInput): string {
  const { text, ruleId } = input;
  const start = clamp(input.start, 0, text.length);
  const end = clamp(input.end, start, text.length);
  const vs = clamp(input.valueStart, start, end);
  const ve = clamp(input.valueEnd, vs, end);
  let core: string;
  if (input.redact) {
    core =
      maskSecrets(text.slice(start, vs)) +
      redactionMarker(ruleId, text.slice(vs, ve)) +
      maskSecrets(text.slice(ve, end));
  } else {
    core = maskSecrets(text.slice(start, end));
  }
  core = clean(core);
  if (core.length >= SNIPPET_MAX) return `${core.slice(0, SNIPPET_MAX - 1)}…`;
  const room = SNIPPET_MAX - core.length;
  const beforeLen = Math.min(start, Math.floor(room / 2));
  const afterLen = Math.min(text.length - end, room - beforeLen);
  // In redacted categories the same value elsewhere in the window is redacted too.
  const value = input.redact ? text.slice(vs, ve) : '';
  const hide = (ctx: string) =>
    value.length >= 4 ? ctx.split(value).join(redactionMarker(ruleId, value)) : ctx;
  const before =
    beforeLen === 0
      ? ''
      : clean(maskSecrets(hide(text.slice(Math.max(0, start - beforeLen - 128), start)))).slice(-beforeLen);
  const after = clean(maskSecrets(hide(text.slice(end, end + afterLen + 128)))).slice(0, afterLen);
  const out = before + core + after;
  return out.length > SNIPPET_MAX ? out.slice(0, SNIPPET_MAX) : out;
}

function clean(s: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what we strip
  return s.replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, ' ');
}

function clamp(n: number, lo: number, hi: number): number {
  return Math.min(Math.max(n, lo), hi);
}

/** Returns the first 16 hex chars of HMAC-SHA256(key, value). */
export function fingerprint(key: Uint8Array, value: string): string {
  return createHmac('sha256', key).update(value, 'utf8').digest('hex').slice(0, 16);
}
