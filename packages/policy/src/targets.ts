// Target derivation (spec 30 §A2.3): turns a subject into the text, command, path and URL instances rules match.
import type { Glob } from './_glob.ts';
import { normalizeArgPath } from './_path.ts';
import { hostFact, parseUrlFact } from './net.ts';
import { parseCommand } from './shell/index.ts';
import type { Access, CommandFacts, PathFact, UrlFact } from './shell/types.ts';
import type { Provenance, Subject, Target } from './types.ts';

/** Max depth of tool args walked. */
export const MAX_ARGS_DEPTH = 32;
/** Max string leaves taken from tool args (the rest are joined into one overflow leaf). */
export const MAX_ARGS_LEAVES = 10_000;

/** Arg keys whose string values are paths. */
export const PATH_KEYS: ReadonlySet<string> = new Set([
  'path',
  'file',
  'file_path',
  'filePath',
  'filename',
  'target',
  'destination',
  'dir',
  'cwd',
]);
/** Arg keys whose string values are URLs or hosts. */
export const URL_KEYS: ReadonlySet<string> = new Set(['url', 'uri', 'href', 'endpoint', 'host']);
/** Shell-tool arg keys that hold the command. */
export const COMMAND_KEYS: readonly string[] = ['command', 'cmd', 'script'];

/** Compiled tool classes. */
export type ToolClassGlobs = {
  shell: Glob;
  read: Glob;
  write: Glob;
  delete: Glob;
  fetch: Glob;
  message: Glob;
};

/** A text instance (tool_args leaf, tool_result, prompt message, completion, skill file). */
export type TextInstance = {
  target: 'tool_args' | 'tool_result' | 'prompt' | 'completion' | 'skill';
  text: string;
  pointer?: string;
  messageIndex?: number;
  provenance?: Provenance;
  /** A tool_args leaf that was also taken as the command (rules targeting `command` skip it). */
  asCommand?: boolean;
};

/** A shell command instance with its parsed facts. */
export type CommandInstance = { target: 'command'; text: string; facts: CommandFacts; pointer?: string };

/** One path fact. */
export type PathInstance = { target: 'path'; fact: PathFact; pointer?: string; fromCommand: boolean };

/** One URL fact. */
export type UrlInstance = { target: 'url'; fact: UrlFact; pointer?: string; fromCommand: boolean };

/** Any instance. */
export type Instance = TextInstance | CommandInstance | PathInstance | UrlInstance;

/** An engine-made problem found while deriving targets. */
export type DerivedIssue = {
  ruleId: 'ENGINE-TOOLARGS-UNPARSEABLE' | 'ENGINE-CMD-UNPARSEABLE';
  target: Target;
  pointer?: string;
  text: string;
};

/** Everything derived from a subject. */
export type DerivedTargets = {
  /** The tool name rules' `tools` globs see (approvals: the approval tool name). */
  tool?: string;
  mcpServer?: string;
  instances: Instance[];
  issues: DerivedIssue[];
  /** Bytes (UTF-16 units) of every text the scan will read. */
  trace: string[];
};

/** Options of `deriveTargets`. */
export type DeriveOptions = { classes: ToolClassGlobs; approvalToolName: string };

/** Returns the MCP server of a tool named `mcp__<server>__<tool>` or `mcp:<server>:<tool>`. */
export function mcpServerOf(tool: string): string | undefined {
  let m = /^mcp__(.+?)__./.exec(tool);
  if (m) return m[1];
  m = /^mcp:([^:]+):./.exec(tool);
  return m ? m[1] : undefined;
}

