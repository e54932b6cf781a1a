// The rule scanner: prefilter → patterns and/or conditions → validators → min_matches, per target instance,
// windowed over long texts (spec 30 §A6.4). A generator so `evaluate` and `evaluateYielding` share one code path:
// it yields the number of characters scanned at window and instance boundaries.
import type { PolicyInternal, RuntimeRule } from './_compiled.ts';
import { GATE_MIN_CHARS, gatePatterns } from './_gate.ts';
import { type Occurrences, occurrenceCap } from './_literal-set.ts';
import { evaluateConditions, type FactsView } from './conditions.ts';
import type { Matcher, RegexMatch } from './regex.ts';
import { ScanText } from './scan-text.ts';
import type { CommandInstance, Instance } from './targets.ts';

/** Scan tuning (`createEngine` options). */
export type ScanOptions = {
  windowChars: number;
  overlapChars: number;
  usePrefilter: boolean;
};

/** One rule hit on one instance (before findings are built). */
export type Hit = {
  rule: RuntimeRule;
  inst: Instance;
  basis: 'pattern' | 'facts';
  /** The text the offsets refer to (for snippets). */
  text: string;
  start: number;
  end: number;
  valueStart: number;
  valueEnd: number;
  obfuscated: boolean;
  /** For facts hits: the simple command text that satisfied the conditions (snippet source). */
  factText?: string;
};

/** Per-evaluation scan inputs. */
export type ScanJob = {
  policy: PolicyInternal;
  instances: readonly Instance[];
  tool: string | undefined;
  options: ScanOptions;
  /** Restricts the scan to these rules (example harness); otherwise every enabled rule. */
  only?: RuntimeRule;
  /** Per command instance: simple-command indices exempted by a command allow entry. */
  allowedCommands?: Map<CommandInstance, Set<number>>;
  hits: Hit[];
  /** The literal pass of the text scanned last. */
  literalCache?: LiteralPass;
  /** Literal ids present per (short) text already scanned in this job: a text shared by instances is read once. */
  presence?: Map<string, readonly number[]>;
};

// Reused per-process stamp array for prefilter marks (evaluations are synchronous between yields, and each
// instance's marks are read before the next yield).
let marks = new Uint32Array(0);
let stampCounter = 0;

function nextStamp(ruleCount: number): number {
  if (marks.length < ruleCount) {
    marks = new Uint32Array(Math.max(ruleCount, marks.length * 2, 64));
    stampCounter = 0;
  }
  stampCounter++;
  if (stampCounter >= 0xffffffff) {
    marks.fill(0);
    stampCounter = 1;
  }
  return stampCounter;
}

/** Runs every applicable rule over every instance, pushing hits; yields characters scanned. */
export function* scanJob(job: ScanJob): Generator<number, void, void> {
  const { instances } = job;
  for (const inst of instances) {
    const rules = applicableRules(job, inst);
    if (rules.length === 0) continue;
    const candidates = job.options.usePrefilter ? prefilterRules(job, inst, rules) : rules;
    if (candidates.length === 0) continue;
    switch (inst.target) {
      case 'command':
        yield* scanCommand(job, inst, candidates);
        break;
      case 'path': {
        const view: FactsView = { commands: [], paths: [inst.fact], urls: [] };
        for (const rule of candidates) {
          if (rule.cond) {
            if (evaluateConditions(rule.cond, view) !== undefined) {
              job.hits.push(factHit(rule, inst, inst.fact.path));
            }
          } else {
            const texts =
              inst.fact.raw !== inst.fact.path ? [inst.fact.path, inst.fact.raw] : [inst.fact.path];
            for (const text of texts) {
              const hit = scanSmallText(job, rule, inst, text);
              if (hit) {
                job.hits.push(hit);
                break;
              }
            }
          }
        }
        break;
      }
      case 'url': {
        const view: FactsView = { commands: [], paths: [], urls: [inst.fact] };
        for (const rule of candidates) {
          if (rule.cond) {
            if (evaluateConditions(rule.cond, view) !== undefined)
              job.hits.push(factHit(rule, inst, inst.fact.raw));
          } else {
            const hit = scanSmallText(job, rule, inst, inst.fact.raw);
            if (hit) job.hits.push(hit);
          }
        }
        break;
      }
      default: {
        const patternRules = candidates.filter((r) => r.patterns.length > 0);
        if (patternRules.length > 0) yield* scanText(job, inst, inst.text, patternRules, false);
      }
    }
    // A budget check point between instances; shared literal buffers never survive a yield.
    job.literalCache = undefined;
    yield 0;
  }
}

