// Stage 2 of `parseCommand`: walks the syntax tree, expands words, unwraps wrappers (sudo, env, bash -c, eval,
// ssh, xargs …), and emits simple commands, pipe edges, path facts and URL facts.
import { hostFact } from '../net.ts';
import type { Arg, SubRef } from './_arg.ts';
import { homeNorm, literalArg } from './_arg.ts';
import type { Cmd, Part, Pipeline, Redir, Script, Sub, Word } from './_ast.ts';
import { programFacts } from './_facts.ts';
import { collapseWhitespace, HOME, normalisePath, normaliseProgram } from './_normalise.ts';
import { OPTION_SPECS, parseOptions } from './_options.ts';
import { ParseAbort, parseScriptText } from './_parser.ts';
import type { Access, PathFact, Redirect, SimpleCommand, UrlFact } from './types.ts';

/** Maximum nesting depth of parsed substitutions / inner scripts (spec 30 §A5.9). */
export const MAX_DEPTH = 4;
/** Maximum simple commands per parse. */
export const MAX_COMMANDS = 256;
/** Maximum argv items per simple command. */
export const MAX_ARGV = 256;

/** What a command inherits from its wrappers: nesting depth, sudo and ssh. */
export type Ctx = { depth: number; sudo: boolean; remote: boolean };

/** A redirect after expansion. */
export type ExpRedir = { op: string; fd?: number; arg?: Arg; heredoc?: { body: string; subs: SubRef[] } };

type Rec = { cmd: SimpleCommand; via: string[] };

const PRIV_WRAPPERS = new Set(['sudo', 'doas', 'pkexec', 'run0']);
const TRANSPARENT = new Set([
  'nohup',
  'setsid',
  'time',
  'command',
  'exec',
  'builtin',
  'stdbuf',
  'nice',
  'ionice',
  'timeout',
  'unbuffer',
  'torsocks',
  'proxychains',
  'proxychains4',
  'busybox',
  'chronic',
]);
const RECORDED_WRAPPERS = new Set(['chroot', 'nsenter', 'unshare']);
/** Unquoted glob characters in literal text. */
const _GLOB = /[*?]|\[[^\]]+\]/;
const ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*(\[[^\]]*\])?\+?=/;

const _ACCESS_INDEX: Readonly<Record<Access, number>> = {
  read: 0,
  write: 1,
  delete: 2,
  exec: 3,
  meta: 4,
  unknown: 5,
};
const _SOURCE_INDEX: Readonly<Record<PathFact['source'], number>> = { operand: 0, redirect: 1, arg: 2 };

/** Options of a command run directly (not through a wrapper); only read. */
const _DIRECT: { via: string[]; xargsFed: boolean } = { via: [], xargsFed: false };
/** The `via` of records not reached through a wrapper; only read. */
const _NO_VIA: string[] = [];
/** The expanded redirections of a command without any; only read. */
const _NO_REDIRS: ExpRedir[] = [];
const _TOO_MANY_COMMANDS = `more than ${MAX_COMMANDS} simple commands`;

// Hot imports bound once: through a CommonJS transpile (tsx) every call via an import binding is a getter call.
const _normalisePath = normalisePath;
const _normaliseProgram = normaliseProgram;
const _collapseWhitespace = collapseWhitespace;
const _parseOptions = parseOptions;
const _specs = OPTION_SPECS;
const _programFacts = programFacts;

/** Collects everything one `parseCommand` call learns. */
export class Emitter {
  readonly recs: Rec[] = [];
  readonly edges: Array<[number, number]> = [];
  readonly paths: PathFact[] = [];
  readonly urls: UrlFact[] = [];
  readonly heredocs: string[] = [];
  partial = false;
  failed = false;
  /** Path → bit set of the (access, source) pairs already recorded for it. */
  private readonly pathKeys = new Map<string, number>();
  private readonly xargsFed = new Set<number>();
  /** Shells (and ssh) that read their script from stdin, with the context their script runs in. */
  readonly stdinShells = new Map<number, Ctx>();
  /** Script text a command writes to stdout (echo/printf args, cat/tee heredocs), for a downstream stdin shell. */
  readonly stdoutScripts = new Map<number, { texts: string[]; subs: SubRef[] }>();
  private readonly urlKeys = new Set<string>();

