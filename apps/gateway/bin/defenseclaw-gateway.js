#!/usr/bin/env node
// There is no build step: tsx compiles the TypeScript sources as they load, from its on-disk cache after the first
// run. We use tsx's in-thread CommonJS hook rather than its ESM hooks: on Node 20 `module.register()` starts a
// separate loader thread and every import then round-trips to it, which costs more than all of `status` does
// (bench/api). Our own TypeScript modules are therefore loaded with `require`, never a bare `import()` (see
// src/commands/_load-module.ts).
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
require('tsx/cjs/api').register();
const { runCli } = require('../src/main.ts');
const code = await runCli(process.argv.slice(2));
process.exitCode = code;
// Let stdout/stderr drain, but never hang on a handle a library forgot to release.
setTimeout(() => process.exit(code), 100).unref();
