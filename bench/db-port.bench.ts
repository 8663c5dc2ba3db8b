/**
 * What the database port costs over calling better-sqlite3 directly, both in the same run with
 * alternating rounds: a key lookup (every request makes one), a unit of work of three writes
 * (the shape of an upload's commit), the upload's own commit as group commit records it (image,
 * variants, event, statistics rollups), and what building and compiling a Kysely query on every
 * call would cost (why the port compiles each query once).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Db } from '../server/db/sqlite/connection.js';
import type { NewImage } from '../server/db/images.repo.js';
import { openSqliteDatabase } from '../server/db/sqlite/sqlite-database.js';
import { DEFAULT_VARIANTS } from '../server/services/variants.js';
import { bucketOf, decodeHistogram, encodeHistogram, percentile } from '../server/util/histogram.js';
import { sqliteQueryBuilder } from '../server/db/sqlite/dialect.js';
import { median, type BenchEntry } from './report.js';

/** Microseconds per call of `fn` over `n` calls, awaited one after another. */
async function timeAsync(n: number, fn: (i: number) => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await fn(i);
  return Number(process.hrtime.bigint() - t0) / 1000 / n;
}

function timeSync(n: number, fn: (i: number) => unknown): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn(i);
  return Number(process.hrtime.bigint() - t0) / 1000 / n;
}

/** Runs both sides in alternating rounds after a warm-up; the medians of the rounds. */
async function alternate(rounds: number, n: number, direct: (n: number) => Promise<number> | number, port: (n: number) => Promise<number>) {
  await direct(Math.min(n, 500));
  await port(Math.min(n, 500));
  const directRuns: number[] = [];
  const portRuns: number[] = [];
  for (let r = 0; r < rounds; r++) {
    directRuns.push(await direct(n));
    portRuns.push(await port(n));
  }
  return { direct: median(directRuns), port: median(portRuns) };
}

/**
 * An image and its pending variants as they were written before the port: better-sqlite3
 * statements on the connection (the SQL of the images repository of that time, the baseline).
 */
function legacyImageInsert(db: Db) {
  const insertImage = db.prepare<[NewImage & { raw_format: string | null }]>(
    `INSERT INTO images (id, customer, status, filename, bytes, sha256, format, width, height, pages, source, created_at, queued_at, raw_format)
     VALUES (@id, @customer, 'queued', @filename, @bytes, @sha256, @format, @width, @height, @pages, @source, @created_at, @created_at, @raw_format)`,
  );
  const insertVariant = db.prepare<[string, string, string, string]>(
    `INSERT INTO variants (image_id, name, spec, status, format) VALUES (?, ?, ?, 'pending', ?)`,
  );
  return (image: NewImage, variants: typeof DEFAULT_VARIANTS) => {
    insertImage.run({ ...image, raw_format: image.raw_format ?? null });
    for (const spec of variants) insertVariant.run(image.id, spec.name, JSON.stringify(spec), spec.format);
  };
}

/** An outbox event as it was written before the port (the jobs repository's SQL of that time). */
function legacyAppendEvent(db: Db) {
  const append = db.prepare<[string, string | null, string, number]>(`INSERT INTO outbox (type, image_id, payload, created_at) VALUES (?, ?, ?, ?)`);
  return (type: string, imageId: string | null, payload: object, at: number) =>
    Number(append.run(type, imageId, JSON.stringify(payload), at).lastInsertRowid);
}

/**
 * The statistics rollups as they were written before the port: better-sqlite3 statements on the
 * connection (the SQL of the stats repository of that time, copied here as the baseline).
 */
