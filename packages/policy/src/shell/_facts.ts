// Path access and URL facts by program (spec 30 §A5.9 "Path access by program"), plus the programs whose
// arguments are themselves commands or scripts (shells, eval, ssh, su, find -exec, socat exec:, nc -c …).
import { hostFact, parseUrlFact } from '../net.ts';
import type { Arg, SubRef } from './_arg.ts';
import { literalArg, sliceArg } from './_arg.ts';
import type { Ctx, Emitter, ExpRedir } from './_emit.ts';
import { HOME } from './_normalise.ts';
import type { ParsedOptions } from './_options.ts';
import type { Access } from './types.ts';

/** Shells whose `-c` script, script-file operand or stdin is parsed as a script. */
export const SHELLS: ReadonlySet<string> = new Set([
  'sh',
  'bash',
  'zsh',
  'dash',
  'ksh',
  'ash',
  'mksh',
  'fish',
  'rbash',
  'yash',
  'posh',
  'tcsh',
  'csh',
]);

/** Interpreters: their code flags and script operands can execute a substitution's output. */
const CODE_FLAGS: Readonly<Record<string, readonly string[]>> = {
  python: ['-c'],
  pypy: ['-c'],
  node: ['-e', '--eval', '-p', '--print'],
  nodejs: ['-e', '--eval', '-p', '--print'],
  bun: ['-e', '--eval', '-p', '--print'],
  deno: [],
  perl: ['-e', '-E'],
  ruby: ['-e'],
  php: ['-r'],
  lua: ['-e'],
  tclsh: [],
  rscript: ['-e'],
  osascript: ['-e'],
};

const READ_ALL = new Set([
  'cat',
  'tac',
  'less',
  'more',
  'most',
  'head',
  'tail',
  'nl',
  'base64',
  'base32',
  'basenc',
  'strings',
  'od',
  'hexdump',
  'hd',
  'bat',
  'batcat',
  'view',
  'zcat',
  'zless',
  'zmore',
  'bzcat',
  'xzcat',
  'zstdcat',
  'lz4cat',
  'md5sum',
  'md5',
  'sha1sum',
  'sha224sum',
  'sha256sum',
  'sha384sum',
  'sha512sum',
  'shasum',
  'b2sum',
  'cksum',
  'sum',
  'wc',
  'cut',
  'paste',
  'column',
  'fold',
  'fmt',
  'expand',
  'unexpand',
  'rev',
  'diff',
  'cmp',
  'comm',
  'file',
  'stat',
  'ls',
  'dir',
  'tree',
  'du',
  'lsattr',
  'getfacl',
  'readlink',
  'realpath',
  'iconv',
  'pr',
  'gpg',
  'ssh-add',
  'gzip',
  'gunzip',
  'bzip2',
  'bunzip2',
  'xz',
  'unxz',
  'zstd',
  'unzstd',
  'split',
  'csplit',
  'xdg-open',
  'open',
]);
const WRITE_ALL = new Set(['tee', 'touch', 'mkdir', 'truncate', 'mkfifo']);
const DELETE_ALL = new Set(['rm', 'unlink', 'shred', 'srm', 'rmdir', 'wipe']);
const NETWORK_HOST_ALL = new Set([
  'ping',
  'ping6',
  'traceroute',
  'traceroute6',
  'tracepath',
  'mtr',
  'whois',
  'nmap',
  'arping',
  'fping',
  'hping3',
  'drill',
  'dig',
  'host',
  'nslookup',
]);
const URL_OPERANDS = new Set([
  'aria2c',
  'fetch',
  'lwp-download',
  'lwp-request',
  'get',
  'iwr',
  'irm',
  'invoke-webrequest',
  'invoke-restmethod',
  'lynx',
  'links',
  'w3m',
  'elinks',
]);
const NO_PATHS = new Set([
  'echo',
  'printf',
  'print',
  'say',
  'export',
  'alias',
  'unalias',
  'set',
  'unset',
  'declare',
  'typeset',
  'local',
  'readonly',
  'test',
  '[',
  '[[',
  'true',
  'false',
  ':',
  'exit',
  'return',
  'shift',
  'let',
  'expr',
  'seq',
  'sleep',
  'date',
  'type',
  'which',
  'whereis',
  'hash',
  'help',
  'man',
  'info',
  'apropos',
  'kill',
  'pkill',
  'killall',
  'pgrep',
  'history',
  'read',
  'wait',
  'trap',
  'ulimit',
  'umask',
  'shopt',
  'getopts',
  'jobs',
  'fg',
  'bg',
  'disown',
]);
const DNS_TYPES = new Set([
  'a',
  'aaaa',
  'mx',
  'txt',
  'any',
  'ns',
  'soa',
  'cname',
  'ptr',
  'srv',
  'caa',
  'ds',
  'dnskey',
  'in',
  'ch',
  'axfr',
  'ixfr',
  'https',
  'svcb',
]);
const SOCAT_CONNECT = new Set([
  'tcp',
  'tcp4',
  'tcp6',
  'tcp-connect',
  'tcp4-connect',
  'tcp6-connect',
  'udp',
  'udp4',
  'udp6',
  'udp-connect',
  'udp-sendto',
  'openssl',
  'openssl-connect',
  'ssl',
  'socks',
  'socks4',
  'socks4a',
  'socks5',
  'proxy',
  'proxy-connect',
]);

