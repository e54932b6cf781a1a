import { readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { guardrailConfigIssues } from '@defenseclaw/guardrail-proxy/config';
import * as v from 'valibot';
import { isMap, LineCounter, parseDocument } from 'yaml';
import { suggestPath } from './_did-you-mean.ts';
import { allPaths, keysAt, matchPath, unknownKeyPaths } from './_schema-walk.ts';
import { lineOfPath } from './_yaml-lines.ts';
import { ConfigError, type ConfigIssue } from './config-error.ts';
import { displayPath, expandPath, formatMode } from './paths.ts';
import { type Config, ConfigSchema, defaultConfig } from './schema.ts';

/** Prefix of the per-key environment overrides (`DEFENSECLAW__GATEWAY__API_PORT=18971`). */
export const ENV_OVERRIDE_PREFIX = 'DEFENSECLAW__';

/** Options of `loadConfig`. */
export type LoadConfigOptions = {
  /** The absolute data dir; relative paths in the config resolve against it. */
  dataDir: string;
  /** The absolute path of `config.yaml`; an absent file means all defaults. */
  configPath: string;
  /** Environment holding `DEFENSECLAW__…` overrides. @default process.env */
  env?: NodeJS.ProcessEnv;
  /** Home directory for `~` expansion and display. @default os.homedir() */
  homeDir?: string;
};

/** A validated configuration and what it was built from. */
export type LoadedConfig = {
  /** The configuration, defaults applied and paths absolute. */
  config: Config;
  /** Whether `config.yaml` existed. */
  exists: boolean;
  /** The environment variables that overrode keys, by name. */
  overrides: string[];
  /** Non-fatal remarks for the log (never containing secret values). */
  warnings: string[];
};

/**
 * Reads, merges and validates `config.yaml` plus `DEFENSECLAW__…` overrides, reporting every issue at once.
 *
 * @throws ConfigError with one issue per problem (line numbers from the YAML document, variable names for overrides).
 * @example
 * ```ts
 * const { config } = loadConfig({ dataDir, configPath: join(dataDir, 'config.yaml') });
 * ```
 */
export function loadConfig(options: LoadConfigOptions): LoadedConfig {
  const env = options.env ?? process.env;
  const homeDir = options.homeDir ?? homedir();
  const shown = displayPath(options.configPath, homeDir);
  const warnings: string[] = [];
  const issues: ConfigIssue[] = [];

  let text: string | undefined;
  try {
    text = readFileSync(options.configPath, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') throw new ConfigError(shown, [{ message: `cannot read ${shown}: ${code}` }]);
  }

  const lineCounter = new LineCounter();
  let contents: unknown;
  let raw: Record<string, unknown> = {};
  if (text !== undefined) {
    const doc = parseDocument(text, { lineCounter, prettyErrors: false });
    if (doc.errors.length > 0) {
      throw new ConfigError(
        shown,
        doc.errors.map((error) => {
          const pos = lineCounter.linePos(error.pos[0]);
          const message =
            error.code === 'DUPLICATE_KEY'
              ? `duplicate key ${JSON.stringify(/^([^:\n]*?)\s*:/.exec(text.slice(error.pos[0]))?.[1] ?? '')}`
              : `YAML syntax error: ${error.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`;
          return { line: pos.line, column: pos.col, message };
        }),
      );
    }
    contents = doc.contents;
    const value = doc.toJS() as unknown;
    if (value !== null && value !== undefined) {
      if (!isMap(doc.contents) || !isPlainObject(value)) {
        throw new ConfigError(shown, [
          { line: 1, message: 'the file must be a YAML mapping of config keys' },
        ]);
      }
      raw = stripNulls(value);
    }
  }

  // Overrides are merged into the file's values so that one validation pass reports both.
  const overrideSources = new Map<string, string>();
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || !name.toUpperCase().startsWith(ENV_OVERRIDE_PREFIX)) continue;
    const segments = name.slice(ENV_OVERRIDE_PREFIX.length).split('__');
    const matched = matchPath(ConfigSchema, segments);
    if (!matched.success) {
      const path = [...matched.parent, matched.unknown].join('.');
      const suggestion = suggestPath(
        matched.unknown,
        matched.parent,
        matched.siblings,
        allPaths(ConfigSchema),
      );
      issues.push({ path, source: name, message: unknownKeyMessage(suggestion) });
      continue;
    }
    if (!matched.leaf) {
      issues.push({
        path: matched.path.join('.'),
        source: name,
        message: 'names a section, not a key; override its keys one by one',
      });
      continue;
    }
    const parsed = parseOverrideValue(value);
    if (!parsed.success) {
      issues.push({ path: matched.path.join('.'), source: name, message: parsed.message });
      continue;
    }
    setPath(raw, matched.path, parsed.value);
    overrideSources.set(matched.path.join('.'), name);
  }

  const locate = (path: readonly (string | number)[]): Pick<ConfigIssue, 'line' | 'source'> => {
    for (let i = path.length; i > 0; i--) {
      const source = overrideSources.get(path.slice(0, i).join('.'));
      if (source !== undefined) return { source };
    }
    return contents === undefined ? {} : { line: lineOfPath(contents, lineCounter, path) };
  };

  for (const keys of unknownKeyPaths(ConfigSchema, raw)) {
    const parent = keys.slice(0, -1);
    const suggestion = suggestPath(
      keys.at(-1)!,
      parent,
      keysAt(ConfigSchema, parent) ?? [],
      allPaths(ConfigSchema),
    );
    issues.push({ path: keys.join('.'), ...locate(keys), message: unknownKeyMessage(suggestion) });
  }
  const result = v.safeParse(ConfigSchema, raw, { abortEarly: false });
  if (!result.success) {
    for (const issue of result.issues) {
      // Unknown keys were reported above, all of them (valibot stops at the first one per mapping).
      if (issue.type === 'strict_object' && issue.expected === 'never') continue;
      const keys = (issue.path ?? []).map((item) => item.key as string | number);
      issues.push({ path: formatPath(keys), ...locate(keys), message: issue.message });
    }
  }

  const defaults = defaultConfig() as unknown as Record<string, unknown>;
  for (const rule of crossFieldIssues((path) => getPath(raw, path) ?? getPath(defaults, path))) {
    issues.push({ path: rule.path.join('.'), ...locate(rule.path), message: rule.message });
  }

  const fileToken = getPath(raw, ['gateway', 'token']);
  if (typeof fileToken === 'string' && fileToken !== '' && !overrideSources.has('gateway.token')) {
    const mode = statSync(options.configPath).mode & 0o777;
    if ((mode & 0o077) !== 0) {
      issues.push({
        path: 'gateway.token',
        ...locate(['gateway', 'token']),
        message: `a literal token needs a 0600 config file; ${shown} has mode ${formatMode(mode)} (chmod 600 ${shown}, or move the token to OPENCLAW_GATEWAY_TOKEN in .env)`,
      });
    } else {
      warnings.push(
        `gateway.token is set in ${shown}; prefer OPENCLAW_GATEWAY_TOKEN in ${displayPath(`${options.dataDir}/.env`, homeDir)}`,
      );
    }
  }

  if (issues.length > 0 || !result.success) {
    issues.sort((a, b) => (a.line ?? Number.MAX_SAFE_INTEGER) - (b.line ?? Number.MAX_SAFE_INTEGER));
    throw new ConfigError(shown, issues);
  }

  return {
    config: resolvePaths(result.output, options.dataDir, homeDir),
    exists: text !== undefined,
    overrides: [...overrideSources.values()],
    warnings,
  };
}

