import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import YAML from 'yaml';
import {
  compilePolicy,
  compileRegex,
  loadBundledPacks,
  type RuleInfo,
  SEVERITIES,
  type Severity,
} from '../src/index.ts';
import { loadCorpus } from './_quality.ts';

// Every rule id of spec 30 §A5, with its category and severity (the tables, plus the ids their prose names:
// DLX-FETCH-CHMOD, SECACC-CLOUD-CONFIG, PII-EMAIL-BULK).
const SPEC_RULES: readonly (readonly [id: string, category: string, severity: Severity])[] = [
  ['DESTR-RM-ROOT', 'destructive', 'critical'],
  ['DESTR-FIND-DELETE-ROOT', 'destructive', 'critical'],
  ['DESTR-MKFS', 'destructive', 'critical'],
  ['DESTR-DISK-WRITE', 'destructive', 'critical'],
  ['DESTR-CHMOD-ROOT', 'destructive', 'high'],
  ['DESTR-CHOWN-ROOT', 'destructive', 'high'],
  ['DESTR-SHRED-HOME', 'destructive', 'high'],
  ['DESTR-FORK-BOMB', 'destructive', 'critical'],
  ['DESTR-KILL-ALL', 'destructive', 'high'],
  ['DESTR-POWER', 'destructive', 'medium'],
  ['DLX-PIPE-SHELL', 'download_exec', 'critical'],
  ['DLX-SUBST-EXEC', 'download_exec', 'critical'],
  ['DLX-DECODE-EXEC', 'download_exec', 'critical'],
  ['DLX-FETCH-CHMOD-RUN', 'download_exec', 'high'],
  ['DLX-FETCH-CHMOD', 'download_exec', 'low'],
  ['DLX-INTERP-REMOTE', 'download_exec', 'high'],
  ['DLX-PS-ENCODED', 'download_exec', 'high'],
  ['DLX-INLINE-INTERP', 'download_exec', 'info'],
  ['RSH-DEVTCP', 'reverse_shell', 'critical'],
  ['RSH-NC-EXEC', 'reverse_shell', 'critical'],
  ['RSH-FIFO-LOOP', 'reverse_shell', 'critical'],
  ['RSH-SOCAT-EXEC', 'reverse_shell', 'critical'],
  ['RSH-INTERP-SOCKET', 'reverse_shell', 'critical'],
  ['RSH-LISTENER', 'reverse_shell', 'medium'],
  ['RSH-TUNNEL', 'reverse_shell', 'high'],
  ['SECACC-SSH-KEY', 'secret_access', 'critical'],
  ['SECACC-SSH-DIR', 'secret_access', 'medium'],
  ['SECACC-CLOUD-CREDS', 'secret_access', 'critical'],
  ['SECACC-CLOUD-CONFIG', 'secret_access', 'medium'],
  ['SECACC-KUBE-DOCKER', 'secret_access', 'high'],
  ['SECACC-DOTENV', 'secret_access', 'high'],
  ['SECACC-OPENCLAW-CONFIG', 'secret_access', 'high'],
  ['SECACC-DEFENSECLAW-STATE', 'secret_access', 'high'],
  ['SECACC-BROWSER-STORE', 'secret_access', 'critical'],
  ['SECACC-KEYCHAIN', 'secret_access', 'critical'],
  ['SECACC-TOKEN-FILES', 'secret_access', 'high'],
  ['SECACC-PKG-TOKENS', 'secret_access', 'medium'],
  ['SECACC-SHADOW', 'secret_access', 'critical'],
  ['SECACC-PROC-ENV', 'secret_access', 'high'],
  ['SECACC-HISTORY', 'secret_access', 'medium'],
  ['EXFIL-SECRET-UPLOAD', 'exfiltration', 'critical'],
  ['EXFIL-ENV-TO-NET', 'exfiltration', 'critical'],
  ['EXFIL-FILE-UPLOAD', 'exfiltration', 'high'],
  ['EXFIL-PIPE-TO-NET', 'exfiltration', 'high'],
  ['EXFIL-DNS', 'exfiltration', 'high'],
  ['EXFIL-OOB-HOST', 'exfiltration', 'high'],
  ['EXFIL-PASTE', 'exfiltration', 'high'],
  ['EXFIL-MD-IMAGE', 'exfiltration', 'high'],
  ['SSRF-IMDS', 'metadata_ssrf', 'critical'],
  ['SSRF-GCP-METADATA', 'metadata_ssrf', 'critical'],
  ['SSRF-AZURE-WIRESERVER', 'metadata_ssrf', 'high'],
  ['SSRF-LINK-LOCAL', 'metadata_ssrf', 'medium'],
  ['PERSIST-AUTHORIZED-KEYS', 'persistence', 'critical'],
  ['PERSIST-CRON', 'persistence', 'high'],
  ['PERSIST-SYSTEMD', 'persistence', 'high'],
  ['PERSIST-LAUNCHD', 'persistence', 'high'],
  ['PERSIST-SHELL-RC', 'persistence', 'medium'],
  ['PERSIST-LD-PRELOAD', 'persistence', 'high'],
  ['PERSIST-GIT-HOOK', 'persistence', 'medium'],
  ['PRIV-SUDOERS', 'privilege', 'critical'],
  ['PRIV-SETUID', 'privilege', 'high'],
  ['PRIV-ADMIN-GROUP', 'privilege', 'high'],
  ['PRIV-PASSWORD-CHANGE', 'privilege', 'high'],
  ['PRIV-SUDO-STDIN-PASS', 'privilege', 'high'],
  ['PRIV-CONTAINER-ESCAPE', 'privilege', 'critical'],
  ['PRIV-AGENT-BYPASS', 'privilege', 'critical'],
  ['PRIV-SUDO', 'privilege', 'info'],
  ['TAMPER-DEFENSECLAW', 'agent_tamper', 'critical'],
  ['TAMPER-OPENCLAW-CONFIG', 'agent_tamper', 'high'],
  ['TAMPER-LOCAL-CONTROL', 'agent_tamper', 'high'],
  ['TAMPER-HISTORY', 'agent_tamper', 'medium'],
  ['PI-IGNORE-PRIOR', 'prompt_injection', 'critical'],
  ['PI-DISABLE-SAFETY', 'prompt_injection', 'critical'],
  ['PI-EXFIL-DIRECTIVE', 'prompt_injection', 'critical'],
  ['PI-FAKE-AUTHORITY', 'prompt_injection', 'high'],
  ['PI-ROLE-DELIMITER', 'prompt_injection', 'high'],
  ['PI-NEW-INSTRUCTIONS', 'prompt_injection', 'high'],
  ['PI-TOOL-DIRECTIVE', 'prompt_injection', 'high'],
  ['PI-CONCEAL', 'prompt_injection', 'high'],
  ['PI-HIDDEN-TEXT', 'prompt_injection', 'high'],
  ['PI-HTML-HIDDEN', 'prompt_injection', 'medium'],
  ['PI-JAILBREAK-PERSONA', 'prompt_injection', 'medium'],
  ['PI-PROMPT-LEAK', 'prompt_injection', 'medium'],
  ['SECRET-AWS-KEY-ID', 'secret_output', 'critical'],
  ['SECRET-AWS-SECRET', 'secret_output', 'critical'],
  ['SECRET-GITHUB', 'secret_output', 'critical'],
  ['SECRET-GITLAB', 'secret_output', 'critical'],
  ['SECRET-SLACK', 'secret_output', 'critical'],
  ['SECRET-OPENAI', 'secret_output', 'critical'],
  ['SECRET-ANTHROPIC', 'secret_output', 'critical'],
  ['SECRET-STRIPE', 'secret_output', 'critical'],
  ['SECRET-DC-MASTER', 'secret_output', 'critical'],
  ['SECRET-PRIVATE-KEY', 'secret_output', 'critical'],
  ['SECRET-CONNSTR', 'secret_output', 'high'],
  ['SECRET-PKG-TOKENS', 'secret_output', 'high'],
  ['SECRET-JWT', 'secret_output', 'medium'],
  ['SECRET-GENERIC-ASSIGN', 'secret_output', 'medium'],
  ['PII-CARD', 'pii', 'high'],
  ['PII-SSN', 'pii', 'high'],
  ['PII-IBAN', 'pii', 'medium'],
  ['PII-BULK', 'pii', 'critical'],
  ['PII-EMAIL', 'pii', 'low'],
  ['PII-EMAIL-BULK', 'pii', 'medium'],
  ['PII-PHONE', 'pii', 'low'],
];