/** What `programFacts` needs about one final simple command. */
export type FactInput = {
  id: number;
  program: string;
  args: Arg[];
  rest: Arg[];
  operands: Arg[];
  po: ParsedOptions<Arg>;
  redirs: ExpRedir[];
  ctx: Ctx;
};

/** Records the path and URL facts of one simple command; returns ids of commands it runs itself (find -exec). */
export function programFacts(em: Emitter, c: FactInput): number[] {
  const p = c.program;
  for (const a of c.rest) {
    em.devTcp(a.text);
    _scanUrls(em, a.text);
  }
  for (const a of c.operands) {
    if (!a.text.includes('@')) continue;
    const m = /^[A-Za-z0-9._-]+@(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):/.exec(a.text);
    if (m) em.addUrl(hostFact(a.text, m[1]!));
  }
  const extra: number[] = [];
  const rec = em.recs[c.id]!.cmd;
  if (p === 'cat' || p === 'tee' || p === 'tac') {
    const texts: string[] = [];
    const subs: SubRef[] = [];
    for (const r of c.redirs) {
      if (r.heredoc) {
        subs.push(...r.heredoc.subs);
        texts.push(r.heredoc.body);
      } else if (r.op.endsWith('<<<') && r.arg) {
        if (r.arg.subs.length > 0) subs.push(...r.arg.subs);
        else texts.push(r.arg.text);
      }
    }
    if (texts.length > 0 || subs.length > 0) em.stdoutScripts.set(c.id, { texts, subs });
  }
  if (SHELLS.has(p)) _shell(em, c);
  else if (p in CODE_FLAGS) _interpreter(em, c);
  else if (READ_ALL.has(p)) _each(em, c.operands, 'read');
  else if (WRITE_ALL.has(p)) {
    _each(em, c.operands, 'write');
    for (const v of _vals(c.po, '-r', '--reference')) em.addPath(v, 'read', 'arg');
  } else if (DELETE_ALL.has(p)) _each(em, c.operands, 'delete');
  else if (NETWORK_HOST_ALL.has(p)) _hosts(em, c);
  else if (URL_OPERANDS.has(p)) for (const a of c.operands) _urlOperand(em, a);
  else if (_NO_CASE.has(p)) _otherFacts(em, c);
  else {
    switch (p) {
      case 'eval': {
        const subs = c.operands.flatMap((a) => a.subs);
        if (subs.length > 0) em.executes(c.id, _programs(subs));
        else if (c.operands.length > 0)
          em.emitScriptText(c.operands.map((a) => a.text).join(' '), _inner(c.ctx));
        break;
      }
      case 'source':
      case '.': {
        const first = c.operands[0];
        if (first && first.text !== '/dev/stdin' && first.text !== '-') {
          const ins = first.subs.filter((s) => s.kind === 'in');
          if (ins.length > 0) em.executes(c.id, _programs(ins));
          else em.addPath(first, 'read', 'operand');
        } else _feedStdin(em, c, { parse: true });
        break;
      }
      case 'alias':
      case 'trap': {
        // `alias ll='…'` and `trap '…' EXIT` hold commands that run later in this shell.
        const scripts =
          p === 'alias'
            ? c.operands.map((a) => /^[^=]+=(.*)$/s.exec(a.text)?.[1]).filter((t) => t !== undefined)
            : c.operands.slice(0, 1).map((a) => a.text);
        for (const t of scripts)
          if (t.trim() !== '' && t !== '-') em.emitScriptText(t, _inner(c.ctx), { speculative: true });
        break;
      }
      case 'ssh':
      case 'autossh':
        _ssh(em, c);
        break;
      case 'scp':
      case 'rsync':
      case 'sftp':
        _copyRemote(em, c);
        break;
      case 'curl':
        _curl(em, c);
        break;
      case 'wget':
        _wget(em, c);
        break;
      case 'http':
      case 'https':
      case 'xh':
      case 'xhs': {
        let sawUrl = false;
        for (const a of c.operands) {
          if (/^[A-Z]+$/.test(a.text)) continue;
          if (!sawUrl) {
            sawUrl = true;
            const t = a.text.startsWith(':') ? `localhost${a.text}` : a.text;
            em.addUrl(parseUrlFact(t) ?? parseUrlFact(`http://${t}`));
            continue;
          }
          const m = /^[^=@:]*(?:=|:=)?@(.+)$/.exec(a.text);
          if (m) em.addPath(sliceArg(a, m[1]!), 'read', 'operand');
        }
        break;
      }
      case 'nc':
      case 'ncat':
      case 'netcat':
        _netcat(em, c);
        break;
      case 'socat':
        _socat(em, c);
        break;
      case 'telnet': {
        const [h, port] = c.operands;
        if (h) em.addUrl(hostFact(h.text, h.text, port ? Number(port.text) : undefined));
        break;
      }
      case 'openssl': {
        for (const v of _vals(c.po, '-connect', '-proxy')) em.addUrl(_hostPort(v.text));
        for (const v of _vals(c.po, '-host')) em.addUrl(hostFact(v.text, v.text));
        for (const v of _vals(c.po, '-in', '-inkey', '-key', '-CAfile', '-cert', '-certfile'))
          em.addPath(v, 'read', 'arg');
        for (const v of _vals(c.po, '-out', '-keyout')) em.addPath(v, 'write', 'arg');
        break;
      }
      case 'sqlite3': {
        const db = c.operands[0];
        if (db && !db.text.startsWith(':')) em.addPath(db, 'read', 'operand');
        break;
      }
      case 'psql':
      case 'mysql':
      case 'redis-cli':
      case 'mongosh':
      case 'mongo': {
        const port = _vals(c.po, '-p', '-P', '--port')[0];
        for (const v of _vals(c.po, '-h', '--host'))
          em.addUrl(
            hostFact(v.text, v.text, port && /^\d+$/.test(port.text) ? Number(port.text) : undefined),
          );
        for (const v of _vals(c.po, '-f', '--file')) em.addPath(v, 'read', 'arg');
        for (const v of _vals(c.po, '-o', '--output')) em.addPath(v, 'write', 'arg');
        break;
      }
      case 'cp':
      case 'mv':
      case 'install':
      case 'ln':
        _copy(em, c);
        break;
      case 'dd':
        for (const a of c.operands) {
          const m = /^(if|of)=(.*)$/.exec(a.text);
          if (m) em.addPath(sliceArg(a, m[2]!), m[1] === 'if' ? 'read' : 'write', 'operand');
        }
        break;
      case 'chmod':
      case 'chown':
      case 'chgrp': {
        const ref = _vals(c.po, '--reference');
        _each(em, ref.length > 0 ? c.operands : c.operands.slice(1), 'meta');
        for (const v of ref) em.addPath(v, 'read', 'arg');
        break;
      }
      case 'chattr':
      case 'chflags':
        _each(
          em,
          c.operands.filter((a, i) => !/^[-+=]/.test(a.text) && !(p === 'chflags' && i === 0)),
          'meta',
        );
        break;
      case 'setcap':
        _each(em, c.po.flags.has('-r') ? c.operands : c.operands.filter((_, i) => i % 2 === 1), 'meta');
        break;
      case 'setfacl':
      case 'xattr':
        _each(
          em,
          c.operands.filter((a) => !/^[ugmo]:/.test(a.text) && !a.text.startsWith('com.')),
          'meta',
        );
        break;
      case 'mknod':
        _each(em, c.operands.slice(0, 1), 'write');
        break;
      case 'grep':
      case 'egrep':
      case 'fgrep':
      case 'zgrep':
      case 'rg':
      case 'ag':
      case 'ack': {
        const fromFlag = _vals(c.po, '-e', '--regexp', '-f', '--file');
        if (fromFlag.length === 0) _keepFirstOperand(rec, c.operands);
        for (const v of _vals(c.po, '-f', '--file')) em.addPath(v, 'read', 'arg');
        _each(em, fromFlag.length > 0 ? c.operands : c.operands.slice(1), 'read');
        break;
      }
      case 'awk':
      case 'gawk':
      case 'mawk':
      case 'nawk': {
        const progs = _vals(c.po, '-f', '--file');
        if (progs.length === 0) _keepFirstOperand(rec, c.operands);
        for (const v of progs) em.addPath(v, 'read', 'arg');
        _each(
          em,
          (progs.length > 0 ? c.operands : c.operands.slice(1)).filter(
            (a) => !/^[A-Za-z_][A-Za-z0-9_]*=/.test(a.text),
          ),
          'read',
        );
        break;
      }
      case 'sed': {
        const scripts = _vals(c.po, '-e', '--expression', '-f', '--file');
        if (scripts.length === 0) _keepFirstOperand(rec, c.operands);
        for (const v of _vals(c.po, '-f', '--file')) em.addPath(v, 'read', 'arg');
        const files = scripts.length > 0 ? c.operands : c.operands.slice(1);
        _each(em, files, 'read');
        if (c.po.flags.has('-i') || c.po.flags.has('--in-place')) _each(em, files, 'write');
        break;
      }
      case 'jq':
      case 'yq': {
        let ops = c.operands;
        if (p === 'yq' && ops[0] && /^(e|eval|ea|eval-all)$/.test(ops[0].text)) ops = ops.slice(1);
        const fromFile = _vals(c.po, '-f', '--from-file');
        if (fromFile.length === 0)
          _keepFirstOperand(rec, ops === c.operands ? c.operands : c.operands.slice(1));
        for (const v of fromFile) em.addPath(v, 'read', 'arg');
        _each(em, fromFile.length > 0 ? ops : ops.slice(1), 'read');
        const pairs = c.po.values.filter((v) => v.flag === '--slurpfile' || v.flag === '--rawfile');
        for (let i = 1; i < pairs.length; i += 2) em.addPath(pairs[i]!.value, 'read', 'arg');
        break;
      }
      case 'xxd':
        _each(em, c.operands.slice(0, 1), 'read');
        _each(em, c.operands.slice(1, 2), 'write');
        break;
      case 'sort':
        _each(em, c.operands, 'read');
        for (const v of _vals(c.po, '-o', '--output')) em.addPath(v, 'write', 'arg');
        break;
      case 'uniq':
        _each(em, c.operands.slice(0, 1), 'read');
        _each(em, c.operands.slice(1, 2), 'write');
        break;
      case 'zip':
        _each(em, c.operands.slice(0, 1), 'write');
        _each(em, c.operands.slice(1), 'read');
        break;
      case 'unzip':
        _each(em, c.operands.slice(0, 1), 'read');
        for (const v of _vals(c.po, '-d')) em.addPath(v, 'write', 'arg');
        break;
      case 'tar':
        _tar(em, c);
        break;
      case 'crontab': {
        const f = c.operands[0];
        if (f && f.text !== '-') em.addPath(f, 'read', 'operand');
        break;
      }
      case 'ssh-keygen': {
        const reading = ['-y', '-l', '-e', '-i', '-B', '-F', '-R'].some((f) => c.po.flags.has(f));
        for (const v of _vals(c.po, '-f')) em.addPath(v, reading ? 'read' : 'write', 'arg');
        break;
      }
      case 'ssh-copy-id': {
        for (const v of _vals(c.po, '-i')) em.addPath(v, 'read', 'arg');
        const h = c.operands[c.operands.length - 1];
        if (h) em.addUrl(_sshDest(h.text));
        break;
      }
      case 'git': {
        for (const a of c.operands.slice(1)) if (_pathLike(a)) em.addPath(a, 'unknown', 'operand');
        break;
      }
      case 'docker':
      case 'podman':
      case 'nerdctl': {
        for (const v of _vals(c.po, '-v', '--volume')) {
          const host = v.text.split(':')[0]!;
          if (host.startsWith('/') || host.startsWith('~') || host.startsWith('.') || host.startsWith('$'))
            em.addPath(sliceArg(v, host), 'unknown', 'arg');
        }
        break;
      }
      case 'find':
        extra.push(..._find(em, c));
        break;
      case 'su':
      case 'runuser': {
        rec.sudo = true;
        const cmds = _vals(c.po, '-c', '--command', '--session-command');
        for (const v of cmds) _runScript(em, c, v, { ...c.ctx, sudo: true });
        if (cmds.length === 0) _feedStdin(em, c, { parse: true, ctx: { ...c.ctx, sudo: true } });
        break;
      }
      case 'sudo':
      case 'doas':
      case 'sudoedit': {
        rec.sudo = true;
        if (p === 'sudoedit' || c.po.flags.has('-e') || c.po.flags.has('--edit'))
          _each(em, c.operands, 'write');
        break;
      }
      case 'watch': {
        const ops = c.operands;
        if (ops.length > 0 && !ops.some((a) => a.subs.length > 0))
          em.emitScriptText(ops.map((a) => a.text).join(' '), _inner(c.ctx));
        break;
      }
      case 'script': {
        for (const v of _vals(c.po, '-c', '--command')) _runScript(em, c, v, c.ctx);
        _each(em, c.operands.slice(0, 1), 'write');
        break;
      }
      case 'echo':
      case 'printf': {
        const words = p === 'echo' ? c.rest.filter((a, i) => !(i === 0 && /^-[neE]+$/.test(a.text))) : c.rest;
        const subs = words.flatMap((a) => a.subs);
        if (words.length > 0)
          em.stdoutScripts.set(c.id, {
            texts: subs.length > 0 ? [] : [words.map((a) => a.text).join(' ')],
            subs,
          });
        break;
      }
      default:
        // The switch compares string cases one by one: remember programs that have no case of their own.
        if (_NO_CASE.size >= 4096) _NO_CASE.clear();
        _NO_CASE.add(p);
        _otherFacts(em, c);
    }
  }
  return extra;
}