  readonly issues: string[];

  constructor(issues: string[]) {
    this.issues = issues;
  }

  issue(message: string): void {
    if (this.issues.length < 100 && !this.issues.includes(message)) this.issues.push(message);
  }

  // --- tree walk ---

  emitScript(script: Script, ctx: Ctx): number[] {
    const nodes: number[] = [];
    for (const item of script.items)
      for (const p of item.pipelines) for (const id of this.emitPipeline(p, ctx)) nodes.push(id);
    return nodes;
  }

  emitPipeline(p: Pipeline, ctx: Ctx): number[] {
    if (p.cmds.length === 1) return this.emitCmd(p.cmds[0]!, ctx);
    const elements = p.cmds.map((c) => this.emitCmd(c, ctx));
    for (let i = 0; i + 1 < elements.length; i++) {
      for (const a of elements[i]!) for (const b of elements[i + 1]!) this.edges.push([a, b]);
      // `echo 'x' | sh`, `cat <<EOF | bash`: what the upstream prints is the downstream shell's script.
      for (const a of elements[i]!) {
        const feed = this.stdoutScripts.get(a);
        if (!feed) continue;
        for (const b of elements[i + 1]!) {
          const shellCtx = this.stdinShells.get(b);
          if (!shellCtx) continue;
          if (feed.subs.length > 0) this.executes(b, [...new Set(feed.subs.flatMap((s) => s.programs))]);
          for (const t of feed.texts)
            this.emitScriptText(t, { ...shellCtx, depth: shellCtx.depth + 1 }, { speculative: true });
        }
      }
    }
    const nodes: number[] = [];
    for (const e of elements) for (const id of e) nodes.push(id);
    return nodes;
  }

  emitCmd(cmd: Cmd, ctx: Ctx): number[] {
    if (this.recs.length >= MAX_COMMANDS) {
      this.partial = true;
      this.issue(_TOO_MANY_COMMANDS);
      return [];
    }
    if (cmd.type === 'group') {
      for (const w of cmd.words) this.expandWord(w, ctx);
      const nodes: number[] = [];
      for (const body of cmd.bodies) nodes.push(...this.emitScript(body, ctx));
      const redirs = cmd.redirs.map((r) => this.expandRedir(r, ctx));
      this.redirectFacts(redirs);
      for (const id of nodes) this.attachRedirects(id, redirs);
      return nodes;
    }
    const words = cmd.words;
    let i = 0;
    while (i < words.length && _isAssignment(words[i]!)) this.expandWord(words[i++]!, ctx);
    const args: Arg[] = [];
    for (; i < words.length; i++) this.expandWordInto(words[i]!, ctx, args);
    let redirs = _NO_REDIRS;
    if (cmd.redirs.length > 0) {
      redirs = [];
      for (const r of cmd.redirs) redirs.push(this.expandRedir(r, ctx));
      this.redirectFacts(redirs);
    }
    if (args.length === 0) return [];
    return this.runArgs(args, redirs, ctx, _DIRECT);
  }

  // --- words ---

  expandWord(word: Word, ctx: Ctx): Arg[] {
    const out: Arg[] = [];
    this.expandWordInto(word, ctx, out);
    return out;
  }

