export {
  isSupervisorError,
  SUPERVISOR_ERROR_CODES,
  SupervisorError,
  type SupervisorErrorCode,
} from './errors.ts';
export {
  createHealthProbe,
  type HealthOutcome,
  type HealthProbeOptions,
  judgeHealth,
  MAX_HEALTH_BODY_BYTES,
} from './health-probe.ts';
export { createLineLog, type LineLogOptions } from './line-log.ts';
export {
  type AcquireLockOptions,
  type AcquireLockResult,
  acquireLock,
  type HeldLock,
  readLockHolder,
} from './lock.ts';
export { type Logger, silentLogger } from './logger.ts';
export {
  MAX_PID,
  MAX_PID_FILE_BYTES,
  type PidFileContent,
  parsePid,
  readPidFile,
  removePidFileIf,
  type WritePidFileOptions,
  writePidFile,
} from './pid-file.ts';
export {
  findMarkedProcesses,
  type IdentityMatcher,
  isAlive,
  isSameProcess,
  type ProcessIdentity,
  readProcessIdentity,
  type Verification,
  type VerifyOptions,
  verifyProcess,
} from './process-identity.ts';
export { type ProbeResult, type ReadyOutcome, type WaitForReadyOptions, waitForReady } from './ready.ts';
export {
  type ChildExit,
  type DetachedChild,
  openLogFile,
  type RotateLogOptions,
  rotateLog,
  type SpawnDetachedOptions,
  spawnDetached,
} from './spawn.ts';
export { readJsonFile, writeJsonFileAtomic, writeTextFileAtomic } from './state-file.ts';
export { type StopOutcome, type StopProcessOptions, signalIfSame, stopProcess } from './stop.ts';
export {
  LAUNCHD_LABEL,
  type LaunchdPlistOptions,
  renderLaunchdPlist,
  renderSystemdUnit,
  SYSTEMD_UNIT_NAME,
  type SystemdUnitOptions,
} from './units.ts';
export {
  createWatchdog,
  DEFAULT_RESTART_BACKOFF_MS,
  type RestartResult,
  type Watchdog,
  type WatchdogExit,
  type WatchdogOptions,
  type WatchdogSettings,
  type WatchdogState,
  type WatchdogTarget,
} from './watchdog.ts';
