// The rule-pack schema (spec 30 §A4), checked over the positioned YAML tree so every issue has file:line:col.
import { checkGlob } from './_glob.ts';
import { didYouMean, type IssueSink, type PNode, type Pos } from './_pnode.ts';
import { type Condition, parseConditions } from './conditions.ts';
import { ACTIONS, type Action, SEVERITIES, type Severity, TARGETS, type Target } from './types.ts';

/** Keys of the top level of a pack file. */
export const PACK_FILE_KEYS = ['pack', 'rules'] as const;
/** Keys of the `pack:` header. */
export const PACK_HEADER_KEYS = ['name', 'version', 'description'] as const;
/** Keys of a rule. */
export const RULE_KEYS = [
  'id',
  'title',
  'category',
  'severity',
  'severity_by_target',
  'targets',
  'tools',
  'prefilter',
  'patterns',
  'exclude_patterns',
  'conditions',
  'validators',
  'min_matches',
  'action',
  'detection_only',
  'enabled',
  'tags',
  'references',
  'description',
  'examples',
] as const;
/** Keys of `examples:`. */
export const EXAMPLE_KEYS = ['match', 'no_match'] as const;
/** Keys of an object-form example. */
export const EXAMPLE_ENTRY_KEYS = ['text', 'target', 'tool'] as const;

/** Rule id shape. */
export const RULE_ID_RE = /^[A-Z][A-Z0-9]*(-[A-Z0-9]+)+$/;
const PACK_NAME_RE = /^[a-z0-9-]{1,64}$/;
const SEMVER_RE =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/;
const CATEGORY_RE = /^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$/;

/** A source string with its position. */
export type Located<T> = { value: T; pos: Pos };

/** One example entry. */
export type RawExample = { text: string; target?: Target; tool?: string; pos: Pos };

/** A rule as read from YAML (validated shapes; regexes and validators not compiled yet). */
export type RawRule = {
  id: string;
  pos: Pos;
  file: string;
  bundled: boolean;
  pack: string;
  title: string;
  category: string;
  severity: Severity;
  severityByTarget: Partial<Record<Target, Severity>>;
  targets: Target[];
  tools?: string[];
  prefilter?: Located<string>[];
  prefilterPos?: Pos;
  patterns: Located<string>[];
  excludePatterns: Located<string>[];
  conditions?: Condition;
  validators: Located<string>[];
  minMatches: number;
  action?: Action;
  detectionOnly: boolean;
  enabled: boolean;
  tags: string[];
  references: string[];
  description?: string;
  examples: { match: RawExample[]; noMatch: RawExample[]; pos?: Pos };
  /** False when a field failed validation (the rule still counts for duplicate-id checks). */
  valid: boolean;
};

/** A pack as read from YAML. */
export type RawPack = {
  file: string;
  bundled: boolean;
  name: string;
  version: string;
  description?: string;
  rules: RawRule[];
};

type Ctx = { file: string; sink: IssueSink; ruleId?: string };

function issue(
  ctx: Ctx,
  code: Parameters<IssueSink['add']>[0],
  pos: Pos,
  field: string | undefined,
  text: string,
): void {
  ctx.sink.add(
    code,
    { file: ctx.file, pos, ...(ctx.ruleId ? { ruleId: ctx.ruleId } : {}), ...(field ? { field } : {}) },
    text,
  );
}

function unknownKey(ctx: Ctx, key: string, pos: Pos, allowed: readonly string[]): void {
  const hint = didYouMean(key, allowed);
  issue(
    ctx,
    'E_SCHEMA_UNKNOWN_FIELD',
    pos,
    undefined,
    `unknown field "${key}"${hint ? ` (did you mean "${hint}"?)` : ''}`,
  );
}

function asString(
  ctx: Ctx,
  node: PNode,
  field: string,
  opts: { max?: number; allowEmpty?: boolean } = {},
): string | undefined {
  if (node.kind !== 'scalar' || node.value === null || typeof node.value === 'boolean') {
    issue(ctx, 'E_SCHEMA_TYPE', node.pos, field, 'must be a string');
    return undefined;
  }
  const s = node.text;
  if (!opts.allowEmpty && s.length === 0) {
    issue(ctx, 'E_SCHEMA_TYPE', node.pos, field, 'must not be empty');
    return undefined;
  }
  if (opts.max !== undefined && s.length > opts.max) {
    issue(
      ctx,
      opts.max >= 2048 ? 'E_LIMIT' : 'E_SCHEMA_TYPE',
      node.pos,
      field,
      `is ${s.length} chars; the limit is ${opts.max}`,
    );
    return undefined;
  }
  return s;
}