function applicableRules(job: ScanJob, inst: Instance): RuntimeRule[] {
  const tool = job.tool;
  if (job.only) {
    const r = job.only;
    if (!r.targets.has(inst.target)) return [];
    if (!ruleAppliesToInstance(r, inst)) return [];
    if (r.writtenTools && (tool === undefined || !r.writtenTools.test(tool))) return [];
    return [r];
  }
  const list = job.policy.byTarget[inst.target];
  const out: RuntimeRule[] = [];
  for (const r of list) {
    if (r.tools && (tool === undefined || !r.tools.test(tool))) continue;
    if (!ruleAppliesToInstance(r, inst)) continue;
    out.push(r);
  }
  return out;
}

function ruleAppliesToInstance(r: RuntimeRule, inst: Instance): boolean {
  switch (inst.target) {
    case 'path':
    case 'url':
      // A command rule sees command-derived paths/URLs through its own facts.
      return !(inst.fromCommand && r.targetsCommand);
    case 'tool_args':
      return !(inst.asCommand && r.targetsCommand) && r.patterns.length > 0;
    case 'command':
      return true;
    default:
      return r.patterns.length > 0;
  }
}

/** One literal-presence pass over a text. */
type LiteralPass = {
  text: string;
  present: Uint32Array;
  token: number;
  stamp: number;
  marked: boolean;
  st?: ScanText;
};

/** Texts up to this long have their literal presence remembered for the rest of the job. */
const PRESENCE_CACHE_CHARS = 64 * 1024;

/** A pattern with this many regions to visit in a text is gated like one scanned in full. */
const GATE_MIN_REGIONS = 64;

/** Texts at least this long get literal-anchored region scanning. */
const REGION_MIN_CHARS = 32 * 1024;

/** The literal pass over one text, cached for the text scanned last (prefilter and anchors share it). */
function literalScan(job: ScanJob, text: string, mark: boolean, st?: ScanText): LiteralPass {
  const cache = job.literalCache;
  if (cache && cache.text === text && (!mark || cache.marked)) return cache;
  const stamp = nextStamp(job.policy.rules.length);
  if (!st && text.length >= 4096) st = new ScanText(text);
  const bytes = st?.buf;
  const literals = job.policy.literals;
  let ids: readonly number[] | undefined;
  if (text.length <= PRESENCE_CACHE_CHARS) {
    job.presence ??= new Map();
    ids = job.presence.get(text);
    if (!ids) {
      ids = literals.match(text, bytes);
      job.presence.set(text, ids);
    }
  } else ids = literals.match(text, bytes);
  const { present, token } = literals.apply(ids, mark ? marks : undefined, stamp);
  const entry: LiteralPass = { text, present, token, stamp, marked: mark };
  if (st) entry.st = st;
  job.literalCache = entry;
  return entry;
}

function prefilterRules(job: ScanJob, inst: Instance, rules: RuntimeRule[]): RuntimeRule[] {
  let needs = false;
  for (const r of rules) {
    if (r.hasPrefilter) {
      needs = true;
      break;
    }
  }
  if (!needs) return rules;
  const texts: string[] =
    inst.target === 'command'
      ? [inst.text, inst.facts.deobfuscated]
      : inst.target === 'path'
        ? [inst.fact.path, inst.fact.raw]
        : inst.target === 'url'
          ? [inst.fact.raw, inst.fact.host]
          : [inst.text];
  const out: RuntimeRule[] = [];
  const seen = new Set<RuntimeRule>();
  let last = '';
  for (const text of texts) {
    if (text === last || text === undefined) continue;
    last = text;
    const { stamp } = literalScan(job, text, true);
    for (const r of rules) if (!seen.has(r) && (!r.hasPrefilter || marks[r.index] === stamp)) seen.add(r);
  }
  for (const r of rules) if (seen.has(r)) out.push(r);
  return out;
}

function factHit(rule: RuntimeRule, inst: Instance, text: string): Hit {
  return {
    rule,
    inst,
    basis: 'facts',
    text,
    start: 0,
    end: text.length,
    valueStart: 0,
    valueEnd: text.length,
    obfuscated: false,
    factText: text,
  };
}