/** Tells whether a host name or address is loopback (`localhost`, `127.0.0.0/8`, `::1`). */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  return h === 'localhost' || h === '::1' || /^127(?:\.\d{1,3}){3}$/.test(h);
}

// --- internal ---

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function unknownKeyMessage(suggestion: string | undefined): string {
  return suggestion === undefined ? 'unknown key' : `unknown key — did you mean ${suggestion}?`;
}

function parseOverrideValue(
  text: string,
): { success: true; value: unknown } | { success: false; message: string } {
  if (text.trim() === '') return { success: true, value: '' };
  const doc = parseDocument(text, { prettyErrors: false });
  const value = doc.errors.length > 0 ? undefined : (doc.toJS() as unknown);
  if (doc.errors.length > 0 || isPlainObject(value)) {
    return { success: false, message: 'must be a YAML scalar or a flow sequence such as [a, b]' };
  }
  return { success: true, value: value ?? '' };
}

function crossFieldIssues(get: (path: string[]) => unknown): { path: string[]; message: string }[] {
  const out: { path: string[]; message: string }[] = [];
  const base = get(['gateway', 'reconnect_ms']);
  const max = get(['gateway', 'max_reconnect_ms']);
  if (typeof base === 'number' && typeof max === 'number' && max < base) {
    out.push({
      path: ['gateway', 'max_reconnect_ms'],
      message: `must be at least gateway.reconnect_ms (${base}); got ${max}`,
    });
  }
  const host = get(['gateway', 'host']);
  const tls = get(['gateway', 'tls']);
  if (typeof host === 'string' && host !== '' && tls === false && !isLoopbackHost(host)) {
    out.push({
      path: ['gateway', 'host'],
      message: `non-loopback host "${host}" needs gateway.tls: true (the token would travel in clear)`,
    });
  }
  if (get(['guardrail', 'enabled']) === true) {
    const apiHost = get(['gateway', 'api_host']);
    const proxyHost = get(['guardrail', 'host']);
    const apiPort = get(['gateway', 'api_port']);
    if (
      apiPort === get(['guardrail', 'port']) &&
      (apiHost === proxyHost || isWildcard(apiHost) || isWildcard(proxyHost))
    ) {
      out.push({
        path: ['gateway', 'api_port'],
        message: `must differ from guardrail.port (${String(apiPort)})`,
      });
    }
  }
  const guardrail = get(['guardrail']);
  if (typeof guardrail === 'object' && guardrail !== null) {
    const g = guardrail as Record<string, unknown>;
    const providers = isRecord(g.providers) ? g.providers : {};
    const aliases = isRecord(g.aliases)
      ? Object.fromEntries(
          Object.entries(g.aliases).filter(
            (entry): entry is [string, { provider: string }] =>
              isRecord(entry[1]) && typeof entry[1].provider === 'string',
          ),
        )
      : {};
    const defaultProvider = typeof g.default_provider === 'string' ? g.default_provider : undefined;
    out.push(...guardrailConfigIssues({ providers, aliases, default_provider: defaultProvider }));
  }
  if (get(['splunk', 'enabled']) === true) {
    const url = get(['splunk', 'hec_url']);
    if (typeof url === 'string') {
      if (url === '') {
        out.push({ path: ['splunk', 'hec_url'], message: 'is required when splunk.enabled is true' });
      } else if (!URL.canParse(url)) {
        out.push({ path: ['splunk', 'hec_url'], message: `must be a URL; got "${url}"` });
      } else {
        const parsed = new URL(url);
        if (
          parsed.protocol !== 'https:' &&
          !(parsed.protocol === 'http:' && isLoopbackHost(parsed.hostname))
        ) {
          out.push({
            path: ['splunk', 'hec_url'],
            message: `must be https unless the host is loopback; got "${url}"`,
          });
        }
      }
    }
  }
  return out;
}

