import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { v7 as uuidv7 } from 'uuid';
import { parseConfig } from '../server/config.js';
import { openDatabase, type Db } from '../server/db/sqlite/connection.js';
import type { DatabasePort } from '../server/db/port.js';
import type { Repositories } from '../server/db/repositories.js';
import { sqliteDatabaseOver } from '../server/db/sqlite/sqlite-database.js';
import { levelNumber, utcDay } from '../server/db/stats.repo.js';
import { startServer } from '../server/main.js';
import { DEFAULT_VARIANTS } from '../server/services/variants.js';
import { bucketOf, emptyHistogram, encodeHistogram, percentile, type Histogram } from '../server/util/histogram.js';
import { median, quantile, type BenchEntry } from './report.js';
import { BENCH_KEY } from './lib/processes.js';

const DAY_MS = 24 * 3600 * 1000;
const FORMATS = ['jpeg', 'png', 'webp', 'gif', 'avif', 'heif', 'tiff'];
const FORMAT_WEIGHTS = [0.55, 0.2, 0.12, 0.04, 0.04, 0.03, 0.02];

/** A deterministic pseudo-random source, so every run seeds the same data. */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

function pickFormat(r: number): string {
  let acc = 0;
  for (let i = 0; i < FORMATS.length; i++) {
    acc += FORMAT_WEIGHTS[i]!;
    if (r < acc) return FORMATS[i]!;
  }
  return FORMATS[0]!;
}

/**
 * Seeds `images` rows spread over `days` days and `customers` customers straight into SQLite,
 * with the rollups those images imply (as the live counters would have made them).
 */
async function seed(db: Db, database: DatabasePort, images: number, days: number, customers: number, endMs: number) {
  const random = rng(7);
  const insert = db.prepare(
    `INSERT INTO images (id, customer, status, filename, bytes, sha256, format, width, height, pages, source, created_at, processed_at, queued_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, 4000, 3000, 1, 'upload', ?, ?, ?)`,
  );
  const rollups = new Map<string, { uploaded: number; processed: number; failed: number; bytesIn: number; bytesOut: number; latency: Histogram }>();
  const sha = 'ab'.repeat(32);
  const start = endMs - days * DAY_MS;
  db.transaction(() => {
    for (let i = 0; i < images; i++) {
      const created = start + Math.floor(random() * days * DAY_MS);
      const customer = `customer-${String(Math.floor(random() * customers)).padStart(3, '0')}`;
      const format = pickFormat(random());
      const bytes = 200_000 + Math.floor(random() * 8_000_000);
      const failed = random() < 0.01;
      const latency = Math.round(200 + 3000 * random() ** 3);
      insert.run(uuidv7({ msecs: created }), customer, failed ? 'failed' : 'done', 'x.jpg', bytes, sha, format, created, created + latency, created);
      const key = `${utcDay(created)}|${customer}|${format}`;
      let r = rollups.get(key);
      if (!r) rollups.set(key, (r = { uploaded: 0, processed: 0, failed: 0, bytesIn: 0, bytesOut: 0, latency: emptyHistogram() }));
      r.uploaded++;
      r.bytesIn += bytes;
      if (failed) r.failed++;
      else {
        r.processed++;
        r.bytesOut += Math.round(bytes / 12);
        r.latency[bucketOf(latency)]! += 1;
      }
    }
    // The "all customers" / "all formats" rows the live counters keep beside each detailed row.
    const levels = new Map(rollups);
    for (const [key, r] of rollups) {
      const [day, customer, format] = key.split('|');
      for (const k of [`${day}|${customer}|`, `${day}||${format}`, `${day}||`]) {
        let l = levels.get(k);
        if (!l) levels.set(k, (l = { uploaded: 0, processed: 0, failed: 0, bytesIn: 0, bytesOut: 0, latency: emptyHistogram() }));
        l.uploaded += r.uploaded;
        l.processed += r.processed;
        l.failed += r.failed;
        l.bytesIn += r.bytesIn;
        l.bytesOut += r.bytesOut;
        for (let i = 0; i < r.latency.length; i++) l.latency[i]! += r.latency[i]!;
      }
    }
    const put = db.prepare(
      `INSERT INTO stats_daily (level, day, customer, format, uploaded, processed, failed, rejected, bytes_in, bytes_out, latency, p50_ms, p95_ms)
       VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?)`,
    );
    for (const [key, r] of levels) {
      const [day, customer, format] = key.split('|') as [string, string, string];
      put.run(levelNumber(customer, format), day, customer, format, r.uploaded, r.processed, r.failed, r.bytesIn, r.bytesOut, encodeHistogram(r.latency), percentile(r.latency, 0.5), percentile(r.latency, 0.95));
    }

  })();
  await database.repos.stats.refreshAllGroupJson();
  return rollups.size;
}

/** Microseconds per call of `fn`, each call in its own unit of work, as an upload's would be. */
async function timePerTransaction(database: DatabasePort, n: number, fn: (i: number, repos: Repositories) => Promise<void>): Promise<number> {
  for (let i = 0; i < Math.min(200, n); i++) await database.unitOfWork((repos) => fn(i, repos)); // warm up
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await database.unitOfWork((repos) => fn(i, repos));
  return Number(process.hrtime.bigint() - t0) / 1000 / n;
}