  /** Appends the arguments `word` expands to (brace lists spread, unquoted `$IFS` splits) to `out`. */
  expandWordInto(word: Word, ctx: Ctx, out: Arg[]): void {
    const first = word.parts[0];
    if (first !== undefined && first.k === 'lit' && word.parts.length === 1) {
      // The common case: one literal part (no expansions).
      const v = first.v;
      const lit: Arg = { text: v, norm: v, dynamic: false, glob: first.q === 0 && _GLOB.test(v), subs: [] };
      _pushArg(out, lit, first.q === 0);
      return;
    }
    let cur: Arg = { text: '', norm: '', dynamic: false, glob: false, subs: [] };
    let started = false;
    let braceable = true;
    for (const part of word.parts) {
      switch (part.k) {
        case 'lit':
          cur.text += part.v;
          cur.norm += part.v;
          if (part.q === 0 && _GLOB.test(part.v)) cur.glob = true;
          if (part.q !== 0) braceable = false;
          started = true;
          break;
        case 'tilde':
          cur.text += `~${part.user}`;
          cur.norm += part.user === '' ? HOME : `~${part.user}`;
          started = true;
          break;
        case 'param': {
          braceable = false;
          cur.subs.push(...part.subs.map((s) => this.emitSub(s, ctx)));
          if (part.name === 'HOME' && part.plain) {
            cur.text += part.raw;
            cur.norm += HOME;
          } else if (part.name === 'IFS' && part.plain) {
            if (part.q === 0) {
              if (started) _pushArg(out, cur, braceable);
              cur = { text: '', norm: '', dynamic: false, glob: false, subs: [] };
              started = false;
              braceable = true;
              continue;
            }
            cur.text += part.raw;
            cur.norm += ' ';
          } else {
            cur.text += part.raw;
            cur.norm += part.raw;
            cur.dynamic = true;
          }
          started = true;
          break;
        }
        case 'sub': {
          braceable = false;
          const ref = this.emitSub(part.sub, ctx);
          cur.subs.push(ref);
          cur.text += part.sub.raw;
          cur.norm += part.sub.raw;
          cur.dynamic = true;
          if ((part.sub.kind === 'in' || part.sub.kind === 'out') && word.parts.length === 1)
            cur.procsub = part.sub.kind;
          started = true;
          break;
        }
      }
    }
    if (started) _pushArg(out, cur, braceable);
  }

  emitSub(sub: Sub, ctx: Ctx): SubRef {
    if (sub.kind === 'arith') {
      const refs = this.emitParts(sub.parts ?? [], ctx);
      return { kind: 'arith', programs: [...new Set(refs.flatMap((r) => r.programs))], nodes: [] };
    }
    if (ctx.depth + 1 > MAX_DEPTH || !sub.body) {
      this.partial = true;
      this.issue(`substitution nested deeper than ${MAX_DEPTH} not parsed`);
      return { kind: sub.kind, programs: [], nodes: [] };
    }
    const start = this.recs.length;
    const nodes = this.emitScript(sub.body, { ...ctx, depth: ctx.depth + 1 });
    return { kind: sub.kind, programs: this.programsSince(start), nodes };
  }

  emitParts(parts: readonly Part[], ctx: Ctx): SubRef[] {
    const refs: SubRef[] = [];
    for (const p of parts) {
      if (p.k === 'sub') refs.push(this.emitSub(p.sub, ctx));
      else if (p.k === 'param') refs.push(...p.subs.map((s) => this.emitSub(s, ctx)));
    }
    return refs;
  }

  programsSince(start: number): string[] {
    return [...new Set(this.recs.slice(start).map((r) => r.cmd.program))];
  }

  expandRedir(r: Redir, ctx: Ctx): ExpRedir {
    const out: ExpRedir = { op: r.op };
    if (r.fd !== undefined) out.fd = r.fd;
    if (r.heredoc) {
      this.heredocs.push(r.heredoc.body);
      out.heredoc = { body: r.heredoc.body, subs: this.emitParts(r.heredoc.parts ?? [], ctx) };
      out.arg = literalArg(r.heredoc.delim, r.heredoc.delim);
      return out;
    }
    if (r.target) {
      const args = this.expandWord(r.target, ctx);
      if (args.length === 1) out.arg = args[0]!;
      else if (args.length > 1) {
        out.arg = {
          text: args.map((a) => a.text).join(' '),
          norm: args.map((a) => a.norm).join(' '),
          dynamic: args.some((a) => a.dynamic),
          glob: args.some((a) => a.glob),
          subs: args.flatMap((a) => a.subs),
        };
      }
    }
    return out;
  }

