// Benchmark B1: audit writer throughput on a real file in a temp dir, real schema and migrations.
// synchronous NORMAL and FULL × batch 1/32/256; the store's writer with raw better-sqlite3 statements
// (multi-row INSERTs) vs drizzle prepared queries (row by row), side by side with two bare better-sqlite3
// floors (positional binds, one transaction per batch, no queue, no promises): one statement per row, and the
// store's own multi-row statements (the best bare shape measured). Prints medians over repeated rounds.
//
// One record = one event (≈ 400 B redacted JSON payload, summary) + one verdict: 2 table rows. Rows are
// counted in the database after each round (events + verdicts + findings + alerts); the bars are in rows/s.
//
//   pnpm --filter @defenseclaw/bench bench:audit     (or: node --import tsx bench/audit/index.ts)
//   BENCH_ROUNDS=7 BENCH_RECORDS=100000 node --import tsx bench/audit/index.ts
import { hash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { type AuditRecord, type InsertStatements, openAuditStore } from '@defenseclaw/audit-store';
import Database from 'better-sqlite3';
import { median, percentile, printTable } from '../_stats.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const RECORDS = Number(process.env.BENCH_RECORDS ?? 50_000);
const BATCHES = [1, 32, 256] as const;
const SYNCS = ['normal', 'full'] as const;

/** Batch 1 commits (and under FULL fsyncs) per record, so it gets fewer records per round. */
function recordsFor(sync: (typeof SYNCS)[number], batch: number): number {
  if (batch === 1) return sync === 'full' ? Math.min(RECORDS, 1_000) : Math.min(RECORDS, 5_000);
  if (batch === 32) return Math.min(RECORDS, 20_000);
  return RECORDS;
}

const PAYLOAD = {
  tool: 'exec',
  args: { command: 'git status --porcelain && npm test -- --reporter=dot', cwd: '/home/dev/project' },
  session: { key: 'agent:main:main', run: 'run-7f3a', agent: 'main' },
  meta: { seq: 0, conn: 'conn-1', received_at: 1_700_000_000_000, note: 'x'.repeat(180) },
};

function makeRecord(i: number): AuditRecord {
  return {
    event: {
      ts: 1_700_000_000_000 + i,
      kind: 'tool.call',
      source: 'ws',
      dedupeKey: `ws:conn-1:${i}`,
      sessionKey: 'agent:main:main',
      runId: 'run-7f3a',
      agentId: 'main',
      tool: 'exec',
      callId: `call-${i}`,
      connId: 'conn-1',
      seq: i,
      summary: 'exec: git status --porcelain && npm test -- --reporter=dot',
      payload: PAYLOAD,
    },
    verdicts: [
      {
        lane: 'ws_tool_call',
        action: 'allow',
        rawAction: 'allow',
        mode: 'action',
        wouldBlock: false,
        severity: null,
        ruleIds: [],
        reason: 'no rule matched',
        profile: 'default',
        generationId: 'gen-1',
        enforced: false,
        enforcement: 'none',
        scanMicros: 85,
        findings: [],
      },
    ],
  };
}

/** Rows written across the record tables (events + verdicts + findings + alerts), counted after the round. */
function countRows(path: string): number {
  const db = new Database(path, { readonly: true });
  try {
    return ['events', 'verdicts', 'findings', 'alerts'].reduce(
      (sum, table) => sum + (db.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number),
      0,
    );
  } finally {
    db.close();
  }
}

/** One round's throughput: records (event + its verdicts) per second and table rows per second. */
type Rate = { records: number; rows: number };

async function storeRound(
  sync: (typeof SYNCS)[number],
  batch: number,
  flavour: InsertStatements,
): Promise<Rate> {
  const dir = mkdtempSync(join(tmpdir(), 'dc-bench-audit-'));
  try {
    const n = recordsFor(sync, batch);
    const records = Array.from({ length: n }, (_, i) => makeRecord(i));
    const path = join(dir, 'audit.db');
    const store = openAuditStore({
      path,
      synchronous: sync,
      batchMax: batch,
      queueSize: n,
      insertStatements: flavour,
      // Default checkpoints: PASSIVE on the store's background worker (the floors have no worker: their commits
      // checkpoint every 10,000 WAL pages, as the store's own backstop does).
    });
    const started = performance.now();
    const pending = new Array<Promise<unknown>>(n);
    for (let i = 0; i < n; i++) pending[i] = store.enqueue(records[i]!);
    await Promise.all(pending);
    const elapsed = performance.now() - started;
    if (store.stats.committedRecords !== n) throw new Error('bench: records missing');
    await store.close();
    return { records: n / (elapsed / 1000), rows: countRows(path) / (elapsed / 1000) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** How the bare floor inserts: one statement per row (the old shape), or the store's multi-row statements. */
type FloorShape = 'row' | 'multi';

const EVENT_COLUMNS =
  'ts, kind, source, dedupe_key, session_key, run_id, agent_id, tool, call_id, request_id, conn_id, seq, summary, payload, payload_bytes, payload_sha256';
const VERDICT_COLUMNS =
  'event_id, ts, lane, action, raw_action, mode, would_block, severity, severity_rank, rule_ids, reason, profile, generation_id, enforced, enforcement, scan_micros, error_code';
/** Rows per multi-row statement, as the store's writer uses (`INSERT_CHUNK_ROWS`). */
const CHUNK = 64;

/**
 * The floor: the same records, the same work a writer cannot avoid (serialise and hash the payload, the event and
 * verdict inserts, one transaction per batch) and nothing else: no queue, no promises, no prepared-record objects.
 * `row` runs one statement per row; `multi` runs the multi-row statements the store runs (`CHUNK` rows, then powers
 * of two), the best bare shape measured.
 */
async function floorRound(sync: (typeof SYNCS)[number], batch: number, shape: FloorShape): Promise<Rate> {
  const dir = mkdtempSync(join(tmpdir(), 'dc-bench-audit-'));
  try {
    const path = join(dir, 'audit.db');
    await openAuditStore({ path, checkpointIntervalMs: 0 }).close(); // schema + persistent pragmas
    const db = new Database(path);
    db.pragma(`synchronous = ${sync.toUpperCase()}`);
    db.pragma('foreign_keys = ON');
    db.pragma('cache_size = -16000');
    db.pragma('wal_autocheckpoint = 10000'); // as the store sets it, so the floor stays comparable
    const n = recordsFor(sync, batch);
    const records = Array.from({ length: n }, (_, i) => makeRecord(i));
    const shapes = new Map<string, Database.Statement>();
    const stmt = (table: string, columns: string, k: number) => {
      const key = `${table}/${k}`;
      let s = shapes.get(key);
      if (s === undefined) {
        const row = `(${columns
          .split(', ')
          .map(() => '?')
          .join(', ')})`;
        s = db.prepare(
          `INSERT INTO ${table} (${columns}) VALUES ${new Array<string>(k).fill(row).join(', ')}`,
        );
        shapes.set(key, s);
      }
      return s;
    };
    const eventParams = (out: unknown[], i: number) => {
      const e = records[i]!.event;
      const json = JSON.stringify(e.payload);
      out.push(
        e.ts,
        e.kind,
        e.source,
        e.dedupeKey,
        e.sessionKey,
        e.runId,
        e.agentId,
        e.tool,
        e.callId,
        null,
        e.connId,
        e.seq,
        e.summary,
        json,
        Buffer.byteLength(json),
        hash('sha256', json, 'hex'),
      );
    };
    const verdictParams = (out: unknown[], i: number, eventId: number) => {
      const e = records[i]!.event;
      const v = records[i]!.verdicts![0]!;
      out.push(
        eventId,
        e.ts,
        v.lane,
        v.action,
        v.rawAction,
        v.mode,
        0,
        null,
        0,
        JSON.stringify(v.ruleIds),
        v.reason,
        v.profile,
        v.generationId,
        0,
        v.enforcement,
        v.scanMicros,
        null,
      );
    };
    const tx = db.transaction((from: number, to: number) => {
      for (let i = from; i < to; ) {
        let k = shape === 'row' ? 1 : CHUNK;
        while (k > to - i) k >>>= 1;
        const ev: unknown[] = [];
        for (let j = i; j < i + k; j++) eventParams(ev, j);
        const last = Number(stmt('events', EVENT_COLUMNS, k).run(ev).lastInsertRowid);
        const vd: unknown[] = [];
        for (let j = i; j < i + k; j++) verdictParams(vd, j, last - (i + k - 1 - j));
        stmt('verdicts', VERDICT_COLUMNS, k).run(vd);
        i += k;
      }
    });
    const started = performance.now();
    for (let i = 0; i < n; i += batch) tx.immediate(i, Math.min(n, i + batch));
    const elapsed = performance.now() - started;
    db.close();
    return { records: n / (elapsed / 1000), rows: countRows(path) / (elapsed / 1000) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

type Cell = { raw: Rate[]; drizzle: Rate[]; floor: Rate[]; floorMulti: Rate[] };
const results = new Map<string, Cell>();
for (const sync of SYNCS)
  for (const batch of BATCHES)
    results.set(`${sync}/${batch}`, { raw: [], drizzle: [], floor: [], floorMulti: [] });

// Warm-up (JIT, page cache), then interleaved rounds so drift hits every variant alike.
await storeRound('normal', 256, 'raw');
await storeRound('normal', 256, 'drizzle');
for (let round = 0; round < ROUNDS; round++) {
  for (const sync of SYNCS) {
    for (const batch of BATCHES) {
      const cell = results.get(`${sync}/${batch}`)!;
      cell.raw.push(await storeRound(sync, batch, 'raw'));
      cell.drizzle.push(await storeRound(sync, batch, 'drizzle'));
      cell.floor.push(await floorRound(sync, batch, 'row'));
      cell.floorMulti.push(await floorRound(sync, batch, 'multi'));
    }
  }
}

const k = (x: number) => Math.round(x).toLocaleString('en-US');
const recs = (rates: readonly Rate[]) => rates.map((r) => r.records);
const rowsOf = (rates: readonly Rate[]) => rates.map((r) => r.rows);
const rows: string[][] = [
  [
    'synchronous',
    'batch',
    'records',
    'raw records/s',
    'raw rows/s',
    'rows/s p10',
    'drizzle rows/s',
    'drizzle/raw',
    'floor row-by-row rows/s',
    'store/floor',
    'floor multi-row rows/s',
    'store/floor multi',
    'bar (rows/s)',
    'ok',
  ],
];
const failures: string[] = [];
for (const sync of SYNCS) {
  for (const batch of BATCHES) {
    const cell = results.get(`${sync}/${batch}`)!;
    const raw = median(rowsOf(cell.raw));
    const drz = median(rowsOf(cell.drizzle));
    const floor = median(rowsOf(cell.floor));
    const floorMulti = median(rowsOf(cell.floorMulti));
    const bar = batch === 256 ? (sync === 'normal' ? 100_000 : 20_000) : undefined;
    const ok = bar === undefined ? '' : raw >= bar ? 'yes' : 'NO';
    if (ok === 'NO') failures.push(`${sync}/${batch}: ${k(raw)} rows/s < ${k(bar!)}`);
    rows.push([
      sync.toUpperCase(),
      String(batch),
      String(recordsFor(sync, batch)),
      k(median(recs(cell.raw))),
      k(raw),
      k(percentile(rowsOf(cell.raw), 10)),
      k(drz),
      (drz / raw).toFixed(2),
      k(floor),
      (raw / floor).toFixed(2),
      k(floorMulti),
      (raw / floorMulti).toFixed(2),
      bar === undefined ? 'report' : `≥ ${k(bar)}`,
      ok,
    ]);
  }
}
printTable(
  `audit writer B1 (median of ${ROUNDS} rounds; records/s = events committed with their verdicts per second; rows/s = table rows (events + verdicts + findings + alerts) per second, here 2 per record; real file, WAL; floors: bare better-sqlite3, one statement per row / the store's multi-row statements)`,
  rows,
);
if (failures.length > 0) {
  process.stdout.write(`\nB1 below bar: ${failures.join('; ')}\n`);
  process.exitCode = 1;
}