export async function statsBench(options: { quick: boolean }): Promise<BenchEntry[]> {
  const images = options.quick ? 200_000 : 2_000_000;
  const customers = 100;
  const days = 365;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-bench-stats-'));
  const entries: BenchEntry[] = [];
  try {
    const db = openDatabase(path.join(dataDir, 'darkroom.db'));
    const now = Date.now();
    const t0 = performance.now();
    const database = sqliteDatabaseOver(db);
    const rows = await seed(db, database, images, days, customers, now);
    console.log(`seeded ${images} images over ${days} days and ${customers} customers (${rows} rollup rows) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    // The extra cost per upload of keeping the rollups: the same ingest transaction with and
    // without the counter updates (accepted, then processed with its latency), same run.
    const n = options.quick ? 2000 : 10000;
    const ingest = async (i: number, withStats: boolean, repos: Repositories) => {
      const id = uuidv7();
      const customer = `customer-${String(i % customers).padStart(3, '0')}`;
      await repos.images.insert({ id, customer, filename: 'x.jpg', bytes: 1000, sha256: 'cd'.repeat(32), format: 'jpeg', width: 10, height: 10, pages: 1, source: 'upload', created_at: now }, DEFAULT_VARIANTS);
      await repos.jobs.appendEvent('image.uploaded', id, { customer }, now);
      if (withStats) {
        await repos.stats.add(now, customer, 'jpeg', { uploaded: 1, bytesIn: 1000 });
        await repos.stats.add(now, customer, 'jpeg', { processed: 1, bytesOut: 100 }, 1234);
      }
    };
    // Alternating rounds, medians: drift on a shared machine hits both sides alike.
    const rounds = 5;
    const withoutRuns: number[] = [];
    const withRuns: number[] = [];
    for (let r = 0; r < rounds; r++) {
      withoutRuns.push(await timePerTransaction(database, n / rounds, (i, repos) => ingest(i, false, repos)));
      withRuns.push(await timePerTransaction(database, n / rounds, (i, repos) => ingest(i, true, repos)));
    }
    const without = median(withoutRuns);
    const withStats = median(withRuns);
    db.close();
    entries.push({
      suite: 'stats',
      name: 'upload transaction with rollups',
      value: withStats,
      unit: 'µs',
      baseline: { name: 'same transaction without rollups', value: without },
      ratio: without / withStats,
      target: 'extra ≤ 1000 µs',
      met: withStats - without <= 1000,
      notes: `extra cost per upload (accepted + processed counters, latency histogram): ${(withStats - without).toFixed(1)} µs`,
    });

    const config = parseConfig({ dataDir, port: '0', workers: '1', adminKey: BENCH_KEY, logLevel: 'silent', minFreeBytes: '1MB' });
    const server = await startServer(config, { logger: pino({ level: 'silent' }), print: () => {} });
    try {
      const to = utcDay(now);
      const from = utcDay(now - 89 * DAY_MS);
      const get = async (query: string) => {
        const started = performance.now();
        const res = await fetch(`${server.url}/v1/stats?${query}`, { headers: { authorization: `Bearer ${BENCH_KEY}` } });
        const bytes = await res.arrayBuffer();
        // Timed to the last byte received; parsing the answer is the client's work, not the server's.
        const ms = performance.now() - started;
        if (res.status !== 200) throw new Error(`stats answered ${res.status}`);
        const body = JSON.parse(Buffer.from(bytes).toString('utf8')) as { groups: unknown[] };
        return { ms, groups: body.groups.length, bytes: bytes.byteLength };
      };
      const measure = async (name: string, query: string, target?: number) => {
        for (let i = 0; i < 3; i++) await get(query);
        const runs: number[] = [];
        let groups = 0;
        let bytes = 0;
        for (let i = 0; i < (options.quick ? 10 : 30); i++) {
          const r = await get(query);
          runs.push(r.ms);
          groups = r.groups;
          bytes = r.bytes;
        }
        entries.push({
          suite: 'stats',
          name,
          value: median(runs),
          unit: 'ms',
          target: target ? `≤ ${target} ms` : undefined,
          met: target ? median(runs) <= target : undefined,
          notes: `median of ${runs.length}, p95 ${quantile(runs, 0.95).toFixed(1)} ms, ${groups} groups, ${(bytes / 1e6).toFixed(1)} MB, ${images} images seeded`,
        });
      };
      await measure('GET /v1/stats 90 days by customer,format,day', `from=${from}&to=${to}&groupBy=customer,format,day`, 100);
      await measure('GET /v1/stats 90 days by customer', `from=${from}&to=${to}&groupBy=customer`);
      await measure('GET /v1/stats 90 days by customer,format', `from=${from}&to=${to}&groupBy=customer,format`);
      await measure('GET /v1/stats 365 days totals', `from=${utcDay(now - 364 * DAY_MS)}&to=${to}`);
    } finally {
      await server.close();
    }
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  return entries;
}