  /** Parses `text` as a script at `ctx.depth` (callers pass depth+1) and emits it. */
  emitScriptText(
    text: string,
    ctx: Ctx,
    opts?: { speculative?: boolean },
  ): { programs: string[]; nodes: number[] } {
    if (ctx.depth > MAX_DEPTH) {
      this.partial = true;
      this.issue(`inner script nested deeper than ${MAX_DEPTH} not parsed`);
      return { programs: [], nodes: [] };
    }
    let script: Script;
    try {
      script = parseScriptText(text, { nesting: 0, issues: this.issues });
    } catch (err) {
      if (err instanceof ParseAbort) {
        // Text we only suspect is a script (echoed into a shell) does not make the whole command unparseable.
        if (!opts?.speculative) this.failed = true;
        return { programs: [], nodes: [] };
      }
      throw err;
    }
    const start = this.recs.length;
    const nodes = this.emitScript(script, ctx);
    return { programs: this.programsSince(start), nodes };
  }

  // --- unwrapping ---

  /** Emits one simple command (argv already expanded), unwrapping wrapper programs; returns its record ids. */
  runArgs(args: Arg[], redirs: ExpRedir[], ctx: Ctx, opts: { via: string[]; xargsFed: boolean }): number[] {
    const nodes: number[] = [];
    let cur = args;
    if (cur.length > MAX_ARGV) {
      this.partial = true;
      this.issue(`more than ${MAX_ARGV} argv items`);
      cur = cur.slice(0, MAX_ARGV);
    }
    let sudo = ctx.sudo;
    // Copied on append only (records copy it too): `opts.via` is never changed.
    let via = opts.via;
    let xargsFed = opts.xargsFed;
    for (let guard = 0; guard < 32 && cur.length > 0; guard++) {
      const a0 = cur[0]!;
      if (a0.dynamic) break;
      const prog = _normaliseProgram(a0.text);
      const spec = _specs[prog];
      if (PRIV_WRAPPERS.has(prog)) {
        const po = _parseOptions(cur.slice(1), _text, spec, _rawValue);
        if (
          po.flags.has('-e') ||
          po.flags.has('--edit') ||
          po.flags.has('-l') ||
          po.flags.has('--list') ||
          po.flags.has('-v')
        )
          break;
        let inner = cur.slice(1 + po.rest);
        while (inner.length > 0 && ASSIGNMENT.test(inner[0]!.text)) inner = inner.slice(1);
        if (inner.length === 0) break;
        const id = this.addRecord(cur, prog, po.flags, [], { ...ctx, sudo: true }, redirs, via);
        if (id >= 0) nodes.push(id);
        sudo = true;
        cur = inner;
        continue;
      }
      if (prog === 'env') {
        const po = _parseOptions(cur.slice(1), _text, spec, _rawValue);
        let inner = cur.slice(1 + po.rest);
        while (inner.length > 0 && ASSIGNMENT.test(inner[0]!.text)) inner = inner.slice(1);
        const split = po.values.filter((v) => v.flag === '-S' || v.flag === '--split-string');
        const prefix = split.flatMap((v) =>
          v.value.text
            .split(/\s+/)
            .filter(Boolean)
            .map((t) => literalArg(t)),
        );
        if (inner.length === 0 && prefix.length === 0) break;
        via = [...via, 'env'];
        cur = [...prefix, ...inner];
        continue;
      }
      if (prog === 'xargs') {
        const po = _parseOptions(cur.slice(1), _text, spec, _rawValue);
        for (const v of po.values)
          if (v.flag === '-a' || v.flag === '--arg-file') this.addPath(v.value, 'read', 'arg');
        const inner = cur.slice(1 + po.rest);
        if (inner.length === 0) break;
        via = [...via, 'xargs'];
        xargsFed = true;
        cur = inner;
        continue;
      }
      if (TRANSPARENT.has(prog)) {
        const po = _parseOptions(cur.slice(1), _text, spec, _rawValue);
        if (prog === 'command' && (po.flags.has('-v') || po.flags.has('-V'))) break;
        let inner = cur.slice(1 + po.rest);
        if (prog === 'timeout' && inner.length > 0 && /^\d+(\.\d+)?[smhd]?$/.test(inner[0]!.text))
          inner = inner.slice(1);
        if (prog === 'time')
          for (const v of po.values)
            if (v.flag === '-o' || v.flag === '--output') this.addPath(v.value, 'write', 'arg');
        if (inner.length === 0) break;
        via = [...via, prog];
        cur = inner;
        continue;
      }
      if (RECORDED_WRAPPERS.has(prog)) {
        const po = _parseOptions(cur.slice(1), _text, spec, _rawValue);
        let inner = cur.slice(1 + po.rest);
        const own: Arg[] = [];
        if (prog === 'chroot' && inner.length > 0) {
          own.push(inner[0]!);
          inner = inner.slice(1);
        }
        if (inner.length === 0) break;
        const id = this.addRecord(cur, prog, po.flags, own, { ...ctx, sudo }, redirs, via);
        if (id >= 0) nodes.push(id);
        cur = inner;
        continue;
      }
      break;
    }
    if (cur.length === 0) return nodes;
    const fin = this.finalRecord(cur, redirs, sudo === ctx.sudo ? ctx : { ...ctx, sudo }, via, xargsFed);
    if (nodes.length === 0) return fin;
    for (const id of fin) nodes.push(id);
    return nodes;
  }

