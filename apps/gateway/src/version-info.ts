import { readFileSync } from 'node:fs';
import { loadModule } from './commands/_load-module.ts';

// Cheap on purpose: main.ts loads this for every command, so the protocol package (valibot and every frame schema,
// ~60 ms) is loaded only when the version information is asked for.

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

/** The binary's name. */
export const APP_NAME = 'defenseclaw-gateway';

/** The binary's version, from package.json. */
export const APP_VERSION: string = pkg.version;

/** What `version --json` prints. */
export type VersionInfo = {
  name: string;
  version: string;
  node: string;
  platform: string;
  protocol: { min: number; max: number };
  /** The audit store schema version; null until the audit store is built. */
  audit_schema: string | null;
};

/** Collects the version information of this build and runtime. */
export async function getVersionInfo(): Promise<VersionInfo> {
  const protocol = await loadModule<typeof import('@defenseclaw/protocol')>('@defenseclaw/protocol');
  return {
    name: APP_NAME,
    version: APP_VERSION,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    protocol: { min: protocol.PROTOCOL_VERSION_MIN, max: protocol.PROTOCOL_VERSION_MAX },
    audit_schema: null,
  };
}

/** Formats the one-line human version: `defenseclaw-gateway 0.1.0 (node v20.19.0; linux-x64; OpenClaw protocol 3–4)`. */
export function formatVersionLine(info: VersionInfo): string {
  return `${info.name} ${info.version} (node ${info.node}; ${info.platform}; OpenClaw protocol ${info.protocol.min}–${info.protocol.max})`;
}