function* scanCommand(
  job: ScanJob,
  inst: CommandInstance,
  rules: RuntimeRule[],
): Generator<number, void, void> {
  const facts = inst.facts;
  const allowed = job.allowedCommands?.get(inst);
  const allAllowed =
    allowed !== undefined && facts.commands.length > 0 && allowed.size >= facts.commands.length;
  const patternRules: RuntimeRule[] = [];
  for (const rule of rules) {
    const exempt = rule.commandCategory && allowed !== undefined;
    if (exempt && allAllowed) continue;
    let condDecided = false;
    if (rule.cond && facts.status !== 'failed') {
      const skip = exempt ? (i: number) => allowed!.has(i) : undefined;
      const idx = evaluateConditions(rule.cond, facts, skip, rule.condGate, rule.condTargetWide);
      if (idx !== undefined) {
        const cmd = idx >= 0 ? facts.commands[idx] : undefined;
        const text = cmd?.text ?? inst.text;
        job.hits.push({
          ...factHit(rule, inst, text),
          text: inst.text,
          start: 0,
          end: inst.text.length,
          valueStart: 0,
          valueEnd: inst.text.length,
        });
        continue;
      }
      // On a complete parse the conditions alone decide.
      condDecided = facts.status === 'complete' || rule.patterns.length === 0;
    }
    if (rule.cond && facts.status === 'failed' && rule.patterns.length === 0) continue;
    if (!condDecided && rule.patterns.length > 0) patternRules.push(rule);
  }
  if (patternRules.length === 0) return;
  const before = job.hits.length;
  yield* scanText(job, inst, inst.text, patternRules, false);
  const deob = facts.deobfuscated;
  if (deob && deob !== inst.text) {
    const hitRules = new Set<RuntimeRule>();
    for (let i = before; i < job.hits.length; i++) hitRules.add(job.hits[i]!.rule);
    const rest = patternRules.filter((r) => !hitRules.has(r));
    if (rest.length > 0) yield* scanText(job, inst, deob, rest, true);
  }
}

/** Scans a short fact text (path/url) with one rule's patterns. */
function scanSmallText(job: ScanJob, rule: RuntimeRule, inst: Instance, text: string): Hit | undefined {
  const before = job.hits.length;
  const gen = scanText(job, inst, text, [rule], false);
  while (!gen.next().done) {
    // Short texts never yield in practice; drain anyway.
  }
  if (job.hits.length > before) return job.hits.pop();
  return undefined;
}

type RuleState = {
  rule: RuntimeRule;
  best?: RegexMatch;
  distinct?: Set<string>;
  count: number;
  done: boolean;
  /** Next start offset per pattern. */
  next: number[];
  /** Per pattern: 'skip' (a necessary literal is absent), 'full', or merged start regions [a0, b0, a1, b1, …]. */
  plan: ('skip' | 'full' | Int32Array)[];
  /** Per pattern: index of the next region to visit. */
  cursor: number[];
};

/**
 * Plans each pattern's scan from literal occurrences: skip, full scan, or only the regions where a match can start;
 * on large texts, unanchored patterns that cannot match anywhere (one gate pass) are skipped too.
 */
function planPatterns(job: ScanJob, text: string, states: RuleState[]): ScanText | undefined {
  const st = planByLiterals(job, text, states);
  if (!job.options.usePrefilter || text.length < GATE_MIN_CHARS) return st;
  // Candidates: patterns scanned in full, and those anchored on literals frequent enough here that visiting their
  // regions (one RE2 call each) costs about what a full pass does.
  const costly = new Set<Matcher>();
  for (const s of states) {
    for (let p = 0; p < s.plan.length; p++) {
      const m = s.rule.patterns[p]!;
      const plan = s.plan[p]!;
      if (!Number.isFinite(m.maxUnits)) continue;
      if (plan === 'full' || (plan !== 'skip' && plan.length >= 2 * GATE_MIN_REGIONS)) costly.add(m);
    }
  }
  if (costly.size < 2) return st;
  const prepared = st ?? new ScanText(text);
  const open = gatePatterns(job.policy, [...costly], prepared);
  if (open) {
    for (const s of states) {
      for (let p = 0; p < s.plan.length; p++) {
        const m = s.rule.patterns[p]!;
        if (s.plan[p] !== 'skip' && costly.has(m) && !open.has(m)) s.plan[p] = 'skip';
      }
    }
  }
  return prepared;
}