/** Returns why a subject is malformed, or undefined. */
export function validateSubject(subject: unknown): string | undefined {
  if (subject === null || typeof subject !== 'object') return 'subject must be an object';
  const s = subject as Record<string, unknown>;
  const str = (k: string) => typeof s[k] === 'string';
  const optStr = (k: string) => s[k] === undefined || typeof s[k] === 'string';
  switch (s.kind) {
    case 'tool_call':
      if (!str('tool')) return 'tool_call.tool must be a string';
      if (!optStr('mcpServer') || !optStr('toolCallId')) return 'tool_call ids must be strings';
      return undefined;
    case 'tool_result':
      if (!str('tool') || !str('text')) return 'tool_result.tool and .text must be strings';
      if (typeof s.isError !== 'boolean') return 'tool_result.isError must be a boolean';
      return undefined;
    case 'approval':
      if (!str('approvalId')) return 'approval.approvalId must be a string';
      if (!optStr('commandText')) return 'approval.commandText must be a string';
      if (s.argv !== undefined && !(Array.isArray(s.argv) && s.argv.every((a) => typeof a === 'string'))) {
        return 'approval.argv must be a string array';
      }
      if (
        s.commandVariants !== undefined &&
        !(Array.isArray(s.commandVariants) && s.commandVariants.every((a) => typeof a === 'string'))
      ) {
        return 'approval.commandVariants must be a string array';
      }
      return undefined;
    case 'prompt':
      if (!Array.isArray(s.messages)) return 'prompt.messages must be an array';
      for (const m of s.messages as unknown[]) {
        const msg = m as Record<string, unknown>;
        if (
          !msg ||
          typeof msg !== 'object' ||
          typeof msg.text !== 'string' ||
          typeof msg.index !== 'number' ||
          typeof msg.provenance !== 'string'
        ) {
          return 'prompt.messages[] need index, provenance and text';
        }
      }
      return undefined;
    case 'completion':
      if (!str('text')) return 'completion.text must be a string';
      if (!Array.isArray(s.toolCalls)) return 'completion.toolCalls must be an array';
      for (const c of s.toolCalls as unknown[]) {
        const call = c as Record<string, unknown>;
        if (
          !call ||
          typeof call !== 'object' ||
          typeof call.name !== 'string' ||
          typeof call.arguments !== 'string'
        ) {
          return 'completion.toolCalls[] need name and arguments strings';
        }
      }
      return undefined;
    case 'skill':
      if (!str('skillKey')) return 'skill.skillKey must be a string';
      if (!Array.isArray(s.files)) return 'skill.files must be an array';
      for (const f of s.files as unknown[]) {
        const file = f as Record<string, unknown>;
        if (
          !file ||
          typeof file !== 'object' ||
          typeof file.path !== 'string' ||
          typeof file.text !== 'string'
        ) {
          return 'skill.files[] need path and text strings';
        }
      }
      return undefined;
    default:
      return 'unknown subject kind';
  }
}

/** Derives every target instance of a (valid) subject. */
export function deriveTargets(subject: Subject, options: DeriveOptions): DerivedTargets {
  const out: DerivedTargets = { instances: [], issues: [], trace: [] };
  switch (subject.kind) {
    case 'tool_call':
      out.tool = subject.tool;
      out.mcpServer = subject.mcpServer ?? mcpServerOf(subject.tool);
      deriveToolCall(subject.tool, subject.args, options, out);
      break;
    case 'tool_result':
      out.tool = subject.tool;
      out.mcpServer = mcpServerOf(subject.tool);
      out.instances.push({ target: 'tool_result', text: subject.text });
      break;
    case 'approval': {
      out.tool = options.approvalToolName;
      const seen = new Set<string>();
      if (subject.commandText !== undefined && subject.commandText.trim() !== '') {
        addCommand(out, { text: subject.commandText }, subject.commandText, '/commandText', seen);
      }
      if (subject.argv && subject.argv.length > 0) {
        const joined = subject.argv.join(' ');
        if (joined !== subject.commandText) addCommand(out, { argv: subject.argv }, joined, '/argv', seen);
      }
      subject.commandVariants?.forEach((v, i) => {
        if (v.trim() !== '') addCommand(out, { text: v }, v, `/commandVariants/${i}`, seen);
      });
      if (subject.cwd) {
        const n = normalizeArgPath(subject.cwd);
        out.instances.push({
          target: 'path',
          fact: {
            path: n.path,
            raw: subject.cwd,
            access: 'unknown',
            source: 'arg',
            dynamic: n.dynamic,
            pointer: '/cwd',
          },
          pointer: '/cwd',
          fromCommand: false,
        });
      }
      break;
    }
    case 'prompt':
      for (const m of subject.messages) {
        if (m.provenance === 'system' || m.provenance === 'assistant') continue;
        out.instances.push({
          target: 'prompt',
          text: m.text,
          messageIndex: m.index,
          provenance: m.provenance,
        });
      }
      break;
    case 'completion':
      out.instances.push({ target: 'completion', text: subject.text });
      subject.toolCalls.forEach((call, i) => {
        const a = call.arguments.trim();
        if (a === '') return;
        try {
          JSON.parse(a);
        } catch {
          out.issues.push({
            ruleId: 'ENGINE-TOOLARGS-UNPARSEABLE',
            target: 'tool_args',
            pointer: `/toolCalls/${i}/arguments`,
            text: a,
          });
        }
      });
      break;
    case 'skill':
      subject.files.forEach((file, i) => {
        const pointer = `/files/${i}`;
        out.instances.push({ target: 'skill', text: file.text, pointer });
        if (
          /\.(?:sh|bash|zsh|ksh)$/i.test(file.path) ||
          /^#!\s*\S*\b(?:sh|bash|zsh|ksh|dash)\b/.test(file.text)
        ) {
          addCommand(out, { text: file.text }, file.text, pointer);
        } else {
          let j = 0;
          for (const block of fencedShellBlocks(file.text)) {
            addCommand(out, { text: block }, block, `${pointer}/blocks/${j++}`);
          }
        }
      });
      break;
  }
  return out;
}

