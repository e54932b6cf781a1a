import { realpathSync } from 'node:fs';
import { join } from 'node:path';
import { readPidFile, removePidFileIf, verifyProcess } from '@defenseclaw/supervisor';
import { CliError, EXIT_CODES } from '../cli-error.ts';
import { hasCommand } from './_lifecycle.ts';

/**
 * Refuses to run when `gateway.pid` names a verified live daemon for this data dir other than this process:
 * `Gateway sidecar is already running (PID N); stop it first` (exit 1).
 */
export async function refuseSecondDaemon(dataDir: string): Promise<void> {
  const content = readPidFile(join(dataDir, 'gateway.pid'));
  if (content.kind !== 'pid' || content.pid === process.pid) return;
  let real = dataDir;
  try {
    real = realpathSync(dataDir);
  } catch {
    return;
  }
  const verdict = await verifyProcess(content.pid, {
    env: { DEFENSECLAW_DAEMON: '1', DEFENSECLAW_DATA_DIR: real },
    argv: (argv) => hasCommand(argv, 'run'),
  });
  if (verdict.status === 'ours') {
    throw new CliError(
      EXIT_CODES.RUNTIME,
      `Gateway sidecar is already running (PID ${content.pid}); stop it first`,
    );
  }
}

/** In a detached daemon (`DEFENSECLAW_DAEMON=1`), compare-and-deletes `gateway.pid` if it names this process. */
export function daemonPidFileOnExit(dataDir: string, env: NodeJS.ProcessEnv = process.env): void {
  if (env.DEFENSECLAW_DAEMON !== '1') return;
  try {
    removePidFileIf(join(dataDir, 'gateway.pid'), process.pid);
  } catch {
    // Best effort: `stop` compare-and-deletes it too.
  }
}