// --- internal ---

/** Programs known to fall to the `default` of `programFacts`'s switch (bounded; cleared when full). */
const _NO_CASE = new Set<string>();

/** Facts of a program without handling of its own: path-like operands are touched in an unknown way. */
function _otherFacts(em: Emitter, c: FactInput): void {
  if (!NO_PATHS.has(c.program))
    for (const a of c.operands) if (_pathLike(a)) em.addPath(a, 'unknown', 'operand');
}

function _inner(ctx: Ctx, over?: Partial<Ctx>): Ctx {
  return { ...ctx, ...over, depth: ctx.depth + 1 };
}

function _programs(subs: readonly SubRef[]): string[] {
  return [...new Set(subs.flatMap((s) => s.programs))];
}

function _vals(po: ParsedOptions<Arg>, ...flags: string[]): Arg[] {
  return po.values.filter((v) => flags.includes(v.flag)).map((v) => v.value);
}

function _each(em: Emitter, args: readonly Arg[], access: Access): void {
  for (const a of args) if (a.text !== '-' && !a.procsub) em.addPath(a, access, 'operand');
}

/** Keeps a pattern/script operand (grep pattern, sed script, jq filter) as written: it is not a path. */
function _keepFirstOperand(rec: { operands: string[] }, ops: readonly Arg[]): void {
  const first = ops[0];
  if (!first) return;
  const i = rec.operands.length - ops.length;
  if (i >= 0 && i < rec.operands.length) rec.operands[i] = first.norm;
}

