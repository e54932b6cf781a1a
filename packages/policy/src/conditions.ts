// The conditions language of spec 30 §A4: `all`/`any`/`not` over predicates on parsed command facts.
import { checkGlob, compileGlobSet, type Glob, memoGlob } from './_glob.ts';
import { didYouMean, type IssueSink, type PNode, type Pos } from './_pnode.ts';
import type { Access, CommandFacts, IpClass, PathFact, SimpleCommand, UrlFact } from './shell/types.ts';

/** Accesses a `path:` predicate may ask for. */
export const ACCESSES = ['read', 'write', 'delete', 'exec', 'meta', 'unknown'] as const;
/** IP classes a `url:` predicate may ask for. */
export const IP_CLASSES = ['loopback', 'private', 'link_local', 'metadata', 'cgnat', 'public'] as const;

/** A path matcher (`equals`, `under`, `basename`; all given keys must hold). */
export type PathMatch = { equals?: Glob; under?: UnderMatch; basename?: Glob };

/** Directories for `under`: literal ones are prefix-checked, glob ones tested on each ancestor. */
export type UnderMatch = { literals: string[]; globs?: Glob };

/** A compiled condition tree. */
export type Condition =
  | { k: 'all'; c: Condition[] }
  | { k: 'any'; c: Condition[] }
  | { k: 'not'; c: Condition }
  | { k: 'program'; g: Glob; names: string[] }
  | { k: 'sudo'; v: boolean }
  | { k: 'flags_any'; set: Set<string> }
  | { k: 'flags_all'; groups: Set<string>[] }
  | { k: 'args_any'; g: Glob }
  | { k: 'operand_path'; m: PathMatch }
  | { k: 'redirect_to'; m: PathMatch }
  | { k: 'pipes_to'; g: Glob }
  | { k: 'pipes_from'; g: Glob }
  | { k: 'executes_substitution_of'; g: Glob }
  | { k: 'path'; m: PathMatch; access?: Set<Access> }
  | {
      k: 'url';
      hostIn?: Glob;
      hostSuffix?: string[];
      ipClass?: Set<IpClass>;
      port?: Set<number>;
    };

/** Every key a condition node may use. */
export const CONDITION_KEYS = [
  'all',
  'any',
  'not',
  'program',
  'sudo',
  'flags_any',
  'flags_all',
  'args_any',
  'operand_path',
  'redirect_to',
  'pipes_to',
  'pipes_from',
  'executes_substitution_of',
  'path',
  'url',
] as const;

const PATH_KEYS = ['equals', 'under', 'basename'] as const;
const URL_KEYS = ['host_in', 'host_suffix', 'ip_class', 'port'] as const;

/** What a condition tree needs from facts, to skip evaluation early. */
export type ConditionNeeds = { commands: boolean; paths: boolean; urls: boolean; access: Set<Access> };

type Ctx = { file: string; ruleId: string; sink: IssueSink };

/** Compiles a `conditions:` node, reporting problems to the sink; undefined when invalid. */
export function parseConditions(
  node: PNode,
  file: string,
  ruleId: string,
  sink: IssueSink,
): Condition | undefined {
  const c = parseNode(node, { file, ruleId, sink }, 'conditions', 0);
  return c ? cheapFirst(c) : undefined;
}

const COST: Record<Condition['k'], number> = {
  program: 0,
  sudo: 0,
  flags_any: 1,
  flags_all: 1,
  pipes_to: 1,
  pipes_from: 1,
  executes_substitution_of: 1,
  args_any: 2,
  operand_path: 3,
  redirect_to: 3,
  path: 4,
  url: 4,
  not: 5,
  any: 6,
  all: 6,
};

/** Reorders `all`/`any` children cheapest first (predicates are pure, so order never changes the result). */
function cheapFirst(c: Condition): Condition {
  if (c.k === 'all' || c.k === 'any') {
    const children = c.c.map(cheapFirst);
    children.sort((a, b) => COST[a.k] - COST[b.k]);
    return { k: c.k, c: children };
  }
  if (c.k === 'not') return { k: 'not', c: cheapFirst(c.c) };
  return c;
}

