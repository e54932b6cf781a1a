#!/usr/bin/env node
// There is no build step: register tsx so Node can load the TypeScript sources directly.
import { register } from 'tsx/esm/api';

register();
const { runCli } = await import('../src/main.ts');
const code = await runCli(process.argv.slice(2));
process.exitCode = code;
// Let stdout/stderr drain, but never hang on a handle a library forgot to release.
setTimeout(() => process.exit(code), 100).unref();
