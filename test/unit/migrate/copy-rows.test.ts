/**
 * The copy of `darkroom migrate` (migrate/copy-installation.ts) between a real SQLite file
 * and a private PostgreSQL, in pages far smaller than the tables (every page after the first is
 * a keyset query), twice: the second run adds nothing. What the triggers keep (the fair queue's
 * counts) is not counted twice, and ids generated after the copy are past the copied ones.
 */
import crypto from 'node:crypto';
import path from 'node:path';
import { Readable } from 'node:stream';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Db } from '../../../server/db/sqlite/connection.js';
import { sqliteRowSource } from '../../../server/db/sqlite/row-export.js';
import { openPostgresRowSink } from '../../../server/db/postgres/row-import.js';
import { copyInstallation } from '../../../server/migrate/copy-installation.js';
import { createFsBlobStore } from '../../../server/storage/fs/fs-blob-store.js';
import { privatePostgres } from '../../helpers/postgres.js';
import { tempDirs } from '../../helpers/server.js';

const dir = tempDirs('darkroom-copy-rows-');
let sqlite: Db;
let url: string;
let client: pg.Client;

beforeAll(async () => {
  sqlite = openDatabase(path.join(dir(), 'darkroom.db'));
  const image = sqlite.prepare(
    "INSERT INTO images (id, customer, status, filename, bytes, sha256, format, width, height, source, created_at) VALUES (?, ?, 'queued', 'x.png', 10, ?, 'png', 1, 1, 'upload', ?)",
  );
  const job = sqlite.prepare(
    "INSERT INTO jobs (kind, queue, image_id, customer, generation, event_id, status, max_attempts, run_at, created_at) VALUES ('process', 'image', ?, ?, 1, ?, 'queued', 3, 0, 0)",
  );
  const stats = sqlite.prepare('INSERT INTO stats_daily (level, day, customer, format, uploaded, latency) VALUES (3, ?, ?, ?, ?, ?)');
  for (let i = 0; i < 7; i++) {
    const id = `img-${i}`;
    const customer = i % 2 ? 'acme' : 'globex';
    image.run(id, customer, String(i).repeat(64), 1_000 + i);
    job.run(id, customer, 100 + i);
    stats.run(`2026-01-0${i + 1}`, customer, i === 3 ? 'raw/dng' : 'png', i + 1, Buffer.from([i, 255, 0]));
  }
  // A customer served before: its place in the round-robin is carried over.
  sqlite.prepare("UPDATE job_queues SET served_seq = 41 WHERE customer = 'acme'").run();
  const pgServer = await privatePostgres();
  url = pgServer.url(await pgServer.createEmptyDatabase());
  client = new pg.Client({ connectionString: url });
  await client.connect();
});
afterAll(async () => {
  await client?.end();
  sqlite?.close();
});

const copy = async () => {
  const sink = await openPostgresRowSink(url);
  try {
    return await copyInstallation({ source: sqliteRowSource(sqlite), sink, batchSize: 2 });
  } finally {
    await sink.close();
  }
};
const rowsOf = (report: Awaited<ReturnType<typeof copy>>, table: string) => report.tables.find((t) => t.table === table);