function err(
  ctx: Ctx,
  pos: Pos,
  field: string,
  text: string,
  code: 'E_SCHEMA_TYPE' | 'E_SCHEMA_UNKNOWN_FIELD' | 'E_ENUM' = 'E_SCHEMA_TYPE',
): undefined {
  ctx.sink.add(code, { file: ctx.file, pos, ruleId: ctx.ruleId, field }, text);
  return undefined;
}

function parseNode(node: PNode, ctx: Ctx, field: string, depth: number): Condition | undefined {
  if (depth > 16) return err(ctx, node.pos, field, 'conditions nested deeper than 16');
  if (node.kind !== 'map' || node.entries.length === 0) {
    return err(ctx, node.pos, field, 'a condition is a mapping with one of: ' + CONDITION_KEYS.join(', '));
  }
  const parts: Condition[] = [];
  let ok = true;
  for (const { key, keyPos, value } of node.entries) {
    const c = parseEntry(key, keyPos, value, ctx, `${field}.${key}`, depth);
    if (c) parts.push(c);
    else ok = false;
  }
  if (!ok) return undefined;
  return parts.length === 1 ? parts[0] : { k: 'all', c: parts };
}

function parseEntry(
  key: string,
  keyPos: Pos,
  value: PNode,
  ctx: Ctx,
  field: string,
  depth: number,
): Condition | undefined {
  switch (key) {
    case 'all':
    case 'any': {
      if (value.kind !== 'seq' || value.items.length === 0)
        return err(ctx, value.pos, field, `${key} takes a non-empty list of conditions`);
      const c: Condition[] = [];
      let ok = true;
      value.items.forEach((item, i) => {
        const sub = parseNode(item, ctx, `${field}[${i}]`, depth + 1);
        if (sub) c.push(sub);
        else ok = false;
      });
      return ok ? { k: key, c } : undefined;
    }
    case 'not': {
      const sub = parseNode(value, ctx, field, depth + 1);
      return sub ? { k: 'not', c: sub } : undefined;
    }
    case 'program': {
      const list = stringList(value, ctx, field);
      return list
        ? {
            k: 'program',
            g: memoGlob(
              globSet(
                list.map((s) => s.toLowerCase()),
                'name',
                value,
                ctx,
                field,
              ),
            ),
            names: list.map((s) => s.toLowerCase()),
          }
        : undefined;
    }
    case 'pipes_to':
    case 'pipes_from':
    case 'executes_substitution_of': {
      const list = stringList(value, ctx, field);
      return list
        ? {
            k: key,
            g: globSet(
              list.map((s) => s.toLowerCase()),
              'name',
              value,
              ctx,
              field,
            ),
          }
        : undefined;
    }
    case 'args_any': {
      const list = stringList(value, ctx, field);
      return list ? { k: 'args_any', g: globSet(list, 'name', value, ctx, field) } : undefined;
    }
    case 'sudo':
      if (value.kind !== 'scalar' || typeof value.value !== 'boolean')
        return err(ctx, value.pos, field, 'must be true or false');
      return { k: 'sudo', v: value.value };
    case 'flags_any': {
      const list = stringList(value, ctx, field);
      return list ? { k: 'flags_any', set: new Set(list) } : undefined;
    }
    case 'flags_all': {
      if (value.kind !== 'seq' || value.items.length === 0)
        return err(ctx, value.pos, field, 'flags_all takes a list of flag lists, e.g. [[-r, -R], [-f]]');
      const groups: Set<string>[] = [];
      let ok = true;
      value.items.forEach((item, i) => {
        const list =
          item.kind === 'scalar'
            ? typeof item.value === 'string'
              ? [item.value]
              : undefined
            : stringList(item, ctx, `${field}[${i}]`);
        if (!list) {
          ok = false;
          if (item.kind === 'scalar')
            err(ctx, item.pos, `${field}[${i}]`, 'must be a flag or a list of flags');
        } else groups.push(new Set(list));
      });
      return ok ? { k: 'flags_all', groups } : undefined;
    }
    case 'operand_path':
    case 'redirect_to': {
      const m = parsePathMatch(value, ctx, field, PATH_KEYS);
      return m ? { k: key, m: m.match } : undefined;
    }
    case 'path': {
      const m = parsePathMatch(value, ctx, field, [...PATH_KEYS, 'access']);
      if (!m) return undefined;
      const out: Condition = { k: 'path', m: m.match };
      if (m.access) out.access = m.access;
      return out;
    }
    case 'url':
      return parseUrl(value, ctx, field);
    default: {
      const hint = didYouMean(key, CONDITION_KEYS);
      return err(
        ctx,
        keyPos,
        field,
        `unknown condition "${key}"${hint ? ` (did you mean "${hint}"?)` : ''}`,
        'E_SCHEMA_UNKNOWN_FIELD',
      );
    }
  }
}