  /** Builds the innermost simple command of a chain and its facts; returns the ids it added. */
  finalRecord(cur: Arg[], redirs: ExpRedir[], ctx: Ctx, via: string[], xargsFed: boolean): number[] {
    const a0 = cur[0]!;
    const program = a0.dynamic ? a0.text.toLowerCase() : _normaliseProgram(a0.text);
    if (a0.dynamic && a0.subs.length === 0) this.issue('command named by a variable');
    if (a0.glob) this.issue('glob in command name');
    const rest = cur.slice(1);
    const spec = _specs[program];
    const po = _parseOptions(rest, _text, spec, _homeValue);
    const operands = spec?.stop ? [...po.operands, ...rest.slice(po.rest)] : po.operands;
    const id = this.addRecord(cur, program, po.flags, operands, ctx, redirs, via);
    if (id < 0) return [];
    const rec = this.recs[id]!.cmd;
    if (xargsFed) {
      rec.dynamicOperands = true;
      this.xargsFed.add(id);
    }
    if (a0.subs.length > 0)
      this.executes(
        id,
        a0.subs.flatMap((s) => s.programs),
      );
    if (!a0.dynamic && a0.text.includes('/')) this.addPath(a0, 'exec', 'operand');
    // Process substitutions and redirect-fed substitutions are data-flow edges.
    for (const a of rest) {
      for (const s of a.subs) {
        if (s.kind === 'out') for (const n of s.nodes) this.edges.push([id, n]);
        if (s.kind === 'in') for (const n of s.nodes) this.edges.push([n, id]);
      }
    }
    for (const r of redirs) {
      for (const s of r.arg?.subs ?? []) {
        if (s.kind === 'out' && r.op.includes('>')) for (const n of s.nodes) this.edges.push([id, n]);
        if (s.kind === 'in' && r.op.includes('<')) for (const n of s.nodes) this.edges.push([n, id]);
      }
    }
    const extra = _programFacts(this, { id, program, args: cur, rest, operands, po, redirs, ctx });
    if (extra.length === 0) return [id];
    return [id, ...extra];
  }

  // --- records and facts ---