function isWildcard(host: unknown): boolean {
  return host === '0.0.0.0' || host === '::' || host === '[::]';
}

function resolvePaths(config: Config, dataDir: string, homeDir: string): Config {
  const abs = (path: string) => expandPath(path, dataDir, homeDir);
  return {
    ...config,
    claw: { config_file: config.claw.config_file === undefined ? undefined : abs(config.claw.config_file) },
    gateway: {
      ...config.gateway,
      device_key_file: abs(config.gateway.device_key_file),
      watcher: {
        ...config.gateway.watcher,
        skill_dirs: config.gateway.watcher.skill_dirs.map(abs),
        plugin_dirs: config.gateway.watcher.plugin_dirs.map(abs),
      },
    },
    policy: { ...config.policy, pack_dirs: config.policy.pack_dirs.map(abs) },
    audit: { ...config.audit, path: abs(config.audit.path) },
  };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// A key written with no value (`gateway:` with every child commented out) means "use the defaults".
function stripNulls(value: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value)) {
    if (child === null) continue;
    out[key] = isPlainObject(child) ? stripNulls(child) : child;
  }
  return out;
}

function getPath(root: Record<string, unknown>, path: readonly string[]): unknown {
  let node: unknown = root;
  for (const key of path) {
    if (!isPlainObject(node)) return undefined;
    node = node[key];
  }
  return node;
}

function setPath(root: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node = root;
  for (const key of path.slice(0, -1)) {
    const child = node[key];
    if (child === undefined) node[key] = {};
    else if (!isPlainObject(child)) return; // the file's own type error is reported instead
    node = node[key] as Record<string, unknown>;
  }
  node[path.at(-1)!] = value;
}

function formatPath(keys: readonly (string | number)[]): string {
  return keys.reduce<string>(
    (out, key) => (typeof key === 'number' ? `${out}[${key}]` : out === '' ? key : `${out}.${key}`),
    '',
  );
}
