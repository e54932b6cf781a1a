/** One problem found in a configuration source (config.yaml, an env override or `.env`). */
export type ConfigIssue = {
  /** Dotted key path such as `gateway.api_port`, when the issue concerns a key. */
  path?: string | undefined;
  /** 1-based line in the file, when known. */
  line?: number | undefined;
  /** 1-based column in the file, when known (YAML syntax errors). */
  column?: number | undefined;
  /** The environment variable the value came from, when it was an override. */
  source?: string | undefined;
  /** What is wrong, never containing a secret value. */
  message: string;
};

/** Formats one issue as the indented line of spec 20 §4.3, e.g. `  gateway.api_prot (line 7): unknown key`. */
export function formatConfigIssue(issue: ConfigIssue): string {
  const where: string[] = [];
  if (issue.source !== undefined) where.push(issue.source);
  if (issue.line !== undefined) {
    where.push(
      issue.column !== undefined ? `line ${issue.line}, column ${issue.column}` : `line ${issue.line}`,
    );
  }
  const location = where.join(', ');
  if (issue.path !== undefined) return `  ${issue.path}${location ? ` (${location})` : ''}: ${issue.message}`;
  if (location) return `  ${location}: ${issue.message}`;
  return `  ${issue.message}`;
}

/**
 * Reports every issue of one invalid configuration source at once; the CLI maps it to exit code 3.
 *
 * @example
 * ```ts
 * try { loadConfig(options) } catch (error) { if (isConfigError(error)) stderr.write(error.message) }
 * ```
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  /** The file the issues belong to, as shown to the operator (`~/…` under HOME). */
  readonly file: string;
  /** Every issue found, in document order. */
  readonly issues: readonly ConfigIssue[];

  constructor(file: string, issues: readonly ConfigIssue[]) {
    super([`config error: ${file}`, ...issues.map(formatConfigIssue)].join('\n'));
    this.file = file;
    this.issues = issues;
  }
}

/** Tells whether a value is a `ConfigError`. */
export function isConfigError(value: unknown): value is ConfigError {
  return value instanceof ConfigError;
}