function planByLiterals(job: ScanJob, text: string, states: RuleState[]): ScanText | undefined {
  const len = text.length;
  const literals = job.policy.literals;
  let any = false;
  if (job.options.usePrefilter) {
    for (const st of states) {
      for (const a of st.rule.anchors) {
        if (a) {
          any = true;
          break;
        }
      }
      if (any) break;
    }
  }
  if (!any) {
    for (const st of states) st.plan = st.rule.patterns.map(() => 'full');
    return undefined;
  }
  const pass = literalScan(job, text, false);
  const { present, token } = pass;
  // Large texts: occurrence offsets of the (short) anchor literals for region scanning. ASCII texts: native
  // `indexOf` per present anchor literal, lazily and only as far as needed; others: one Aho–Corasick pass.
  let hits: Occurrences | undefined;
  if (len >= REGION_MIN_CHARS) {
    const cap = occurrenceCap(len);
    hits =
      literals.largeOccurrences(text) ??
      (pass.st?.ascii
        ? literals.asciiOccurrences(text, present, token, cap)
        : literals.anchorOccurrences(text, cap));
  }
  for (const st of states) {
    st.plan = st.rule.patterns.map((matcher, p) => {
      const factors = st.rule.anchors[p];
      if (!factors) return 'full';
      // A necessary factor none of whose literals occurs: the pattern cannot match anywhere.
      for (const f of factors) {
        let found = false;
        for (const id of f) {
          if (present[id] === token) {
            found = true;
            break;
          }
        }
        if (!found) return 'skip';
      }
      if (!hits) return 'full';
      const units = matcher.maxUnits;
      const cap = Math.min(hits.cap, Math.floor(len / (4 * (units + 1))));
      // The factor with the fewest occurrences (all recorded) decides the regions.
      let best: Int32Array | undefined;
      let bestTotal = Number.POSITIVE_INFINITY;
      for (const f of factors) {
        let total = 0;
        for (const id of f) {
          const occ = hits.get(id, Math.min(cap, bestTotal - 1) - total);
          if (occ.count > hits.cap || occ.length === 0) {
            total = Number.POSITIVE_INFINITY;
            break;
          }
          total += occ.count;
          // Already worse than the best factor or past the cap: this factor cannot decide the regions.
          if (total >= bestTotal || total > cap) break;
        }
        if (total < bestTotal) {
          bestTotal = total;
          best = f;
        }
      }
      if (!best || bestTotal > cap) return 'full';
      // A match containing literal occurrence [o, o+L) starts in [o + L - units, o].
      const pairs: [number, number][] = [];
      for (const id of best) {
        const occ = hits.get(id);
        for (const o of occ.starts) pairs.push([Math.max(0, o + occ.length - units), o + 1]);
      }
      pairs.sort((x, y) => x[0] - y[0]);
      const merged: number[] = [];
      for (const [a, b] of pairs) {
        const last = merged.length - 1;
        if (last > 0 && a <= merged[last]!) merged[last] = Math.max(merged[last]!, b);
        else merged.push(a, b);
      }
      return Int32Array.from(merged);
    });
  }
  return pass.st;
}