function asStringList(
  ctx: Ctx,
  node: PNode,
  field: string,
  opts: { max?: number; maxItems?: number; nonEmpty?: boolean } = {},
): Located<string>[] | undefined {
  if (node.kind !== 'seq') {
    issue(ctx, 'E_SCHEMA_TYPE', node.pos, field, 'must be a list of strings');
    return undefined;
  }
  if (opts.nonEmpty && node.items.length === 0) {
    issue(ctx, 'E_SCHEMA_TYPE', node.pos, field, 'must not be empty');
    return undefined;
  }
  if (opts.maxItems !== undefined && node.items.length > opts.maxItems) {
    issue(ctx, 'E_LIMIT', node.pos, field, `has ${node.items.length} entries; the limit is ${opts.maxItems}`);
    return undefined;
  }
  const out: Located<string>[] = [];
  let ok = true;
  node.items.forEach((item, i) => {
    const s = asString(ctx, item, `${field}[${i}]`, opts.max !== undefined ? { max: opts.max } : {});
    if (s === undefined) ok = false;
    else out.push({ value: s, pos: item.pos });
  });
  return ok ? out : undefined;
}

function asBool(ctx: Ctx, node: PNode, field: string): boolean | undefined {
  if (node.kind !== 'scalar' || typeof node.value !== 'boolean') {
    issue(ctx, 'E_SCHEMA_TYPE', node.pos, field, 'must be true or false');
    return undefined;
  }
  return node.value;
}

function asEnum<T extends string>(ctx: Ctx, node: PNode, field: string, values: readonly T[]): T | undefined {
  if (
    node.kind !== 'scalar' ||
    typeof node.value !== 'string' ||
    !(values as readonly string[]).includes(node.value)
  ) {
    issue(ctx, 'E_ENUM', node.pos, field, `must be one of ${values.join(', ')}`);
    return undefined;
  }
  return node.value as T;
}

/** Validates a pack file's tree into a `RawPack`, reporting every problem. */
export function readPackTree(
  root: PNode,
  file: string,
  bundled: boolean,
  sink: IssueSink,
): RawPack | undefined {
  const ctx: Ctx = { file, sink };
  if (root.kind !== 'map') {
    issue(ctx, 'E_SCHEMA_TYPE', root.pos, undefined, 'a pack file is a mapping with `pack` and `rules`');
    return undefined;
  }
  let header: { name: string; version: string; description?: string } | undefined;
  let rulesNode: PNode | undefined;
  for (const { key, keyPos, value } of root.entries) {
    if (key === 'pack') header = readHeader(ctx, value);
    else if (key === 'rules') rulesNode = value;
    else unknownKey(ctx, key, keyPos, PACK_FILE_KEYS);
  }
  if (!root.entries.some((e) => e.key === 'pack'))
    issue(ctx, 'E_SCHEMA_TYPE', root.pos, undefined, 'missing `pack` header');
  if (!rulesNode) {
    issue(ctx, 'E_SCHEMA_TYPE', root.pos, undefined, 'missing `rules` list');
    return undefined;
  }
  const pack: RawPack = {
    file,
    bundled,
    name: header?.name ?? '',
    version: header?.version ?? '',
    rules: [],
  };
  if (header?.description !== undefined) pack.description = header.description;
  if (rulesNode.kind === 'scalar' && rulesNode.value === null) return pack;
  if (rulesNode.kind !== 'seq') {
    issue(ctx, 'E_SCHEMA_TYPE', rulesNode.pos, 'rules', 'must be a list of rules');
    return pack;
  }
  for (const item of rulesNode.items) {
    const rule = readRule({ file, sink }, item, bundled, pack.name);
    if (rule) pack.rules.push(rule);
  }
  return header ? pack : undefined;
}