function _pathLike(a: Arg): boolean {
  const t = a.text;
  if (t === '' || a.procsub || /\s/.test(t) || t.includes('://') || t.startsWith('-')) return false;
  if (/^[A-Za-z0-9._-]+@/.test(t)) return false;
  return t.includes('/') || t.startsWith('.') || t.startsWith('~') || a.norm.startsWith(HOME);
}

function _scanUrls(em: Emitter, text: string): void {
  if (!text.includes('://')) return;
  const re = /[a-zA-Z][a-zA-Z0-9+.-]{1,15}:\/\/[^\s'"<>`(){}|;,\\]+/g;
  let n = 0;
  for (const m of text.matchAll(re)) {
    if (n++ >= 32) break;
    em.addUrl(parseUrlFact(m[0]));
  }
}

function _hostPort(text: string): ReturnType<typeof hostFact> {
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d{1,5}))?$/.exec(text);
  if (!m) return undefined;
  return hostFact(text, m[1]!, m[2] !== undefined ? Number(m[2]) : undefined);
}

function _sshDest(text: string, port?: number): ReturnType<typeof hostFact> {
  if (/^ssh:\/\//i.test(text)) return parseUrlFact(text);
  const at = text.lastIndexOf('@');
  let host = at >= 0 ? text.slice(at + 1) : text;
  if (!host.startsWith('[')) host = host.split(':')[0]!;
  return hostFact(text, host, port);
}

function _urlOperand(em: Emitter, a: Arg): void {
  const t = a.text;
  if (/^file:\/\//i.test(t)) {
    em.addPath(sliceArg(a, t.replace(/^file:\/\/(localhost)?/i, '')), 'read', 'operand');
    return;
  }
  if (t.includes('://')) return; // already recorded by the URL scan
  const fact =
    parseUrlFact(t) ??
    (/^[A-Za-z0-9._-]+(:\d{1,5})?(\/.*)?$/.test(t) ? parseUrlFact(`http://${t}`) : undefined);
  if (fact) em.addUrl({ ...fact, raw: t });
}

/** Handles stdin fed to a shell/interpreter: heredoc bodies, here-strings and `<` redirects. */
function _feedStdin(em: Emitter, c: FactInput, opts: { parse: boolean; ctx?: Ctx }): void {
  const ctx = opts.ctx ?? c.ctx;
  if (opts.parse) em.stdinShells.set(c.id, ctx);
  for (const r of c.redirs) {
    if (r.heredoc) {
      if (r.heredoc.subs.length > 0) em.executes(c.id, _programs(r.heredoc.subs));
      if (opts.parse) em.emitScriptText(r.heredoc.body, _inner(ctx));
    } else if (r.op.endsWith('<<<') && r.arg) {
      if (r.arg.subs.length > 0) em.executes(c.id, _programs(r.arg.subs));
      else if (opts.parse) em.emitScriptText(r.arg.text, _inner(ctx));
    } else if (/^\d*<$/.test(r.op) && r.arg) {
      const ins = r.arg.subs.filter((s) => s.kind === 'in');
      if (ins.length > 0) em.executes(c.id, _programs(ins));
      else em.addPath(r.arg, 'exec', 'redirect');
    }
  }
}

function _runScript(em: Emitter, c: FactInput, script: Arg, ctx: Ctx): void {
  if (script.subs.length > 0) {
    em.executes(c.id, _programs(script.subs));
    return;
  }
  if (script.dynamic) em.issue('script text is dynamic');
  em.emitScriptText(script.text, _inner(ctx));
}

function _shell(em: Emitter, c: FactInput): void {
  const a = c.rest;
  const flags = new Set<string>();
  let cFlag = false;
  let script: Arg | undefined;
  let i = 0;
  for (; i < a.length; i++) {
    const t = a[i]!.text;
    if (t === '--' || t === '-') {
      i++;
      break;
    }
    if (t.startsWith('--')) {
      const name = t.split('=')[0]!;
      flags.add(name);
      if (name === '--command') {
        cFlag = true;
        if (t.includes('=')) script = sliceArg(a[i]!, t.slice(t.indexOf('=') + 1));
      }
      if (t === '--rcfile' || t === '--init-file' || t === '--init-command') i++;
      continue;
    }
    if (/^[-+][A-Za-z]+$/.test(t)) {
      for (const ch of t.slice(1)) {
        flags.add(`${t[0]}${ch}`);
        if (ch === 'c' && t[0] === '-') cFlag = true;
      }
      if (t.length > 2) flags.add(t);
      if (t.includes('o') || (c.program === 'fish' && t === '-C')) i++;
      continue;
    }
    break;
  }
  const rec = em.recs[c.id]!.cmd;
  rec.flags = flags;
  const ops = a.slice(i);
  if (cFlag) {
    if (!script) script = ops.shift();
    em.setOperands(c.id, ops);
    if (script) _runScript(em, c, script, c.ctx);
    return;
  }
  em.setOperands(c.id, ops);
  const first = ops[0];
  if (first && !flags.has('-s')) {
    const ins = first.subs.filter((s) => s.kind === 'in');
    if (ins.length > 0) em.executes(c.id, _programs(ins));
    else em.addPath(first, 'exec', 'operand');
  } else _feedStdin(em, c, { parse: true });
}

function _interpreter(em: Emitter, c: FactInput): void {
  const codeFlags = CODE_FLAGS[c.program] ?? [];
  const code = c.po.values.filter((v) => codeFlags.includes(v.flag));
  for (const v of code) if (v.value.subs.length > 0) em.executes(c.id, _programs(v.value.subs));
  if (code.length > 0 || c.po.flags.has('-m')) return;
  let ops = c.operands;
  if (c.program === 'deno' && ops[0] && /^(run|eval)$/.test(ops[0].text)) {
    const sub = ops[0].text;
    ops = ops.slice(1);
    if (sub === 'eval' && ops[0]?.subs.length) em.executes(c.id, _programs(ops[0].subs));
  }
  const first = ops[0];
  if (first && first.text !== '-') {
    const ins = first.subs.filter((s) => s.kind === 'in');
    if (ins.length > 0) em.executes(c.id, _programs(ins));
    else if (!/^(eval)$/.test(first.text)) em.addPath(first, 'exec', 'operand');
  } else _feedStdin(em, c, { parse: false });
}

function _ssh(em: Emitter, c: FactInput): void {
  const ops = c.operands;
  const dest = ops[0];
  em.setOperands(c.id, dest ? [dest] : []);
  const portArg = _vals(c.po, '-p')[0];
  const port = portArg && /^\d+$/.test(portArg.text) ? Number(portArg.text) : undefined;
  if (dest) em.addUrl(_sshDest(dest.text, port));
  for (const v of _vals(c.po, '-J')) for (const hop of v.text.split(',')) em.addUrl(_sshDest(hop));
  for (const v of _vals(c.po, '-W')) em.addUrl(_hostPort(v.text));
  for (const v of _vals(c.po, '-i')) em.addPath(v, 'unknown', 'arg');
  for (const v of _vals(c.po, '-F')) em.addPath(v, 'read', 'arg');
  for (const v of _vals(c.po, '-o')) {
    const m = /^\s*(ProxyCommand|LocalCommand|RemoteCommand)\s*[= ]\s*(.+)$/is.exec(v.text);
    if (m)
      em.emitScriptText(
        m[2]!,
        _inner(c.ctx, m[1]!.toLowerCase() === 'remotecommand' ? { remote: true, sudo: false } : {}),
      );
  }
  const remote = ops.slice(1);
  const remoteCtx = _inner(c.ctx, { remote: true, sudo: false });
  if (remote.length > 0) {
    if (!remote.some((a) => a.subs.length > 0))
      em.emitScriptText(remote.map((a) => a.text).join(' '), remoteCtx);
  } else if (dest) {
    _feedStdin(em, c, { parse: true, ctx: { ...c.ctx, remote: true, sudo: false } });
  }
}

function _isRemoteSpec(t: string): boolean {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(t)) return true;
  if (/^[A-Za-z]:[\\/]/.test(t)) return false;
  return /^([^/:@\s]+@)?(\[[^\]]+\]|[^/:\s]+):/.test(t);
}