  /** Adds a record; returns its id or -1 when the command limit is reached. */
  addRecord(
    argvArgs: Arg[],
    program: string,
    flags: Set<string>,
    operands: Arg[],
    ctx: Ctx,
    redirs: ExpRedir[],
    via: string[],
  ): number {
    if (this.recs.length >= MAX_COMMANDS) {
      this.partial = true;
      this.issue(_TOO_MANY_COMMANDS);
      return -1;
    }
    const argv: string[] = new Array(argvArgs.length);
    const args: string[] = new Array(argvArgs.length > 0 ? argvArgs.length - 1 : 0);
    let text = program;
    for (let k = 0; k < argvArgs.length; k++) {
      const t = argvArgs[k]!.text;
      argv[k] = t;
      if (k > 0) {
        args[k - 1] = t;
        text += ` ${t}`;
      }
    }
    text = _collapseWhitespace(text);
    const ops: string[] = new Array(operands.length);
    let dynamicOperands = false;
    for (let k = 0; k < operands.length; k++) {
      const a = operands[k]!;
      ops[k] = _normalisePath(a.norm);
      if (a.dynamic) dynamicOperands = true;
    }
    const cmd: SimpleCommand = {
      argv,
      program,
      args,
      flags,
      operands: ops,
      dynamicOperands,
      sudo: ctx.sudo,
      remote: ctx.remote,
      redirects: [],
      pipesTo: [],
      pipesFrom: [],
      executesSubstitutionOf: [],
      text,
      depth: ctx.depth,
    };
    this.recs.push({ cmd, via: via.length === 0 ? _NO_VIA : [...via] });
    const id = this.recs.length - 1;
    this.attachRedirects(id, redirs);
    return id;
  }

  attachRedirects(id: number, redirs: ExpRedir[]): void {
    if (redirs.length === 0) return;
    const cmd = this.recs[id]!.cmd;
    for (const r of redirs) {
      const red: Redirect = { op: r.op, target: r.arg ? _normalisePath(r.arg.norm) : '' };
      if (r.fd !== undefined) red.fd = r.fd;
      cmd.redirects.push(red);
    }
  }

  /** Replaces a record's operands (programs whose operands are not plain non-flag words). */
  setOperands(id: number, operands: readonly Arg[]): void {
    const cmd = this.recs[id]!.cmd;
    cmd.operands = operands.map((a) => _normalisePath(a.norm));
    cmd.dynamicOperands = this.xargsFed.has(id) || operands.some((a) => a.dynamic);
  }

  executes(id: number, programs: readonly string[]): void {
    const list = this.recs[id]!.cmd.executesSubstitutionOf;
    for (const p of programs) if (!list.includes(p)) list.push(p);
  }

  redirectFacts(redirs: ExpRedir[]): void {
    for (const r of redirs) {
      if (!r.arg || r.heredoc || r.op.endsWith('<<<')) continue;
      if (r.arg.procsub) continue;
      const t = r.arg.text;
      if ((r.op.endsWith('>&') || r.op.endsWith('<&')) && /^(\d+-?|-)$/.test(t)) continue;
      this.devTcp(t);
      const access: Access = r.op.includes('>') ? 'write' : 'read';
      this.addPath(r.arg, access, 'redirect');
    }
  }

  /** Records a URL fact for `/dev/tcp/<host>/<port>` and `/dev/udp/…` references. */
  devTcp(text: string): void {
    if (!text.includes('/dev/')) return;
    const m = /\/dev\/(tcp|udp)\/([^/\s]+)\/(\d{1,5})/.exec(text);
    if (!m) return;
    const fact = hostFact(m[0], m[2]!, Number(m[3]));
    if (fact) this.addUrl({ ...fact, scheme: m[1]! });
  }

