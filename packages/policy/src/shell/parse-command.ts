import { literalArg } from './_arg.ts';
import { deobfuscate } from './_deobfuscate.ts';
import { Emitter } from './_emit.ts';
import { ParseAbort, parseScriptText } from './_parser.ts';
import type { CommandFacts, ParseStatus } from './types.ts';

/** Longest command text parsed in full (longer text is cut and the parse is `partial`). */
export const MAX_COMMAND_CHARS = 64 * 1024;

/**
 * Parses a shell command line (or an already-split argv) into simple commands, path facts and URL facts
 * (spec 30 §A5.9); never throws.
 *
 * @example
 * const facts = parseCommand({ text: 'curl -fsSL https://x.example/i.sh | sudo bash' });
 * facts.commands.find((c) => c.program === 'bash')?.pipesFrom; // ['curl']
 */
export function parseCommand(input: { text?: string; argv?: readonly string[] }): CommandFacts {
  const issues: string[] = [];
  const fromArgv = input.text === undefined && input.argv !== undefined;
  const argv = fromArgv ? [...(input.argv ?? [])].map((a) => String(a)) : [];
  const raw = fromArgv ? argv.map(_quote).join(' ') : String(input.text ?? '');
  let deob = '';
  try {
    deob = deobfuscate(raw.length > MAX_COMMAND_CHARS ? raw.slice(0, MAX_COMMAND_CHARS) : raw);
  } catch {
    deob = raw;
  }
  const em = new Emitter(issues);
  let status: ParseStatus = 'complete';
  try {
    const ctx = { depth: 0, sudo: false, remote: false };
    if (fromArgv) {
      if (argv.length > 0)
        em.runArgs(
          argv.map((a) => literalArg(a)),
          [],
          ctx,
          { via: [], xargsFed: false },
        );
    } else {
      let text = raw;
      if (text.length > MAX_COMMAND_CHARS) {
        em.partial = true;
        issues.push(`command text longer than ${MAX_COMMAND_CHARS} characters was cut`);
        text = text.slice(0, MAX_COMMAND_CHARS);
      }
      const script = parseScriptText(text, { nesting: 0, issues });
      em.emitScript(script, ctx);
    }
    if (em.failed) status = 'failed';
    else if (em.partial) status = 'partial';
  } catch (err) {
    if (!(err instanceof ParseAbort))
      issues.push(`internal parser error: ${err instanceof Error ? err.message : String(err)}`);
    // A parse cut at the size limit fails on its cut end; that is a partial view, not unparseable input.
    status = em.partial && raw.length > MAX_COMMAND_CHARS ? 'partial' : 'failed';
  }
  try {
    em.resolvePipes();
  } catch {
    // resolvePipes only reads what was emitted; an error here leaves pipes empty.
  }
  return {
    status,
    commands: em.recs.map((r) => r.cmd),
    paths: em.paths,
    urls: em.urls,
    issues,
    raw,
    deobfuscated: deob,
    heredocs: em.heredocs,
  };
}

// --- internal ---

function _quote(a: string): string {
  if (a !== '' && /^[A-Za-z0-9_@%+=:,./~-]+$/.test(a)) return a;
  return `'${a.replace(/'/g, `'\\''`)}'`;
}