function _copyRemote(em: Emitter, c: FactInput): void {
  const ops = c.operands;
  for (let i = 0; i < ops.length; i++) {
    const a = ops[i]!;
    if (_isRemoteSpec(a.text)) {
      if (a.text.includes('://')) em.addUrl(parseUrlFact(a.text));
      else {
        const m = /^(?:[^/:@\s]+@)?(\[[^\]]+\]|[^/:\s]+):/.exec(a.text)!;
        em.addUrl(hostFact(a.text, m[1]!));
      }
      continue;
    }
    em.addPath(a, i === ops.length - 1 && ops.length > 1 ? 'write' : 'read', 'operand');
  }
  for (const v of _vals(c.po, '-i')) em.addPath(v, 'unknown', 'arg');
  for (const v of _vals(c.po, '-e', '--rsh')) em.emitScriptText(v.text, _inner(c.ctx));
  for (const v of _vals(c.po, '--files-from', '--exclude-from', '--include-from', '--password-file'))
    em.addPath(v, 'read', 'arg');
}

function _curl(em: Emitter, c: FactInput): void {
  for (const a of [...c.operands, ..._vals(c.po, '--url')]) _urlOperand(em, a);
  for (const v of _vals(
    c.po,
    '-x',
    '--proxy',
    '--preproxy',
    '--socks4',
    '--socks4a',
    '--socks5',
    '--socks5-hostname',
  ))
    _urlOperand(em, v);
  for (const v of _vals(c.po, '--resolve', '--connect-to')) {
    const m = /^[^:]*:[^:]*:(.+)$/.exec(v.text);
    if (m) for (const addr of m[1]!.split(',')) em.addUrl(hostFact(v.text, addr.replace(/:\d+$/, '')));
  }
  for (const v of _vals(c.po, '-T', '--upload-file'))
    if (v.text !== '-' && v.text !== '.') em.addPath(v, 'read', 'arg');
  for (const v of _vals(c.po, '-d', '--data', '--data-binary', '--data-ascii', '--json')) {
    if (v.text.startsWith('@') && v.text !== '@-') em.addPath(sliceArg(v, v.text.slice(1)), 'read', 'arg');
  }
  for (const v of _vals(c.po, '--data-urlencode')) {
    const m = /^[^=@]*@(.+)$/.exec(v.text);
    if (m && m[1] !== '-') em.addPath(sliceArg(v, m[1]!), 'read', 'arg');
  }
  for (const v of _vals(c.po, '-F', '--form')) {
    const m = /^[^=]*=[@<]([^;]+)/.exec(v.text);
    if (m && m[1] !== '-') em.addPath(sliceArg(v, m[1]!), 'read', 'arg');
  }
  for (const v of _vals(c.po, '-K', '--config')) em.addPath(v, 'read', 'arg');
  for (const v of _vals(c.po, '-b', '--cookie')) if (!v.text.includes('=')) em.addPath(v, 'read', 'arg');
  for (const v of _vals(
    c.po,
    '-o',
    '--output',
    '-D',
    '--dump-header',
    '-c',
    '--cookie-jar',
    '--output-dir',
  )) {
    if (v.text !== '-') em.addPath(v, 'write', 'arg');
  }
  for (const v of _vals(c.po, '--unix-socket', '--abstract-unix-socket')) em.addPath(v, 'unknown', 'arg');
}