function readHeader(
  ctx: Ctx,
  node: PNode,
): { name: string; version: string; description?: string } | undefined {
  if (node.kind !== 'map') {
    issue(ctx, 'E_SCHEMA_TYPE', node.pos, 'pack', 'must be a mapping with name, version, description');
    return undefined;
  }
  let name: string | undefined;
  let version: string | undefined;
  let description: string | undefined;
  for (const { key, keyPos, value } of node.entries) {
    if (key === 'name') {
      name = asString(ctx, value, 'pack.name');
      if (name !== undefined && !PACK_NAME_RE.test(name)) {
        issue(ctx, 'E_SCHEMA_TYPE', value.pos, 'pack.name', 'must match [a-z0-9-]{1,64}');
        name = undefined;
      }
    } else if (key === 'version') {
      version = value.kind === 'scalar' ? value.text : undefined;
      if (version === undefined || !SEMVER_RE.test(version)) {
        issue(
          ctx,
          'E_SCHEMA_TYPE',
          value.pos,
          'pack.version',
          'must be a semver string such as 1.0.0 (quote it)',
        );
        version = undefined;
      }
    } else if (key === 'description') {
      description = asString(ctx, value, 'pack.description', { allowEmpty: true });
    } else unknownKey(ctx, key, keyPos, PACK_HEADER_KEYS);
  }
  if (name === undefined || version === undefined) {
    if (!node.entries.some((e) => e.key === 'name'))
      issue(ctx, 'E_SCHEMA_TYPE', node.pos, 'pack', 'missing name');
    if (!node.entries.some((e) => e.key === 'version'))
      issue(ctx, 'E_SCHEMA_TYPE', node.pos, 'pack', 'missing version');
    return undefined;
  }
  return description !== undefined ? { name, version, description } : { name, version };
}