function legacyStatsAdd(db: Db) {
  const add = db.prepare(
    `INSERT INTO stats_daily (level, day, customer, format, uploaded, processed, failed, rejected, bytes_in, bytes_out)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (level, day, customer, format) DO UPDATE SET
       uploaded = uploaded + excluded.uploaded, processed = processed + excluded.processed,
       failed = failed + excluded.failed, rejected = rejected + excluded.rejected,
       bytes_in = bytes_in + excluded.bytes_in, bytes_out = bytes_out + excluded.bytes_out`,
  );
  const ROW = `level = ? AND day = ? AND customer = ? AND format = ?`;
  const latencyOf = db.prepare<unknown[], { latency: Buffer | null }>(`SELECT latency FROM stats_daily WHERE ${ROW}`);
  const setLatency = db.prepare(`UPDATE stats_daily SET latency = ?, p50_ms = ?, p95_ms = ? WHERE ${ROW}`);
  const metrics = `'uploaded', uploaded, 'processed', processed, 'failed', failed, 'rejected', rejected,
     'bytesIn', bytes_in, 'bytesOut', bytes_out, 'p50Ms', p50_ms, 'p95Ms', p95_ms`;
  const keys = [`'customer', customer, 'format', format, 'day', day`, `'customer', customer, 'day', day`, `'format', format, 'day', day`, `'day', day`];
  const rawSplit = `CASE WHEN instr(format, '/') > 0 THEN json_object('format', substr(format, 1, instr(format, '/') - 1),
     'rawFormat', substr(format, instr(format, '/') + 1)) ELSE '{}' END`;
  const refresh = keys.map((k, i) =>
    db.prepare(`UPDATE stats_daily SET group_json = ${i === 0 || i === 2 ? `json_patch(json_object(${k}, ${metrics}), ${rawSplit})` : `json_object(${k}, ${metrics})`} WHERE ${ROW}`),
  );
  return (at: number, customer: string, format: string, d: { uploaded?: number; bytesIn?: number }, latencyMs?: number) => {
    const day = new Date(at).toISOString().slice(0, 10);
    const rows = [[3, customer, format], [2, customer, ''], [1, '', format], [0, '', '']] as const;
    rows.forEach(([level, c, f], i) => {
      add.run(level, day, c, f, d.uploaded ?? 0, 0, 0, 0, d.bytesIn ?? 0, 0);
      if (latencyMs !== undefined) {
        const histogram = decodeHistogram(latencyOf.get(level, day, c, f)?.latency);
        histogram[bucketOf(latencyMs)]! += 1;
        setLatency.run(encodeHistogram(histogram), percentile(histogram, 0.5), percentile(histogram, 0.95), level, day, c, f);
      }
      refresh[i]!.run(level, day, c, f);
    });
  };
}