function _wget(em: Emitter, c: FactInput): void {
  for (const a of c.operands) _urlOperand(em, a);
  for (const v of _vals(
    c.po,
    '-O',
    '--output-document',
    '-o',
    '--output-file',
    '-a',
    '--append-output',
    '-P',
    '--directory-prefix',
    '--save-cookies',
  )) {
    if (v.text !== '-') em.addPath(v, 'write', 'arg');
  }
  for (const v of _vals(c.po, '-i', '--input-file', '--post-file', '--body-file', '--load-cookies')) {
    if (v.text !== '-') em.addPath(v, 'read', 'arg');
  }
}

function _netcat(em: Emitter, c: FactInput): void {
  for (const v of _vals(c.po, '-e', '--exec')) em.addPath(v, 'exec', 'arg');
  for (const v of _vals(c.po, '-c', '--sh-exec')) _runScript(em, c, v, c.ctx);
  for (const v of _vals(c.po, '-o')) em.addPath(v, 'write', 'arg');
  for (const v of _vals(c.po, '-x', '--proxy')) em.addUrl(_hostPort(v.text));
  const ops = c.operands;
  const portArg = _vals(c.po, '-p', '--source-port')[0];
  const portOp = ops.find((a) => /^\d{1,5}(-\d{1,5})?$/.test(a.text));
  const hostOp = ops.find((a) => !/^\d{1,5}(-\d{1,5})?$/.test(a.text));
  const port = portOp
    ? Number(portOp.text.split('-')[0])
    : portArg && /^\d+$/.test(portArg.text)
      ? Number(portArg.text)
      : undefined;
  if (hostOp) em.addUrl(hostFact(hostOp.text, hostOp.text, port));
}