  addPath(a: Arg, access: Access, source: PathFact['source'], extra?: { remote?: boolean }): void {
    if (a.text === '' || a.procsub) return;
    const path = _normalisePath(a.norm);
    const bit = 1 << (_ACCESS_INDEX[access] * 3 + _SOURCE_INDEX[source]);
    const seen = this.pathKeys.get(path) ?? 0;
    if ((seen & bit) !== 0) return;
    this.pathKeys.set(path, seen | bit);
    const fact: PathFact & { glob?: boolean; remote?: boolean } = {
      path,
      raw: a.text,
      access,
      source,
      dynamic: a.dynamic,
    };
    if (a.glob) fact.glob = true;
    if (extra?.remote) fact.remote = true;
    this.paths.push(fact);
  }

  addUrl(fact: UrlFact | undefined): void {
    if (!fact) return;
    const key = `${fact.raw}\0${fact.host}\0${fact.port ?? ''}`;
    if (this.urlKeys.has(key)) return;
    this.urlKeys.add(key);
    this.urls.push(fact);
  }

  /** Fills pipesTo / pipesFrom from the data-flow edges (transitively, nearest first). */
  resolvePipes(): void {
    const n = this.recs.length;
    if (this.edges.length === 0) {
      for (let i = 0; i < n; i++) {
        this.recs[i]!.cmd.pipesTo = [];
        this.recs[i]!.cmd.pipesFrom = [];
      }
      return;
    }
    const out: number[][] = new Array(n);
    const inc: number[][] = new Array(n);
    for (let i = 0; i < n; i++) {
      out[i] = [];
      inc[i] = [];
    }
    for (const [a, b] of this.edges) {
      if (a === b || a >= n || b >= n) continue;
      out[a]!.push(b);
      inc[b]!.push(a);
    }
    for (let i = 0; i < n; i++) {
      this.recs[i]!.cmd.pipesTo = out[i]!.length === 0 ? [] : this._walk(i, out);
      this.recs[i]!.cmd.pipesFrom = inc[i]!.length === 0 ? [] : this._walk(i, inc);
    }
  }
  private _walk(start: number, adj: number[][]): string[] {
    const seen = new Set<number>([start]);
    const names = new Set<string>();
    let frontier = [start];
    while (frontier.length > 0) {
      const next: number[] = [];
      for (const x of frontier) {
        for (const y of adj[x]!) {
          if (seen.has(y)) continue;
          seen.add(y);
          next.push(y);
          const rec = this.recs[y]!;
          for (const name of rec.via) names.add(name);
          names.add(rec.cmd.program);
        }
      }
      frontier = next;
    }
    return [...names];
  }
}

// --- internal ---

function _rawValue(s: string, a: Arg): Arg {
  return { ...a, text: s, norm: s };
}

function _homeValue(s: string, a: Arg): Arg {
  return { ...a, text: s, norm: homeNorm(s) };
}

function _text(a: Arg): string {
  return a.text;
}

function _isAssignment(w: Word): boolean {
  const first = w.parts[0];
  return (
    first !== undefined &&
    first.k === 'lit' &&
    first.q === 0 &&
    first.v.includes('=') &&
    ASSIGNMENT.test(first.v)
  );
}

function _pushArg(out: Arg[], cur: Arg, braceable: boolean): void {
  if (!braceable || cur.dynamic || cur.text.indexOf('{') < 0) out.push(cur);
  else for (const a of _braceExpand(cur)) out.push(a);
}

/** Bash brace expansion of an unquoted literal word (`{a,b}`, `x{,.bak}`), one level, at most 64 results. */
function _braceExpand(a: Arg): Arg[] {
  if (a.dynamic) return [a];
  const re = /^([^{}]*)\{([^{}]*,[^{}]*)\}([^{}]*)$/;
  const mt = re.exec(a.text);
  const mn = re.exec(a.norm);
  if (!mt || !mn) return [a];
  const items = mt[2]!.split(',');
  const normItems = mn[2]!.split(',');
  if (items.length > 64 || items.length !== normItems.length) return [a];
  return items.map((it, i) => ({
    ...a,
    text: `${mt[1]}${it}${mt[3]}`,
    norm: `${mn[1]}${normItems[i]}${mn[3]}`,
  }));
}