describe('the row copy', () => {
  it('copies every row of every table in pages, parents first', async () => {
    const report = await copy();
    expect(rowsOf(report, 'images')).toEqual({ table: 'images', rows: 7, copied: 7 });
    expect(rowsOf(report, 'jobs')).toEqual({ table: 'jobs', rows: 7, copied: 7 });
    // A table without rowid, paged by its four-column primary key.
    expect(rowsOf(report, 'stats_daily')).toEqual({ table: 'stats_daily', rows: 7, copied: 7 });
    const order = report.tables.map((t) => t.table);
    expect(order.indexOf('images')).toBeLessThan(order.indexOf('jobs'));
    expect(order.indexOf('jobs')).toBeLessThan(order.indexOf('s3_sync_parts'));

    const { rows } = await client.query('SELECT day, customer, format, uploaded, latency FROM stats_daily ORDER BY day');
    expect(rows.map((r) => [r.day, r.customer, r.format, Number(r.uploaded), [...r.latency]])).toEqual(
      Array.from({ length: 7 }, (_, i) => [`2026-01-0${i + 1}`, i % 2 ? 'acme' : 'globex', i === 3 ? 'raw/dng' : 'png', i + 1, [i, 255, 0]]),
    );
    const ids = await client.query('SELECT image_id, id FROM jobs ORDER BY id');
    expect(ids.rows.map((r) => r.image_id)).toEqual(Array.from({ length: 7 }, (_, i) => `img-${i}`));
  });

  it('counts the queued jobs once, and keeps the order customers were served in', async () => {
    const { rows } = await client.query('SELECT customer, waiting, served_seq FROM job_queues ORDER BY customer');
    expect(rows.map((r) => [r.customer, Number(r.waiting), Number(r.served_seq)])).toEqual([
      ['acme', 3, 41],
      ['globex', 4, 0],
    ]);
  });

  it('adds nothing when run again', async () => {
    const report = await copy();
    expect(report.tables.filter((t) => !t.skipped).every((t) => t.copied === 0)).toBe(true);
    expect(rowsOf(report, 'images')).toEqual({ table: 'images', rows: 7, copied: 0 });
    const { rows } = await client.query('SELECT sum(waiting) AS waiting FROM job_queues');
    expect(Number(rows[0].waiting)).toBe(7);
  });

  it('generates ids past the copied ones', async () => {
    const { rows: max } = await client.query('SELECT max(id) AS id FROM jobs');
    const { rows } = await client.query(
      "INSERT INTO jobs (kind, queue, status, max_attempts, run_at, created_at) VALUES ('purge', 'system', 'queued', 1, 0, 0) RETURNING id",
    );
    expect(Number(rows[0].id)).toBeGreaterThan(Number(max[0].id));
    const { rows: served } = await client.query("SELECT nextval('job_queues_served') AS n");
    expect(Number(served[0].n)).toBeGreaterThan(41);
  });
});

describe('the copy with files', () => {
  it('puts every file under its key, verified, and rewrites a variant row that records a data-dir path to that key', async () => {
    const sqliteFile = path.join(dir(), 'darkroom.db');
    const source = openDatabase(sqliteFile);
    const original = Buffer.from('original bytes');
    const thumb = Buffer.from('thumb bytes');
    const originalSha = crypto.createHash('sha256').update(original).digest('hex');
    const thumbSha = crypto.createHash('sha256').update(thumb).digest('hex');
    source
      .prepare(
        "INSERT INTO images (id, customer, status, filename, bytes, sha256, format, width, height, source, created_at) VALUES ('img-a', 'acme', 'done', 'a.png', ?, ?, 'png', 1, 1, 'upload', 0)",
      )
      .run(original.length, originalSha);
    // Rows written before keys existed record the file's path in the data dir.
    source
      .prepare(
        "INSERT INTO variants (image_id, name, spec, status, format, bytes, path, etag) VALUES ('img-a', 'thumb', '{}', 'done', 'webp', ?, '/srv/old-data/processed/img-a/thumb.webp', ?)",
      )
      .run(thumb.length, thumbSha);
    const from = createFsBlobStore(dir());
    from.init();
    await from.put(`originals/${originalSha}`, Readable.from([original]));
    await from.put('processed/img-a/thumb.webp', Readable.from([thumb]));
    const to = createFsBlobStore(dir());
    to.init();

    const target = (await privatePostgres()).url(await (await privatePostgres()).createEmptyDatabase());
    const sink = await openPostgresRowSink(target);
    try {
      const report = await copyInstallation({ source: sqliteRowSource(source), sink, files: { from, to }, batchSize: 2 });
      expect(report.files).toEqual({ copied: 2, copiedBytes: original.length + thumb.length, skipped: 0, skippedBytes: 0, failed: [] });
    } finally {
      await sink.close();
      source.close();
    }
    expect((await to.stat('processed/img-a/thumb.webp'))?.size).toBe(thumb.length);
    const pgClient = new pg.Client({ connectionString: target });
    await pgClient.connect();
    const { rows } = await pgClient.query('SELECT path FROM variants');
    await pgClient.end();
    expect(rows).toEqual([{ path: 'processed/img-a/thumb.webp' }]);
  });
});