function _socat(em: Emitter, c: FactInput): void {
  for (const a of c.operands) {
    const t = a.text;
    const colon = t.indexOf(':');
    const type = (colon >= 0 ? t.slice(0, colon) : t).toLowerCase();
    const rest = colon >= 0 ? t.slice(colon + 1) : '';
    if (SOCAT_CONNECT.has(type)) {
      const m = /^(\[[^\]]+\]|[^:,]+)(?::(\d{1,5}))?/.exec(rest);
      if (m) em.addUrl(hostFact(t, m[1]!, m[2] !== undefined ? Number(m[2]) : undefined));
    } else if (type === 'exec' || type === 'system') {
      const cmd = rest.split(',')[0]!;
      if (cmd !== '') em.emitScriptText(cmd, _inner(c.ctx));
    } else if (type === 'open' || type === 'gopen' || type === 'create' || type === 'file') {
      const path = rest.split(',')[0]!;
      if (path !== '') em.addPath(sliceArg(a, path), type === 'create' ? 'write' : 'unknown', 'operand');
    }
  }
}

function _hosts(em: Emitter, c: FactInput): void {
  const p = c.program;
  let i = 0;
  for (const a of c.operands) {
    const t = a.text;
    if (p === 'dig' || p === 'drill') {
      if (t.startsWith('@')) {
        em.addUrl(hostFact(t, t.slice(1)));
        continue;
      }
      if (t.startsWith('+') || DNS_TYPES.has(t.toLowerCase())) continue;
    }
    if ((p === 'host' || p === 'nslookup') && i > 1) break;
    if (t.startsWith('-')) continue;
    em.addUrl(hostFact(t, t));
    i++;
  }
  for (const v of _vals(c.po, '-x')) em.addUrl(hostFact(v.text, v.text));
}

function _copy(em: Emitter, c: FactInput): void {
  const p = c.program;
  const ops = c.operands;
  const target = _vals(c.po, '-t', '--target-directory');
  const srcAccess: Access[] = p === 'mv' ? ['read', 'delete'] : p === 'ln' ? ['unknown'] : ['read'];
  if (p === 'install' && c.po.flags.has('-d')) {
    _each(em, ops, 'write');
    return;
  }
  let sources: Arg[] = ops;
  if (target.length > 0) for (const t of target) em.addPath(t, 'write', 'arg');
  else if (ops.length >= 2) {
    sources = ops.slice(0, -1);
    _each(em, ops.slice(-1), 'write');
  }
  for (const access of srcAccess) _each(em, sources, access);
}