/** Returns the bodies of fenced ```sh / ```bash / ```shell / ```zsh / ```console blocks in markdown. */
export function fencedShellBlocks(text: string): string[] {
  const out: string[] = [];
  const re = /^[ \t]{0,3}(`{3,}|~{3,})[ \t]*(sh|bash|shell|zsh|console|shell-session)\b[^\n]*\n/gm;
  let m: RegExpExecArray | null = re.exec(text);
  while (m !== null) {
    const fence = m[1]!;
    const bodyStart = m.index + m[0].length;
    const close = new RegExp(`^[ \\t]{0,3}${fence[0] === '`' ? '`' : '~'}{${fence.length},}[ \\t]*$`, 'm');
    const rest = text.slice(bodyStart);
    const c = close.exec(rest);
    const body = c ? rest.slice(0, c.index) : rest;
    // `console` blocks: keep only prompt lines.
    out.push(
      m[2] === 'console' || m[2] === 'shell-session'
        ? body
            .split('\n')
            .filter((l) => /^\s*[$#] /.test(l))
            .map((l) => l.replace(/^\s*[$#] /, ''))
            .join('\n')
        : body,
    );
    re.lastIndex = c ? bodyStart + c.index + c[0].length : text.length;
    m = re.exec(text);
  }
  return out;
}

function addCommand(
  out: DerivedTargets,
  input: { text?: string; argv?: readonly string[] },
  text: string,
  pointer: string,
  seen?: Set<string>,
): void {
  if (seen) {
    if (seen.has(text)) return;
    seen.add(text);
  }
  const facts = parseCommand(input);
  out.instances.push({ target: 'command', text, facts, pointer });
  if (facts.status === 'failed') {
    out.issues.push({ ruleId: 'ENGINE-CMD-UNPARSEABLE', target: 'command', pointer, text });
  }
  for (const p of facts.paths) {
    out.instances.push({ target: 'path', fact: p, pointer: p.pointer ?? pointer, fromCommand: true });
  }
  for (const u of facts.urls) {
    out.instances.push({ target: 'url', fact: u, pointer: u.pointer ?? pointer, fromCommand: true });
  }
}

function accessOf(tool: string, classes: ToolClassGlobs): Access {
  if (classes.write.test(tool)) return 'write';
  if (classes.delete.test(tool)) return 'delete';
  if (classes.read.test(tool)) return 'read';
  return 'unknown';
}

function escapePointer(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

function deriveToolCall(tool: string, rawArgs: unknown, options: DeriveOptions, out: DerivedTargets): void {
  let args = rawArgs;
  if (typeof args === 'string') {
    const trimmed = args.trim();
    if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
      try {
        args = JSON.parse(trimmed);
      } catch {
        out.issues.push({
          ruleId: 'ENGINE-TOOLARGS-UNPARSEABLE',
          target: 'tool_args',
          pointer: '',
          text: trimmed,
        });
      }
    }
  }
  const isShell = options.classes.shell.test(tool);
  const access = accessOf(tool, options.classes);
  const commandPointers = new Set<string>();
  if (isShell && args !== null && typeof args === 'object' && !Array.isArray(args)) {
    const obj = args as Record<string, unknown>;
    for (const key of COMMAND_KEYS) {
      const v = obj[key];
      if (typeof v === 'string' && v.trim() !== '') {
        const pointer = `/${key}`;
        commandPointers.add(pointer);
        addCommand(out, { text: v }, v, pointer);
      }
    }
    const argv = obj.argv;
    if (Array.isArray(argv) && argv.length > 0 && argv.every((a) => typeof a === 'string')) {
      for (let i = 0; i < argv.length; i++) commandPointers.add(`/argv/${i}`);
      addCommand(out, { argv: argv as string[] }, (argv as string[]).join(' '), '/argv');
    }
  }
  // Flatten string leaves.
  const walk: LeafWalk = {
    out,
    commandPointers,
    access: isShell ? 'unknown' : access,
    leaves: 0,
    overflow: [],
    overflowPointer: undefined,
  };
  walkArgs(walk, args, '', undefined, 0);
  if (walk.overflow.length > 0) {
    out.trace.push(`tool_args:leaf-limit overflow=${walk.overflow.length}`);
    out.instances.push({
      target: 'tool_args',
      text: walk.overflow.join('\n'),
      pointer: walk.overflowPointer ?? '',
    });
  }
}

/** State of one tool-args walk (module-level functions, not per-call closures: tsx wraps closures). */
type LeafWalk = {
  out: DerivedTargets;
  commandPointers: Set<string>;
  /** The access of path leaves. */
  access: Access;
  leaves: number;
  overflow: string[];
  overflowPointer: string | undefined;
};

function addLeaf(w: LeafWalk, text: string, pointer: string, key: string | undefined): void {
  const out = w.out;
  if (w.leaves >= MAX_ARGS_LEAVES) {
    w.overflow.push(text);
    w.overflowPointer ??= pointer;
    return;
  }
  w.leaves++;
  const inst: TextInstance = { target: 'tool_args', text, pointer };
  if (w.commandPointers.has(pointer)) inst.asCommand = true;
  out.instances.push(inst);
  if (key !== undefined && text.trim() !== '') {
    if (PATH_KEYS.has(key)) {
      const n = normalizeArgPath(text);
      out.instances.push({
        target: 'path',
        fact: {
          path: n.path,
          raw: text,
          access: w.access,
          source: 'arg',
          dynamic: n.dynamic,
          pointer,
        },
        pointer,
        fromCommand: false,
      });
    }
    if (URL_KEYS.has(key)) {
      const fact = parseUrlFact(text) ?? (key === 'host' ? hostFact(text, text) : undefined);
      if (fact)
        out.instances.push({ target: 'url', fact: { ...fact, pointer }, pointer, fromCommand: false });
    }
  }
}

function walkArgs(
  w: LeafWalk,
  value: unknown,
  pointer: string,
  key: string | undefined,
  depth: number,
): void {
  if (typeof value === 'string') {
    addLeaf(w, value, pointer, key);
    return;
  }
  if (value === null || typeof value !== 'object') return;
  if (depth >= MAX_ARGS_DEPTH) {
    let text: string;
    try {
      text = JSON.stringify(value) ?? '';
    } catch {
      text = '';
    }
    if (text) {
      w.out.trace.push('tool_args:depth-limit');
      addLeaf(w, text, pointer, undefined);
    }
    return;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) walkArgs(w, value[i], `${pointer}/${i}`, key, depth + 1);
    return;
  }
  for (const k of Object.keys(value))
    walkArgs(w, (value as Record<string, unknown>)[k], `${pointer}/${escapePointer(k)}`, k, depth + 1);
}
