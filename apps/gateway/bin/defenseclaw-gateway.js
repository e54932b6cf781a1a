#!/usr/bin/env node
// There is no build step: tsx compiles the TypeScript sources as they load, from its on-disk cache after the first
// run. We use tsx's in-thread CommonJS hook rather than its ESM hooks: on Node 20 `module.register()` starts a
// separate loader thread and every import then round-trips to it, which costs more than all of `status` does
// (bench/api). Our own TypeScript modules are therefore loaded with `require`, never a bare `import()` (see
// src/commands/_load-module.ts).
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
// On a transform-cache miss esbuild would otherwise start its service in a worker thread that keeps an
// `esbuild --service` child, carrying our identity markers, for the life of the process (the daemon's included).
// Without worker threads each miss runs one short-lived esbuild instead, and a warm cache runs none. esbuild reads
// the variable when tsx loads it; it is put back so that nothing we spawn inherits it.
const workerThreads = process.env.ESBUILD_WORKER_THREADS;
process.env.ESBUILD_WORKER_THREADS = '0';
require('tsx/cjs/api').register();
if (workerThreads === undefined) delete process.env.ESBUILD_WORKER_THREADS;
else process.env.ESBUILD_WORKER_THREADS = workerThreads;
const { runCli } = require('../src/main.ts');
const code = await runCli(process.argv.slice(2));
process.exitCode = code;
// Let stdout/stderr drain, but never hang on a handle a library forgot to release.
setTimeout(() => process.exit(code), 100).unref();