function _tar(em: Emitter, c: FactInput): void {
  const rest = c.rest;
  let mode = '';
  for (const f of c.po.flags) {
    if (/^-[crtuxA]$/.test(f)) mode ||= f[1]!;
    if (f === '--create') mode ||= 'c';
    if (f === '--extract' || f === '--get') mode ||= 'x';
    if (f === '--list') mode ||= 't';
    if (f === '--append' || f === '--update' || f === '--concatenate') mode ||= 'r';
  }
  let files = c.operands;
  let archive = _vals(c.po, '-f', '--file');
  // Old-style bundled options: `tar czf out.tgz dir` (first word without a dash).
  const first = rest[0];
  if (first && !first.text.startsWith('-') && /^[A-Za-z]+$/.test(first.text)) {
    const letters = first.text;
    const rec = em.recs[c.id]!.cmd;
    for (const ch of letters) rec.flags.add(`-${ch}`);
    mode = /[crtuxA]/.exec(letters)?.[0] ?? mode;
    let k = 1;
    archive = [];
    for (const ch of letters) {
      if ('fCTXbKNVgLHIF'.includes(ch) && k < rest.length) {
        if (ch === 'f') archive.push(rest[k]!);
        if (ch === 'C' && mode === 'x') em.addPath(rest[k]!, 'write', 'arg');
        k++;
      }
    }
    const consumed = new Set(rest.slice(1, k));
    files = c.operands.filter((a) => a !== first && !consumed.has(a));
    em.setOperands(c.id, [first, ...files]);
  }
  const creating = mode === 'c' || mode === 'r' || mode === 'u' || mode === 'A';
  for (const a of archive) if (a.text !== '-') em.addPath(a, creating ? 'write' : 'read', 'arg');
  if (creating) _each(em, files, 'read');
  for (const v of _vals(c.po, '-T', '--files-from')) em.addPath(v, 'read', 'arg');
  if (mode === 'x') for (const v of _vals(c.po, '-C', '--directory')) em.addPath(v, 'write', 'arg');
  for (const v of _vals(
    c.po,
    '--to-command',
    '--use-compress-program',
    '-I',
    '--rsh-command',
    '--info-script',
    '-F',
    '--new-volume-script',
  )) {
    em.emitScriptText(v.text, _inner(c.ctx));
  }
  for (const v of _vals(c.po, '--checkpoint-action')) {
    const m = /^exec=(.+)$/s.exec(v.text);
    if (m) em.emitScriptText(m[1]!, _inner(c.ctx));
  }
}

function _find(em: Emitter, c: FactInput): number[] {
  const rest = c.rest;
  const rec = em.recs[c.id]!.cmd;
  const flags = new Set<string>();
  const roots: Arg[] = [];
  const extra: number[] = [];
  const execPrograms: string[] = [];
  let i = 0;
  while (i < rest.length && !/^[-(!)]/.test(rest[i]!.text)) roots.push(rest[i++]!);
  const valueFlags = new Set([
    '-name',
    '-iname',
    '-path',
    '-ipath',
    '-wholename',
    '-iwholename',
    '-regex',
    '-iregex',
    '-regextype',
    '-type',
    '-xtype',
    '-newer',
    '-anewer',
    '-cnewer',
    '-user',
    '-group',
    '-uid',
    '-gid',
    '-perm',
    '-size',
    '-mtime',
    '-atime',
    '-ctime',
    '-mmin',
    '-amin',
    '-cmin',
    '-used',
    '-maxdepth',
    '-mindepth',
    '-printf',
    '-lname',
    '-ilname',
    '-inum',
    '-links',
    '-samefile',
    '-fstype',
    '-context',
    '-files0-from',
  ]);
  for (; i < rest.length; i++) {
    const t = rest[i]!.text;
    if (t === '-exec' || t === '-execdir' || t === '-ok' || t === '-okdir') {
      flags.add(t);
      const inner: Arg[] = [];
      for (i++; i < rest.length && rest[i]!.text !== ';' && rest[i]!.text !== '+'; i++) {
        const a = rest[i]!;
        inner.push(a.text.includes('{}') ? { ...a, dynamic: true } : a);
      }
      if (inner.length > 0) {
        const start = em.recs.length;
        extra.push(...em.runArgs(inner, [], c.ctx, { via: [], xargsFed: false }));
        execPrograms.push(...em.recs.slice(start).map((r) => r.cmd.program));
      }
      continue;
    }
    if (t === '-fprint' || t === '-fprint0' || t === '-fls' || t === '-fprintf') {
      flags.add(t);
      if (i + 1 < rest.length) em.addPath(rest[++i]!, 'write', 'arg');
      if (t === '-fprintf') i++;
      continue;
    }
    if (t.startsWith('-')) {
      flags.add(t);
      if (valueFlags.has(t)) i++;
    }
  }
  rec.flags = flags;
  em.setOperands(c.id, roots);
  const deleting =
    flags.has('-delete') ||
    execPrograms.some((p) => p === 'rm' || p === 'shred' || p === 'unlink' || p === 'rmdir');
  _each(em, roots.length > 0 ? roots : [literalArg('.')], deleting ? 'delete' : 'read');
  return extra;
}