/** Scans one text with pattern rules (windowed, literal-anchored); pushes at most one hit per rule. */
function* scanText(
  job: ScanJob,
  inst: Instance,
  text: string,
  rules: RuntimeRule[],
  obfuscated: boolean,
): Generator<number, void, void> {
  if (text.length === 0) return;
  const states: RuleState[] = rules.map((rule) => ({
    rule,
    count: 0,
    done: false,
    next: rule.patterns.map(() => 0),
    plan: [],
    cursor: rule.patterns.map(() => 0),
  }));
  const len = text.length;
  const planned = planPatterns(job, text, states);
  // The literal buffers are shared per policy: never reuse them across a yield.
  job.literalCache = undefined;
  let runs = false;
  for (const s of states) if (s.plan.some((p) => p !== 'skip')) runs = true;
  if (!runs) {
    yield len;
    return;
  }
  // Prepared once (UTF-8 bytes) for every pattern that runs; no per-call closure (tsx wraps those).
  const st = planned ?? new ScanText(text);
  const { windowChars, overlapChars } = job.options;
  const single = len <= windowChars + overlapChars;
  for (let winStart = 0; winStart < len; winStart += single ? len : windowChars) {
    const acceptEnd = single ? len : Math.min(len, winStart + windowChars);
    let active = 0;
    for (const s of states) {
      if (s.done) continue;
      for (let p = 0; p < s.rule.patterns.length; p++) {
        const plan = s.plan[p]!;
        if (plan === 'skip') continue;
        const matcher = s.rule.patterns[p]!;
        if (!Number.isFinite(matcher.maxUnits)) {
          // Unbounded (operator) pattern: one linear pass over the whole text, in the first window.
          if (winStart === 0) scanPattern(st, s, p, 0, len, len);
          continue;
        }
        const slack = Math.max(overlapChars, matcher.maxUnits);
        if (plan === 'full') {
          scanPattern(
            st,
            s,
            p,
            winStart,
            acceptEnd,
            acceptEnd >= len ? len : Math.min(len, acceptEnd + slack),
          );
          continue;
        }
        // Regions: visit those overlapping this window.
        let i = s.cursor[p]!;
        while (i < plan.length) {
          const a = plan[i]!;
          const b = plan[i + 1]!;
          if (a >= acceptEnd) break;
          const from = Math.max(a, winStart);
          const to = Math.min(b, acceptEnd);
          if (from < to) scanPattern(st, s, p, from, to, Math.min(len, to + matcher.maxUnits));
          if (b <= acceptEnd) i += 2;
          else break;
        }
        s.cursor[p] = i;
      }
      if (s.best && s.count >= s.rule.minMatches) s.done = true;
      else active++;
    }
    if (!single) yield acceptEnd - winStart;
    else yield len;
    if (active === 0) break;
  }
  for (const s of states) {
    if (s.best && s.count >= s.rule.minMatches) {
      job.hits.push({
        rule: s.rule,
        inst,
        basis: 'pattern',
        text,
        start: s.best.start,
        end: s.best.end,
        valueStart: s.best.valueStart,
        valueEnd: s.best.valueEnd,
        obfuscated,
      });
    }
  }
}

/** Finds validated matches of pattern `p` starting in [from, acceptEnd), ending by hardEnd. */
function scanPattern(
  st: ScanText,
  s: RuleState,
  p: number,
  from: number,
  acceptEnd: number,
  hardEnd: number,
): void {
  const rule = s.rule;
  const text = st.text;
  const matcher = rule.patterns[p]!;
  let pos = Math.max(from, s.next[p]!);
  let foundHere = false;
  while (pos < acceptEnd) {
    const m = execMemo(st, matcher, pos, hardEnd);
    if (m === null || m.start >= acceptEnd) {
      pos = acceptEnd;
      break;
    }
    if (m.end === m.start || !accept(st, rule, m)) {
      pos = m.start + (isHigh(text.charCodeAt(m.start)) ? 2 : 1);
      continue;
    }
    if (!s.best || m.start < s.best.start) s.best = m;
    foundHere = true;
    if (rule.minMatches <= 1) {
      s.count = 1;
      pos = Number.MAX_SAFE_INTEGER;
      break;
    }
    const value = text.slice(m.valueStart, m.valueEnd);
    s.distinct ??= new Set();
    if (!s.distinct.has(value)) {
      s.distinct.add(value);
      s.count = s.distinct.size;
    }
    pos = m.end;
    if (s.count >= rule.minMatches && foundHere) break;
  }
  s.next[p] = Math.max(s.next[p]!, pos);
}

/** `matcher.exec(st, from, to)`, remembering the last call per matcher on this text. */
function execMemo(st: ScanText, matcher: Matcher, from: number, to: number): RegexMatch | null {
  st.execMemo ??= new Map();
  const memo = st.execMemo;
  const last = memo.get(matcher);
  if (last && last[0] === from && last[1] === to) return last[2] as RegexMatch | null;
  const m = matcher.exec(st, from, to);
  if (last) {
    last[0] = from;
    last[1] = to;
    last[2] = m;
  } else memo.set(matcher, [from, to, m]);
  return m;
}

function isHigh(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}

function accept(st: ScanText, rule: RuntimeRule, m: RegexMatch): boolean {
  if (rule.validators.length > 0) {
    const value = st.text.slice(m.valueStart, m.valueEnd);
    for (const v of rule.validators) {
      let ok: boolean;
      try {
        ok = v.fn(value, v.arg);
      } catch {
        ok = false;
      }
      if (!ok) return false;
    }
  }
  if (rule.excludes.length > 0) {
    const lo = Math.max(0, m.start - 64);
    const hi = Math.min(st.text.length, m.end + 64);
    for (const ex of rule.excludes) {
      const e = ex.exec(st, lo, hi);
      if (e !== null) return false;
    }
  }
  return true;
}