function readRule(ctx: Ctx, node: PNode, bundled: boolean, pack: string): RawRule | undefined {
  if (node.kind !== 'map') {
    issue(ctx, 'E_SCHEMA_TYPE', node.pos, undefined, 'a rule is a mapping');
    return undefined;
  }
  const idEntry = node.entries.find((e) => e.key === 'id');
  let id: string | undefined;
  if (!idEntry) {
    issue(ctx, 'E_SCHEMA_TYPE', node.pos, undefined, 'rule without `id`');
  } else {
    id = asString(ctx, idEntry.value, 'id');
    if (id !== undefined && (!RULE_ID_RE.test(id) || id.length > 64)) {
      issue(
        ctx,
        'E_SCHEMA_TYPE',
        idEntry.value.pos,
        'id',
        `"${id.slice(0, 80)}" must match ^[A-Z][A-Z0-9]*(-[A-Z0-9]+)+$ and be ≤ 64 chars`,
      );
      id = undefined;
    }
  }
  const rctx: Ctx = { ...ctx, ...(id ? { ruleId: id } : {}) };
  let valid = id !== undefined;
  const rule: RawRule = {
    id: id ?? '',
    pos: node.pos,
    file: ctx.file,
    bundled,
    pack,
    title: '',
    category: '',
    severity: 'info',
    severityByTarget: {},
    targets: [],
    patterns: [],
    excludePatterns: [],
    validators: [],
    minMatches: 1,
    detectionOnly: false,
    enabled: true,
    tags: [],
    references: [],
    examples: { match: [], noMatch: [] },
    valid: false,
  };
  const seen = new Set<string>();
  const fail = () => {
    valid = false;
  };
  for (const { key, keyPos, value } of node.entries) {
    seen.add(key);
    switch (key) {
      case 'id':
        break;
      case 'title': {
        const s = asString(rctx, value, 'title', { max: 120 });
        if (s === undefined) fail();
        else if (/[\r\n]/.test(s)) {
          issue(rctx, 'E_SCHEMA_TYPE', value.pos, 'title', 'must be one line');
          fail();
        } else rule.title = s;
        break;
      }
      case 'category': {
        const s = asString(rctx, value, 'category', { max: 64 });
        if (s === undefined || !CATEGORY_RE.test(s)) {
          if (s !== undefined) issue(rctx, 'E_SCHEMA_TYPE', value.pos, 'category', 'must be snake_case');
          fail();
        } else rule.category = s;
        break;
      }
      case 'severity': {
        const s = asEnum(rctx, value, 'severity', SEVERITIES);
        if (s === undefined) fail();
        else rule.severity = s;
        break;
      }
      case 'severity_by_target': {
        if (value.kind !== 'map') {
          issue(
            rctx,
            'E_SCHEMA_TYPE',
            value.pos,
            'severity_by_target',
            'must be a mapping of target: severity',
          );
          fail();
          break;
        }
        for (const e of value.entries) {
          if (!(TARGETS as readonly string[]).includes(e.key)) {
            issue(
              rctx,
              'E_ENUM',
              e.keyPos,
              `severity_by_target.${e.key}`,
              `target must be one of ${TARGETS.join(', ')}`,
            );
            fail();
            continue;
          }
          const s = asEnum(rctx, e.value, `severity_by_target.${e.key}`, SEVERITIES);
          if (s === undefined) fail();
          else rule.severityByTarget[e.key as Target] = s;
        }
        break;
      }
      case 'targets': {
        const list = asStringList(rctx, value, 'targets', { nonEmpty: true });
        if (!list) {
          fail();
          break;
        }
        for (const t of list) {
          if (!(TARGETS as readonly string[]).includes(t.value)) {
            issue(
              rctx,
              'E_ENUM',
              t.pos,
              'targets',
              `"${t.value}" is not a target; use ${TARGETS.join(', ')}`,
            );
            fail();
          } else if (!rule.targets.includes(t.value as Target)) rule.targets.push(t.value as Target);
        }
        break;
      }
      case 'tools': {
        const list = asStringList(rctx, value, 'tools', { nonEmpty: true, maxItems: 256 });
        if (!list) {
          fail();
          break;
        }
        for (const t of list) {
          const bad = checkGlob(t.value);
          if (bad) {
            issue(rctx, 'E_SCHEMA_TYPE', t.pos, 'tools', `bad glob "${t.value}": ${bad}`);
            fail();
          }
        }
        rule.tools = list.map((t) => t.value);
        break;
      }
      case 'prefilter': {
        const list = asStringList(rctx, value, 'prefilter', { nonEmpty: true, max: 128, maxItems: 256 });
        if (!list) {
          fail();
          break;
        }
        rule.prefilter = list;
        rule.prefilterPos = value.pos;
        break;
      }
      case 'patterns':
      case 'exclude_patterns': {
        const list = asStringList(rctx, value, key, { max: 2048, maxItems: 64 });
        if (!list) fail();
        else if (key === 'patterns') rule.patterns = list;
        else rule.excludePatterns = list;
        break;
      }
      case 'conditions': {
        const cond = parseConditions(value, ctx.file, id ?? '?', ctx.sink);
        if (!cond) fail();
        else rule.conditions = cond;
        break;
      }
      case 'validators': {
        const list = asStringList(rctx, value, 'validators', { maxItems: 16 });
        if (!list) fail();
        else rule.validators = list;
        break;
      }
      case 'min_matches': {
        if (
          value.kind !== 'scalar' ||
          typeof value.value !== 'number' ||
          !Number.isInteger(value.value) ||
          value.value < 1 ||
          value.value > 1000
        ) {
          issue(rctx, 'E_SCHEMA_TYPE', value.pos, 'min_matches', 'must be an integer 1–1000');
          fail();
        } else rule.minMatches = value.value;
        break;
      }
      case 'action': {
        const a = asEnum(rctx, value, 'action', ACTIONS);
        if (a === undefined) fail();
        else rule.action = a;
        break;
      }
      case 'detection_only':
      case 'enabled': {
        const b = asBool(rctx, value, key);
        if (b === undefined) fail();
        else if (key === 'enabled') rule.enabled = b;
        else rule.detectionOnly = b;
        break;
      }
      case 'tags': {
        const list = asStringList(rctx, value, 'tags', { max: 128, maxItems: 64 });
        if (!list) fail();
        else rule.tags = list.map((t) => t.value);
        break;
      }
      case 'references': {
        const list = asStringList(rctx, value, 'references', { max: 2048, maxItems: 64 });
        if (!list) {
          fail();
          break;
        }
        for (const r of list) {
          if (!/^https?:\/\/\S+$/.test(r.value)) {
            issue(rctx, 'E_SCHEMA_TYPE', r.pos, 'references', 'references are http(s) URLs');
            fail();
          }
        }
        rule.references = list.map((r) => r.value);
        break;
      }
      case 'description': {
        const s = asString(rctx, value, 'description', { allowEmpty: true, max: 4096 });
        if (s === undefined) fail();
        else rule.description = s;
        break;
      }
      case 'examples':
        if (!readExamples(rctx, value, rule)) fail();
        break;
      default:
        unknownKey(rctx, key, keyPos, RULE_KEYS);
        fail();
    }
  }
  for (const req of ['title', 'category', 'severity', 'targets'] as const) {
    if (!seen.has(req)) {
      issue(rctx, 'E_SCHEMA_TYPE', node.pos, undefined, `missing required field "${req}"`);
      fail();
    }
  }
  if (!seen.has('patterns') && !seen.has('conditions')) {
    issue(rctx, 'E_SCHEMA_TYPE', node.pos, undefined, 'needs `patterns`, `conditions`, or both');
    fail();
  } else if (seen.has('patterns') && rule.patterns.length === 0 && !seen.has('conditions')) {
    issue(rctx, 'E_SCHEMA_TYPE', node.pos, 'patterns', 'must not be empty without `conditions`');
    fail();
  }
  if (
    rule.conditions &&
    rule.targets.length > 0 &&
    !rule.targets.some((t) => t === 'command' || t === 'path' || t === 'url')
  ) {
    issue(rctx, 'E_SCHEMA_TYPE', node.pos, 'conditions', 'conditions need a command, path or url target');
    fail();
  }
  if (bundled && rule.patterns.length > 0 && !rule.prefilter) {
    issue(rctx, 'E_SCHEMA_TYPE', node.pos, 'prefilter', 'bundled rules with patterns need a prefilter');
    fail();
  }
  rule.valid = valid;
  return id ? rule : undefined;
}

