// Builds a large audit store quickly: the real migrations through `openAuditStore`, then every row generated inside
// SQLite (recursive CTEs, one transaction, secondary indexes dropped during the load and recreated from their own
// DDL), then one open/close through the store so the file ends as a daemon leaves it (meta, `PRAGMA optimize`).
import { performance } from 'node:perf_hooks';
import { openAuditStore } from '@defenseclaw/audit-store';
import Database from 'better-sqlite3';

/** What the generated store holds. */
export type BuiltStore = {
  path: string;
  events: number;
  verdicts: number;
  alerts: number;
  openAlerts: number;
  findings: number;
  /** A tool and a session key that exist in the data, for filtered queries. */
  sampleTool: string;
  sampleSession: string;
  buildMs: number;
};

/** The tools the generated events name (round robin). */
const TOOLS = ['exec', 'read', 'write', 'edit', 'browser', 'web_fetch', 'mcp.github.search', 'apply_patch'];

/**
 * Writes `rows` events (each with one verdict; every 4th with an alert and a finding, half of those acknowledged)
 * into a new database at `path`, spread over the 30 days before `nowMs`.
 */
export async function buildStore(
  path: string,
  rows: number,
  nowMs: number = Date.now(),
): Promise<BuiltStore> {
  const t0 = performance.now();
  // 1. Schema through the real migrations.
  const created = openAuditStore({ path, version: 'bench' });
  await created.close();

  // 2. Bulk rows inside SQLite.
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  db.pragma('cache_size = -262144');
  const indexes = db
    .prepare(
      "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN ('events', 'verdicts', 'alerts', 'findings')",
    )
    .all() as { name: string; sql: string }[];
  const span = 30 * 86_400_000;
  const t = { rows, t0: nowMs - span, step: Math.max(1, Math.floor(span / rows)) };
  const tools = TOOLS.map((tool, i) => `WHEN ${i} THEN '${tool}'`).join(' ');
  const load = db.transaction(() => {
    for (const index of indexes) db.exec(`DROP INDEX "${index.name}"`);
    db.prepare(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < @rows)
       INSERT INTO events (id, ts, kind, source, dedupe_key, session_key, run_id, agent_id, tool, call_id, conn_id, seq,
                           summary, payload, payload_bytes, payload_sha256)
       SELECT i, @t0 + i * @step,
              CASE i % 3 WHEN 0 THEN 'tool.result' ELSE 'tool.call' END,
              'ws', 'ws:bench:' || i, 'agent:main:session-' || (i % 997), 'run-' || (i / 50), 'main',
              CASE i % ${TOOLS.length} ${tools} END,
              'call-' || i, 'bench', i,
              'tool call ' || i || ': ls -la /srv/app/releases/' || (i % 31),
              '{"tool":"exec","args":{"command":"ls -la /srv/app/releases/' || (i % 31) || '","cwd":"/srv/app"}}',
              78, printf('%064x', i)
       FROM n`,
    ).run(t);
    db.prepare(
      `INSERT INTO verdicts (id, event_id, ts, lane, action, raw_action, mode, would_block, severity, severity_rank,
                             rule_ids, reason, profile, generation_id, enforced, enforcement, scan_micros)
       SELECT id, id, ts, 'tool_call',
              CASE WHEN id % 4 = 0 THEN 'alert' ELSE 'allow' END,
              CASE WHEN id % 4 = 0 THEN 'alert' ELSE 'allow' END,
              'action', 0,
              CASE WHEN id % 4 = 0 THEN (CASE id % 5 WHEN 0 THEN 'critical' WHEN 1 THEN 'high' ELSE 'medium' END) END,
              CASE WHEN id % 4 = 0 THEN (CASE id % 5 WHEN 0 THEN 5 WHEN 1 THEN 4 ELSE 3 END) ELSE 0 END,
              CASE WHEN id % 4 = 0 THEN '["secret-access.ssh-key"]' ELSE '[]' END,
              CASE WHEN id % 4 = 0 THEN 'alert: secret-access.ssh-key' ELSE 'allow: no findings' END,
              'default', 'gen-bench', 0, 'none', 40 + id % 60
       FROM events`,
    ).run();
    db.prepare(
      `INSERT INTO findings (verdict_id, rule_id, category, title, severity, severity_rank, confidence, target, basis,
                             detection_only, snippet, location, fingerprint, tags)
       SELECT id, 'secret-access.ssh-key', 'secret_access', 'Reads an SSH private key', severity, severity_rank, 0.9,
              'args', 'pattern', 0, 'cat ~/.ssh/id_[REDACTED]', '{"path":"args.command"}', printf('%016x', id),
              '["secrets"]'
       FROM verdicts WHERE id % 4 = 0`,
    ).run();
    db.prepare(
      `INSERT INTO alerts (ts, event_id, verdict_id, category, severity, severity_rank, title, lane, action,
                           raw_action, mode, enforced, tool, session_key, rule_ids, acked_at, acked_by)
       SELECT v.ts, v.event_id, v.id, 'verdict', v.severity, v.severity_rank, 'Reads an SSH private key', v.lane,
              v.action, v.raw_action, v.mode, 0, e.tool, e.session_key, v.rule_ids,
              CASE WHEN v.id % 8 = 0 THEN v.ts + 60000 END, CASE WHEN v.id % 8 = 0 THEN 'bench' END
       FROM verdicts v JOIN events e ON e.id = v.event_id WHERE v.id % 4 = 0 ORDER BY v.id`,
    ).run();
    for (const index of indexes) db.exec(index.sql);
  });
  load();
  const count = (sql: string) => (db.prepare(sql).get() as { n: number }).n;
  const built = {
    events: count('SELECT count(*) AS n FROM events'),
    verdicts: count('SELECT count(*) AS n FROM verdicts'),
    alerts: count('SELECT count(*) AS n FROM alerts'),
    openAlerts: count('SELECT count(*) AS n FROM alerts WHERE acked_at IS NULL'),
    findings: count('SELECT count(*) AS n FROM findings'),
  };
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();

  // 3. One open/close through the store: migrations checked, meta written, `PRAGMA optimize` as at a shutdown.
  const store = openAuditStore({ path, version: 'bench' });
  await store.close();
  return {
    path,
    ...built,
    sampleTool: 'browser',
    sampleSession: 'agent:main:session-42',
    buildMs: performance.now() - t0,
  };
}