export async function dbPortBench(options: { quick: boolean }): Promise<BenchEntry[]> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-bench-db-'));
  const db = openSqliteDatabase(path.join(dataDir, 'darkroom.db'));
  const entries: BenchEntry[] = [];
  const rounds = 7;
  try {
    const keys = 10_000;
    db.connection.transaction(() => {
      const insert = db.connection.prepare(
        `INSERT INTO api_keys (id, key_hash, key_prefix, customer, role, name, created_at) VALUES (?, ?, ?, 'acme', 'user', NULL, 1)`,
      );
      for (let i = 0; i < keys; i++) insert.run(`key_${i}`, `hash_${i}`, `drk_${i}`);
    })();

    // A key lookup, as the authentication of every request makes one.
    const byHash = db.connection.prepare(`SELECT * FROM api_keys WHERE key_hash = ?`);
    const n = options.quick ? 20_000 : 100_000;
    const lookup = await alternate(
      rounds,
      n,
      (count) => timeSync(count, (i) => byHash.get(`hash_${i % keys}`)),
      (count) => timeAsync(count, (i) => db.repos.keys.findByHash(`hash_${i % keys}`)),
    );
    entries.push({
      suite: 'db',
      name: 'key lookup through the port',
      value: lookup.port,
      unit: 'µs',
      baseline: { name: 'better-sqlite3 statement called directly', value: lookup.direct },
      ratio: lookup.direct / lookup.port,
      notes: `port overhead ${(lookup.port - lookup.direct).toFixed(2)} µs per call`,
    });

    // Three writes in one transaction, as an upload's commit makes several.
    const insert = db.connection.prepare(
      `INSERT INTO api_keys (id, key_hash, key_prefix, customer, role, name, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
    );
    const touch = db.connection.prepare(`UPDATE api_keys SET last_used_at = ? WHERE id = ?`);
    const revoke = db.connection.prepare(`UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`);
    let next = 0;
    const directUnit = db.connection.transaction((id: string) => {
      insert.run(id, `h_${id}`, 'drk_', 'acme', 'user', null, 1);
      touch.run(2, id);
      revoke.run(3, id);
    });
    const units = options.quick ? 5_000 : 20_000;
    const unit = await alternate(
      rounds,
      units,
      (count) => timeSync(count, () => directUnit(`direct_${next++}`)),
      (count) =>
        timeAsync(count, () =>
          db.unitOfWork(async (repos) => {
            const id = `port_${next++}`;
            await repos.keys.insert({ id, key_hash: `h_${id}`, key_prefix: 'drk_', customer: 'acme', role: 'user', name: null, created_at: 1 });
            await repos.keys.touch(id, 2);
            await repos.keys.revoke(id, 3);
          }),
        ),
    );
    entries.push({
      suite: 'db',
      name: 'unit of work (3 writes) through the port',
      value: unit.port,
      unit: 'µs',
      baseline: { name: 'better-sqlite3 transaction called directly', value: unit.direct },
      ratio: unit.direct / unit.port,
      notes: `port overhead ${(unit.port - unit.direct).toFixed(2)} µs per transaction`,
    });

    // An upload's commit as group commit records it: the image and its pending variants, its
    // `image.uploaded` event and the statistics rollups, in a savepoint of the batch's
    // transaction: by the statements of before the port on one side and by the port's images,
    // jobs and stats repositories on the other.
    const legacyInsert = legacyImageInsert(db.connection);
    const legacyEvent = legacyAppendEvent(db.connection);
    const legacyAdd = legacyStatsAdd(db.connection);
    const now = Date.now();
    let upload = 0;
    const imageRow = (customer: string) => ({
      id: `00000000-0000-7000-8000-${String(++upload).padStart(12, '0')}`,
      customer,
      filename: 'x.jpg',
      bytes: 1000,
      sha256: 'cd'.repeat(32),
      format: 'jpeg',
      width: 10,
      height: 10,
      pages: 1,
      source: 'upload',
      created_at: now,
    });
    const customerOf = (i: number) => `customer-${String(i % 100).padStart(3, '0')}`;
    const directUpload = db.connection.transaction((i: number) => {
      db.connection.transaction(() => {
        const row = imageRow(customerOf(i));
        legacyInsert(row, DEFAULT_VARIANTS);
        legacyEvent('image.uploaded', row.id, { customer: row.customer, sha256: row.sha256 }, now);
        legacyAdd(now, row.customer, 'jpeg', { uploaded: 1, bytesIn: row.bytes });
      })();
    });
    const uploads = options.quick ? 2_000 : 10_000;
    const uploadCommit = await alternate(
      rounds,
      uploads,
      (count) => timeSync(count, (i) => directUpload(i)),
      (count) =>
        timeAsync(count, (i) =>
          db.unitOfWork((repos, unit) =>
            unit.savepoint(async () => {
              const row = imageRow(customerOf(i));
              await repos.images.insert(row, DEFAULT_VARIANTS);
              await repos.jobs.appendEvent('image.uploaded', row.id, { customer: row.customer, sha256: row.sha256 }, now);
              await repos.stats.add(now, row.customer, 'jpeg', { uploaded: 1, bytesIn: row.bytes });
            }),
          ),
        ),
    );
    entries.push({
      suite: 'db',
      name: 'upload commit (image, variants, event, rollups) through the port',
      value: uploadCommit.port,
      unit: 'µs',
      baseline: { name: 'the same with the image, variants, event and rollups as better-sqlite3 statements', value: uploadCommit.direct },
      ratio: uploadCommit.direct / uploadCommit.port,
      target: '≤ 5% slower',
      met: uploadCommit.port <= uploadCommit.direct * 1.05,
      notes: `port overhead ${(uploadCommit.port - uploadCommit.direct).toFixed(1)} µs per upload (no fsync on either side)`,
    });

    // What the port avoids: building and compiling the query with Kysely on every call.
    const compile = timeSync(n, (i) =>
      sqliteQueryBuilder
        .selectFrom('api_keys')
        .selectAll()
        .where('key_hash', '=', `hash_${i % keys}`)
        .compile(),
    );
    entries.push({
      suite: 'db',
      name: 'Kysely build + compile per call (not done: queries compile once)',
      value: compile,
      unit: 'µs',
      notes: 'the cost each call would add if queries were built per call',
    });
  } finally {
    db.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  return entries;
}