function readExamples(ctx: Ctx, node: PNode, rule: RawRule): boolean {
  if (node.kind !== 'map') {
    issue(ctx, 'E_SCHEMA_TYPE', node.pos, 'examples', 'must be a mapping with match / no_match');
    return false;
  }
  rule.examples.pos = node.pos;
  let ok = true;
  for (const { key, keyPos, value } of node.entries) {
    if (key !== 'match' && key !== 'no_match') {
      unknownKey(ctx, key, keyPos, EXAMPLE_KEYS);
      ok = false;
      continue;
    }
    const field = `examples.${key}`;
    if (value.kind !== 'seq') {
      issue(ctx, 'E_SCHEMA_TYPE', value.pos, field, 'must be a list');
      ok = false;
      continue;
    }
    if (value.items.length > 256) {
      issue(ctx, 'E_LIMIT', value.pos, field, 'more than 256 examples');
      ok = false;
      continue;
    }
    const out = key === 'match' ? rule.examples.match : rule.examples.noMatch;
    value.items.forEach((item, i) => {
      const f = `${field}[${i}]`;
      if (item.kind === 'scalar') {
        const s = asString(ctx, item, f, { max: 65536 });
        if (s === undefined) ok = false;
        else out.push({ text: s, pos: item.pos });
        return;
      }
      if (item.kind !== 'map') {
        issue(ctx, 'E_SCHEMA_TYPE', item.pos, f, 'must be a string or {text, target?, tool?}');
        ok = false;
        return;
      }
      const ex: RawExample = { text: '', pos: item.pos };
      let hasText = false;
      for (const e of item.entries) {
        if (e.key === 'text') {
          const s = asString(ctx, e.value, `${f}.text`, { max: 65536 });
          if (s === undefined) ok = false;
          else {
            ex.text = s;
            hasText = true;
          }
        } else if (e.key === 'target') {
          const t = asEnum(ctx, e.value, `${f}.target`, TARGETS);
          if (t === undefined) ok = false;
          else ex.target = t;
        } else if (e.key === 'tool') {
          const s = asString(ctx, e.value, `${f}.tool`, { max: 256 });
          if (s === undefined) ok = false;
          else ex.tool = s;
        } else {
          unknownKey(ctx, e.key, e.keyPos, EXAMPLE_ENTRY_KEYS);
          ok = false;
        }
      }
      if (!hasText) {
        issue(ctx, 'E_SCHEMA_TYPE', item.pos, f, 'missing text');
        ok = false;
      } else out.push(ex);
    });
  }
  return ok;
}
