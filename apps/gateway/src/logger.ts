import type { Logger } from '@defenseclaw/protocol';
import { createConsola } from 'consola';
import type { LogLevel } from './config/schema.ts';

/** Output formats of the app logger: plain text lines or JSON lines. */
export type LogFormat = 'text' | 'json';

/** Options of `createAppLogger`. */
export type AppLoggerOptions = {
  /** Lowest level written. @default 'info' */
  level?: LogLevel;
  /** Line format when not fancy. @default 'text' */
  format?: LogFormat;
  /** Where lines go. @default process.stderr */
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Use consola's fancy reporter; only sensible on a TTY. @default stream.isTTY && format === 'text' */
  fancy?: boolean;
  /** Colours in fancy mode. @default true */
  color?: boolean;
  /** Clock, for tests. @default () => new Date() */
  now?: () => Date;
};

/** The app's logger: the libraries' 4-method `Logger`, plus subsystem children and secret redaction. */
export interface AppLogger extends Logger {
  /** Returns a logger writing under `[subsystem]`, sharing level and secrets. */
  child(subsystem: string): AppLogger;
  /** Registers a secret value; every later line prints it as `[REDACTED]`. */
  addSecret(value: string | undefined): void;
  /** Changes the lowest level written, for every child. */
  setLevel(level: LogLevel): void;
}

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const CONSOLA_LEVEL: Record<LogLevel, number> = { debug: 4, info: 3, warn: 1, error: 0 };

/**
 * Creates the app logger: `<ISO> <LEVEL> [<subsystem>] <message> key=value…` lines (or JSON lines) on stderr, and
 * consola's fancy reporter on a TTY.
 *
 * @example
 * ```ts
 * const log = createAppLogger({ level: 'info' }).child('sidecar');
 * log.info('listening', { addr: '127.0.0.1:18970' });
 * ```
 */
export function createAppLogger(options: AppLoggerOptions = {}): AppLogger {
  const stream = options.stream ?? process.stderr;
  const format = options.format ?? 'text';
  const fancy = options.fancy ?? (stream.isTTY === true && format === 'text');
  const now = options.now ?? (() => new Date());
  const state = { level: options.level ?? 'info', secrets: new Set<string>() };
  const consola = fancy
    ? createConsola({
        level: CONSOLA_LEVEL[state.level],
        fancy: true,
        stdout: stream as NodeJS.WriteStream,
        stderr: stream as NodeJS.WriteStream,
        formatOptions: { colors: options.color ?? true, date: true },
      })
    : undefined;

  const redact = (text: string) => {
    let out = text;
    for (const secret of state.secrets) out = out.split(secret).join('[REDACTED]');
    return out;
  };

  const make = (subsystem: string): AppLogger => {
    const write = (level: LogLevel, message: string, fields?: Record<string, unknown>) => {
      if (RANK[level] < RANK[state.level]) return;
      if (consola !== undefined) {
        const kv = formatFields(fields);
        consola.withTag(subsystem)[level](redact(kv ? `${message} ${kv}` : message));
        return;
      }
      if (format === 'json') {
        const line = safeJson({ ts: now().toISOString(), level, subsystem, msg: message, ...fields });
        stream.write(`${redact(line)}\n`);
        return;
      }
      const kv = formatFields(fields);
      const line = `${now().toISOString()} ${level.toUpperCase()} [${subsystem}] ${message}${kv ? ` ${kv}` : ''}`;
      stream.write(`${redact(line)}\n`);
    };
    return {
      debug: (message, fields) => write('debug', message, fields),
      info: (message, fields) => write('info', message, fields),
      warn: (message, fields) => write('warn', message, fields),
      error: (message, fields) => write('error', message, fields),
      child: (name) => make(name),
      addSecret: (value) => {
        // Very short values would redact ordinary words; real tokens are far longer.
        if (value !== undefined && value.length >= 6) state.secrets.add(value);
      },
      setLevel: (level) => {
        state.level = level;
        if (consola !== undefined) consola.level = CONSOLA_LEVEL[level];
      },
    };
  };
  return make('defenseclaw');
}

/** Formats fields as `key=value` pairs: bare words as is, other strings JSON-quoted, objects as JSON. */
export function formatFields(fields: Record<string, unknown> | undefined): string {
  if (fields === undefined) return '';
  const parts: string[] = [];
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    parts.push(`${key}=${formatValue(value)}`);
  }
  return parts.join(' ');
}

// --- internal ---

function formatValue(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value);
  if (value === null) return 'null';
  if (value instanceof Error) return JSON.stringify(value.message);
  return safeJson(value);
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value, (_key, v: unknown) => (v instanceof Error ? v.message : v)) ?? 'undefined';
  } catch {
    return '"[unserialisable]"';
  }
}