// The packs this file's owner writes; the structural checks below that are about text rules apply to them.
const TEXT_PACKS = /(?:^|[\\/])(?:prompt-injection|secret-output|pii)\.yaml$/;

type RawExample = string | { text: string; target?: string; tool?: string };
type RawRule = {
  id: string;
  category: string;
  severity: Severity;
  targets: string[];
  prefilter?: string[];
  patterns?: string[];
  conditions?: unknown;
  examples?: { match?: RawExample[]; no_match?: RawExample[] };
};

function rawRules(filter: RegExp = /./): { file: string; rule: RawRule }[] {
  const out: { file: string; rule: RawRule }[] = [];
  for (const pack of loadBundledPacks()) {
    if (!filter.test(pack.path)) continue;
    const doc = YAML.parse(pack.text) as { rules: RawRule[] };
    for (const rule of doc.rules) out.push({ file: pack.path, rule });
  }
  return out;
}

const exampleText = (e: RawExample): string => (typeof e === 'string' ? e : e.text);

let compiled: ReturnType<typeof compilePolicy>;

function compileBundled(): { rules: readonly RuleInfo[] } {
  if (!compiled.success)
    assert.fail(`bundled packs do not compile:\n${compiled.errors.map((e) => e.message).join('\n')}`);
  return compiled.policy;
}