function stringList(node: PNode, ctx: Ctx, field: string): string[] | undefined {
  if (node.kind === 'scalar' && typeof node.value === 'string' && node.value.length > 0) return [node.value];
  if (node.kind !== 'seq' || node.items.length === 0)
    return err(ctx, node.pos, field, 'must be a non-empty list of strings');
  const out: string[] = [];
  for (const item of node.items) {
    if (
      item.kind !== 'scalar' ||
      item.value === null ||
      item.text.length === 0 ||
      typeof item.value === 'boolean'
    ) {
      return err(ctx, item.pos, field, 'must be a non-empty list of strings');
    }
    out.push(item.text);
  }
  return out;
}

function globSet(list: string[], kind: 'path' | 'name', node: PNode, ctx: Ctx, field: string): Glob {
  for (const g of list) {
    const bad = checkGlob(g);
    if (bad) err(ctx, node.pos, field, `bad glob "${g}": ${bad}`);
  }
  return compileGlobSet(list, kind);
}

function parsePathMatch(
  node: PNode,
  ctx: Ctx,
  field: string,
  keys: readonly string[],
): { match: PathMatch; access?: Set<Access> } | undefined {
  if (node.kind !== 'map' || node.entries.length === 0)
    return err(ctx, node.pos, field, `must be a mapping with ${keys.join(' / ')}`);
  const match: PathMatch = {};
  let access: Set<Access> | undefined;
  let ok = true;
  for (const { key, keyPos, value } of node.entries) {
    if (!keys.includes(key)) {
      const hint = didYouMean(key, keys);
      err(
        ctx,
        keyPos,
        `${field}.${key}`,
        `unknown field "${key}"${hint ? ` (did you mean "${hint}"?)` : ''}`,
        'E_SCHEMA_UNKNOWN_FIELD',
      );
      ok = false;
      continue;
    }
    const list = stringList(value, ctx, `${field}.${key}`);
    if (!list) {
      ok = false;
      continue;
    }
    if (key === 'access') {
      for (const a of list) {
        if (!(ACCESSES as readonly string[]).includes(a)) {
          err(ctx, value.pos, `${field}.access`, `access must be one of ${ACCESSES.join(', ')}`, 'E_ENUM');
          ok = false;
        }
      }
      access = new Set(list as Access[]);
    } else if (key === 'under') {
      const dirs = list.map((s) => s.replace(/\/+$/, '') || '/');
      const literal = dirs.filter((d) => !/[*?[{\\]/.test(d));
      const globbed = dirs.filter((d) => /[*?[{\\]/.test(d));
      match.under = {
        literals: literal,
        ...(globbed.length > 0 ? { globs: globSet(globbed, 'path', value, ctx, `${field}.${key}`) } : {}),
      };
    } else {
      match[key as 'equals' | 'basename'] = globSet(list, 'path', value, ctx, `${field}.${key}`);
    }
  }
  if (!ok) return undefined;
  if (!match.equals && !match.under && !match.basename && !access)
    return err(ctx, node.pos, field, 'needs at least one key');
  return access ? { match, access } : { match };
}

function parseUrl(node: PNode, ctx: Ctx, field: string): Condition | undefined {
  if (node.kind !== 'map' || node.entries.length === 0)
    return err(ctx, node.pos, field, `must be a mapping with ${URL_KEYS.join(' / ')}`);
  const out: Extract<Condition, { k: 'url' }> = { k: 'url' };
  let ok = true;
  for (const { key, keyPos, value } of node.entries) {
    const f = `${field}.${key}`;
    if (!(URL_KEYS as readonly string[]).includes(key)) {
      const hint = didYouMean(key, URL_KEYS);
      err(
        ctx,
        keyPos,
        f,
        `unknown field "${key}"${hint ? ` (did you mean "${hint}"?)` : ''}`,
        'E_SCHEMA_UNKNOWN_FIELD',
      );
      ok = false;
      continue;
    }
    if (key === 'port') {
      const items = value.kind === 'seq' ? value.items : [value];
      const ports = new Set<number>();
      for (const item of items) {
        if (
          item.kind !== 'scalar' ||
          typeof item.value !== 'number' ||
          !Number.isInteger(item.value) ||
          item.value < 0 ||
          item.value > 65535
        ) {
          err(ctx, item.pos, f, 'ports are integers 0–65535');
          ok = false;
        } else ports.add(item.value);
      }
      out.port = ports;
      continue;
    }
    const list = stringList(value, ctx, f);
    if (!list) {
      ok = false;
      continue;
    }
    if (key === 'host_in')
      out.hostIn = globSet(
        list.map((s) => s.toLowerCase()),
        'name',
        value,
        ctx,
        f,
      );
    else if (key === 'host_suffix') out.hostSuffix = list.map((s) => s.toLowerCase().replace(/^\.+/, ''));
    else {
      for (const c of list) {
        if (!(IP_CLASSES as readonly string[]).includes(c)) {
          err(ctx, value.pos, f, `ip_class must be one of ${IP_CLASSES.join(', ')}`, 'E_ENUM');
          ok = false;
        }
      }
      out.ipClass = new Set(list as IpClass[]);
    }
  }
  return ok ? out : undefined;
}

/** Returns what facts a condition tree reads (used to skip work and to pick example harnesses). */
export function conditionNeeds(
  c: Condition,
  out: ConditionNeeds = { commands: false, paths: false, urls: false, access: new Set() },
): ConditionNeeds {
  switch (c.k) {
    case 'all':
    case 'any':
      for (const s of c.c) conditionNeeds(s, out);
      break;
    case 'not':
      conditionNeeds(c.c, out);
      break;
    case 'path':
      out.paths = true;
      if (c.access) for (const a of c.access) out.access.add(a);
      break;
    case 'url':
      out.urls = true;
      break;
    default:
      out.commands = true;
  }
  return out;
}

// --- evaluation ---

/** Facts a condition tree is evaluated over (a command target, or one path/url fact). */
export type FactsView = {
  commands: readonly SimpleCommand[];
  paths: readonly PathFact[];
  urls: readonly UrlFact[];
};

/**
 * Returns a glob every satisfying command's program must match, when the tree can only hold through a command with
 * one of these programs (`program:` under `all`, or under every branch of an `any`); otherwise undefined.
 */
export function programGate(c: Condition): Glob | undefined {
  const names = gateNames(c);
  return names ? memoGlob(compileGlobSet(names, 'name')) : undefined;
}

function gateNames(c: Condition): string[] | undefined {
  switch (c.k) {
    case 'program':
      return c.names;
    case 'all':
      for (const s of c.c) {
        const g = gateNames(s);
        if (g) return g;
      }
      return undefined;
    case 'any': {
      const out: string[] = [];
      for (const s of c.c) {
        const g = gateNames(s);
        if (!g) return undefined;
        out.push(...g);
      }
      return out;
    }
    default:
      return undefined;
  }
}

/** Whether a tree reads the simple command (any predicate but `path`/`url`). */
function readsCommand(c: Condition): boolean {
  switch (c.k) {
    case 'all':
    case 'any':
      return c.c.some(readsCommand);
    case 'not':
      return readsCommand(c.c);
    case 'path':
    case 'url':
      return false;
    default:
      return true;
  }
}

/**
 * Returns the conjuncts of a tree (children of the root `all`, through nested `all`s) that do not read the simple
 * command: they hold or fail for the whole target, so they are evaluated once, before the per-command passes.
 */
export function targetWideConjuncts(c: Condition, out: Condition[] = []): Condition[] {
  if (!readsCommand(c)) {
    out.push(c);
    return out;
  }
  if (c.k !== 'all') return out;
  for (const s of c.c) {
    if (!readsCommand(s)) out.push(s);
    else if (s.k === 'all') targetWideConjuncts(s, out);
  }
  return out;
}

// Distinct programs of a command target → their command indices (computed once per facts object).
const programIndexCache = new WeakMap<object, Map<string, number[]>>();

function programIndex(facts: FactsView): Map<string, number[]> {
  let idx = programIndexCache.get(facts);
  if (!idx) {
    idx = new Map();
    facts.commands.forEach((cmd, i) => {
      const list = idx!.get(cmd.program);
      if (list) list.push(i);
      else idx!.set(cmd.program, [i]);
    });
    programIndexCache.set(facts, idx);
  }
  return idx;
}

/** Returns the index of the first simple command for which the tree holds (-1 for a command-less hold), or undefined. */
export function evaluateConditions(
  cond: Condition,
  facts: FactsView,
  skipCommand?: (index: number) => boolean,
  gate?: Glob,
  targetWide?: readonly Condition[],
): number | undefined {
  // Target-wide predicates (path, url) do not depend on the command: memoised across the per-command passes.
  const memo = new Map<Condition, boolean>();
  if (targetWide) for (const c of targetWide) if (!evalNode(c, undefined, facts, memo)) return undefined;
  if (gate && facts.commands.length > 0) {
    // Only commands whose program passes the gate can satisfy the tree.
    const candidates: number[] = [];
    for (const [program, indices] of programIndex(facts)) if (gate.test(program)) candidates.push(...indices);
    if (candidates.length === 0) return undefined;
    candidates.sort((a, b) => a - b);
    for (const i of candidates) {
      if (skipCommand?.(i)) continue;
      if (evalNode(cond, facts.commands[i], facts, memo)) return i;
    }
    return undefined;
  }
  if (facts.commands.length === 0) return evalNode(cond, undefined, facts, memo) ? -1 : undefined;
  let any = false;
  for (let i = 0; i < facts.commands.length; i++) {
    if (skipCommand?.(i)) {
      any = true;
      continue;
    }
    if (evalNode(cond, facts.commands[i], facts, memo)) return i;
  }
  // Every command was skipped (list-allowed): nothing to judge.
  if (any) return undefined;
  return undefined;
}

/** Wraps command facts as a `FactsView`. */
export function factsView(facts: CommandFacts): FactsView {
  return facts;
}

function evalNode(
  c: Condition,
  cmd: SimpleCommand | undefined,
  facts: FactsView,
  memo: Map<Condition, boolean>,
): boolean {
  switch (c.k) {
    case 'all':
      for (const s of c.c) if (!evalNode(s, cmd, facts, memo)) return false;
      return true;
    case 'any':
      for (const s of c.c) if (evalNode(s, cmd, facts, memo)) return true;
      return false;
    case 'not':
      return !evalNode(c.c, cmd, facts, memo);
    case 'program':
      return cmd !== undefined && c.g.test(cmd.program);
    case 'sudo':
      return cmd !== undefined && cmd.sudo === c.v;
    case 'flags_any':
      if (!cmd) return false;
      for (const f of c.set) if (cmd.flags.has(f)) return true;
      return false;
    case 'flags_all':
      if (!cmd) return false;
      outer: for (const group of c.groups) {
        for (const f of group) if (cmd.flags.has(f)) continue outer;
        return false;
      }
      return true;
    case 'args_any':
      if (!cmd) return false;
      for (const a of cmd.args) if (c.g.test(a)) return true;
      return false;
    case 'operand_path':
      if (!cmd) return false;
      for (const op of cmd.operands)
        if (matchPath(c.m, op, cmd.dynamicOperands && isDynamic(op))) return true;
      return false;
    case 'redirect_to':
      if (!cmd) return false;
      for (const r of cmd.redirects)
        if (r.op.includes('>') && matchPath(c.m, r.target, isDynamic(r.target))) return true;
      return false;
    case 'pipes_to':
      return cmd !== undefined && someGlob(c.g, cmd.pipesTo);
    case 'pipes_from':
      return cmd !== undefined && someGlob(c.g, cmd.pipesFrom);
    case 'executes_substitution_of':
      return cmd !== undefined && someGlob(c.g, cmd.executesSubstitutionOf);
    case 'path': {
      const known = memo.get(c);
      if (known !== undefined) return known;
      let hit = false;
      for (const p of facts.paths) {
        if (c.access && !c.access.has(p.access)) continue;
        if (matchPath(c.m, p.path, p.dynamic)) {
          hit = true;
          break;
        }
      }
      memo.set(c, hit);
      return hit;
    }
    case 'url': {
      const known = memo.get(c);
      if (known !== undefined) return known;
      let hit = false;
      for (const u of facts.urls) {
        if (matchUrl(c, u)) {
          hit = true;
          break;
        }
      }
      memo.set(c, hit);
      return hit;
    }
  }
}

function isDynamic(value: string): boolean {
  return value.includes('$') || value.includes('`');
}

function someGlob(g: Glob, values: readonly string[]): boolean {
  for (const v of values) if (g.test(v)) return true;
  return false;
}

function matchPath(m: PathMatch, path: string, dynamic: boolean): boolean {
  if (m.equals && (dynamic || !m.equals.test(path))) return false;
  if (m.under && !isUnder(m.under, path)) return false;
  if (m.basename) {
    const trimmed = path.length > 1 ? path.replace(/\/+$/, '') : path;
    const base = trimmed.slice(trimmed.lastIndexOf('/') + 1);
    if (!m.basename.test(base)) return false;
  }
  return true;
}

function isUnder(u: UnderMatch, path: string): boolean {
  for (const d of u.literals) {
    if (d === '/') {
      if (path.startsWith('/')) return true;
    } else if (path === d || (path.startsWith(d) && path.charCodeAt(d.length) === 47)) return true;
  }
  return u.globs !== undefined && isUnderGlob(u.globs, path);
}

function isUnderGlob(g: Glob, path: string): boolean {
  // True when the path itself or one of its ancestors matches the directory glob.
  let p = path.length > 1 ? path.replace(/\/+$/, '') : path;
  for (let guard = 0; guard < 256; guard++) {
    if (g.test(p)) return true;
    const slash = p.lastIndexOf('/');
    if (slash < 0) return false;
    if (slash === 0) return p !== '/' && g.test('/');
    p = p.slice(0, slash);
  }
  return false;
}

function matchUrl(c: Extract<Condition, { k: 'url' }>, u: UrlFact): boolean {
  const host = u.host.toLowerCase();
  if (c.hostIn && !c.hostIn.test(host)) return false;
  if (c.hostSuffix && !c.hostSuffix.some((s) => host === s || host.endsWith(`.${s}`))) return false;
  if (c.ipClass && (u.ipClass === undefined || !c.ipClass.has(u.ipClass))) return false;
  if (c.port) {
    const port = u.port ?? defaultPort(u.scheme);
    if (port === undefined || !c.port.has(port)) return false;
  }
  return true;
}

function defaultPort(scheme: string | undefined): number | undefined {
  switch (scheme?.toLowerCase()) {
    case 'http':
    case 'ws':
      return 80;
    case 'https':
    case 'wss':
      return 443;
    default:
      return undefined;
  }
}