describe('bundled default pack', () => {
  before(() => {
    compiled = compilePolicy({ packs: loadBundledPacks() });
  });

  it('compiles with zero errors and zero warnings', () => {
    assert.equal(
      compiled.success,
      true,
      compiled.success ? '' : compiled.errors.map((e) => e.message).join('\n'),
    );
    if (compiled.success)
      assert.deepEqual(
        compiled.warnings.map((w) => w.message),
        [],
      );
  });

  it('defines every spec §A5 rule id with its category and severity', () => {
    const byId = new Map(compileBundled().rules.map((r) => [r.id, r]));
    const problems: string[] = [];
    for (const [id, category, severity] of SPEC_RULES) {
      const rule = byId.get(id);
      if (!rule) problems.push(`${id}: missing`);
      else {
        if (rule.category !== category)
          problems.push(`${id}: category ${rule.category}, spec says ${category}`);
        if (rule.severity !== severity)
          problems.push(`${id}: severity ${rule.severity}, spec says ${severity}`);
        if (!rule.enabled) problems.push(`${id}: disabled`);
      }
    }
    assert.deepEqual(problems, []);
  });

  it('gives every pattern rule a prefilter and at least 2 match + 2 no_match examples, each match holding a literal', () => {
    const problems: string[] = [];
    for (const { rule } of rawRules()) {
      const match = rule.examples?.match ?? [];
      const noMatch = rule.examples?.no_match ?? [];
      if (match.length < 2 || noMatch.length < 2)
        problems.push(`${rule.id}: ${match.length} match / ${noMatch.length} no_match examples`);
      if (!rule.patterns?.length) continue;
      if (!rule.prefilter?.length) {
        problems.push(`${rule.id}: pattern rule without prefilter`);
        continue;
      }
      const literals = rule.prefilter.map((l) => l.toLowerCase());
      for (const e of match) {
        const text = exampleText(e).toLowerCase();
        if (!literals.some((l) => text.includes(l)))
          problems.push(
            `${rule.id}: example without a prefilter literal: ${JSON.stringify(exampleText(e).slice(0, 60))}`,
          );
      }
    }
    assert.deepEqual(problems, []);
  });

  it('rates secret_output and pii one level lower on tool results and prompts than on completions and tool args', () => {
    const problems: string[] = [];
    for (const rule of compileBundled().rules) {
      if (rule.category !== 'secret_output' && rule.category !== 'pii') continue;
      const at = (t: 'completion' | 'tool_args' | 'tool_result' | 'prompt') =>
        rule.severityByTarget[t] ?? rule.severity;
      const outbound = rule.targets.filter((t) => t === 'completion' || t === 'tool_args');
      const inbound = rule.targets.filter((t) => t === 'tool_result' || t === 'prompt');
      for (const t of outbound)
        if (at(t) !== rule.severity) problems.push(`${rule.id}: ${t} is ${at(t)}, not ${rule.severity}`);
      if (outbound.length === 0) continue; // masked-form rules only see tool results and prompts
      const lower = SEVERITIES[Math.max(0, SEVERITIES.indexOf(rule.severity) - 1)]!;
      for (const t of inbound)
        if (at(t) !== lower) problems.push(`${rule.id}: ${t} is ${at(t)}, expected ${lower}`);
    }
    assert.deepEqual(problems, []);
  });

  it('keeps prompt_injection rules off tool_args and command targets', () => {
    const offenders = compileBundled()
      .rules.filter(
        (r) =>
          r.category === 'prompt_injection' && r.targets.some((t) => t === 'tool_args' || t === 'command'),
      )
      .map((r) => r.id);
    assert.deepEqual(offenders, []);
  });

  it('has a masked-form rule for every provider OpenClaw masks (first 6 + "…" + last 4)', () => {
    const ids = new Set(compileBundled().rules.map((r) => r.id));
    for (const provider of [
      'AWS-KEY-ID',
      'AWS-SECRET',
      'GITHUB',
      'GITLAB',
      'SLACK',
      'OPENAI',
      'ANTHROPIC',
      'STRIPE',
      'DC-MASTER',
      'PRIVATE-KEY',
      'JWT',
    ]) {
      assert.ok(ids.has(`SECRET-${provider}-MASKED`), `SECRET-${provider}-MASKED missing`);
    }
  });

  it('never lets the prefilter drop a text rule whose pattern matches (corpus texts and examples)', () => {
    const texts: string[] = [];
    for (const row of loadCorpus()) {
      const s = row.subject as { text?: string; messages?: { text: string }[]; args?: unknown };
      if (typeof s.text === 'string') texts.push(s.text);
      for (const m of s.messages ?? []) texts.push(m.text);
      if (s.args && typeof s.args === 'object')
        for (const v of Object.values(s.args)) if (typeof v === 'string') texts.push(v);
    }
    const problems: string[] = [];
    for (const { rule } of rawRules(TEXT_PACKS)) {
      const literals = (rule.prefilter ?? []).map((l) => l.toLowerCase());
      const matchers = (rule.patterns ?? []).map((p) => {
        const c = compileRegex(p);
        assert.ok(c.success, `${rule.id}: ${p}`);
        return c.matcher;
      });
      const all = [
        ...texts,
        ...(rule.examples?.match ?? []).map(exampleText),
        ...(rule.examples?.no_match ?? []).map(exampleText),
      ];
      for (const text of all) {
        const lower = text.toLowerCase();
        if (literals.some((l) => lower.includes(l))) continue;
        for (const m of matchers) {
          const hit = m.exec(text);
          if (hit)
            problems.push(
              `${rule.id}: ${JSON.stringify(text.slice(hit.start, hit.end))} matches without a prefilter literal`,
            );
        }
      }
    }
    assert.deepEqual(problems, []);
  });
});
