/**
 * The read-only views for BI tools (CONTRACT §9, docs/statistics.md): a login role made a member
 * of `darkroom_bi` reads `darkroom_stats_daily` and `darkroom_images`, and nothing else.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { solid } from '../helpers/images.js';
import { privatePostgres, type PrivatePostgres } from '../helpers/postgres.js';
import { startTestServer, tempDirs, type ApiClient, type TestServer } from '../helpers/server.js';

const dir = tempDirs('darkroom-bi-');
let postgres: PrivatePostgres;
let database: string;
let t: TestServer;
let acme: ApiClient;
let globex: ApiClient;
let bi: pg.Client;

beforeAll(async () => {
  postgres = await privatePostgres();
  // An empty database: the server's own migrations make the views and the role.
  database = await postgres.createEmptyDatabase();
  t = await startTestServer({ dataDir: dir(), config: { databaseUrl: postgres.url(database), workers: '1' } });
  acme = await t.client('user', 'acme');
  globex = await t.client('user', 'globex');
  // What an administrator does for a BI tool: a login role in darkroom_bi.
  const admin = new pg.Client({ connectionString: postgres.url(database) });
  await admin.connect();
  await admin.query('CREATE ROLE metabase LOGIN IN ROLE darkroom_bi');
  await admin.end();
  bi = new pg.Client({ connectionString: postgres.url(database).replace('postgres@', 'metabase@') });
  await bi.connect();
});
afterAll(async () => {
  await bi?.end();
  await t?.close();
});

describe('the BI views on PostgreSQL', () => {
  it('are read through darkroom_bi, a role that cannot log in itself', async () => {
    const { rows } = await bi.query("SELECT rolcanlogin FROM pg_roles WHERE rolname = 'darkroom_bi'");
    expect(rows).toEqual([{ rolcanlogin: false }]);
  });

  it('give a member of darkroom_bi the images and the daily statistics, per customer and format', async () => {
    const jpeg = await solid(64, 48, 'jpeg', '#aa3300');
    const png = await solid(30, 20, 'png', '#0033aa');
    const png2 = await solid(30, 20, 'png', '#00aa33');
    const accepted = [await acme.uploadRaw(jpeg, 'a.jpg', 'image/jpeg'), await acme.uploadRaw(png, 'b.png', 'image/png'), await globex.uploadRaw(png2, 'c.png', 'image/png')];
    expect(accepted.map((a) => a.status)).toEqual([202, 202, 202]);
    const [a1, a2, g1] = accepted.map((a) => a.body.id as string);
    for (const [client, id] of [[acme, a1!], [acme, a2!], [globex, g1!]] as const) expect((await client.waitFor(id)).status).toBe('done');

    const images = await bi.query('SELECT * FROM darkroom_images ORDER BY customer, format');
    expect(images.fields.map((f) => f.name)).toEqual([
      'id', 'customer', 'status', 'format', 'raw_format', 'bytes', 'width', 'height', 'created_at', 'processed_at', 'error_code',
    ]);
    expect(images.rows.map((r) => [r.id, r.customer, r.status, r.format, r.raw_format, Number(r.bytes), Number(r.width), Number(r.height), r.error_code])).toEqual([
      [a1, 'acme', 'done', 'jpeg', null, jpeg.length, 64, 48, null],
      [a2, 'acme', 'done', 'png', null, png.length, 30, 20, null],
      [g1, 'globex', 'done', 'png', null, png2.length, 30, 20, null],
    ]);
    // timestamptz: node-postgres reads them as Dates; created before processed, both recent.
    for (const r of images.rows) {
      expect(r.created_at).toBeInstanceOf(Date);
      expect(r.processed_at.getTime()).toBeGreaterThanOrEqual(r.created_at.getTime());
      expect(Math.abs(Date.now() - r.created_at.getTime())).toBeLessThan(60_000);
    }

    const stats = await bi.query('SELECT *, day::text AS day_text, pg_typeof(day)::text AS day_type FROM darkroom_stats_daily ORDER BY customer, format');
    const today = new Date().toISOString().slice(0, 10);
    expect(stats.rows.map((r) => [r.day_text, r.day_type, r.customer, r.format, r.raw_format, Number(r.uploaded), Number(r.processed), Number(r.failed), Number(r.rejected), Number(r.bytes_in)])).toEqual([
      [today, 'date', 'acme', 'jpeg', null, 1, 1, 0, 0, jpeg.length],
      [today, 'date', 'acme', 'png', null, 1, 1, 0, 0, png.length],
      [today, 'date', 'globex', 'png', null, 1, 1, 0, 0, png2.length],
    ]);
    for (const r of stats.rows) {
      expect(Number(r.bytes_out)).toBeGreaterThan(0);
      expect(Number(r.p95_ms)).toBeGreaterThanOrEqual(Number(r.p50_ms));
    }
  });

  it('splits a camera RAW statistics key into format "raw" and its raw_format', async () => {
    // A RAW upload needs a RAW file; the view's split is checked on the rollup row itself.
    const admin = new pg.Client({ connectionString: postgres.url(database) });
    await admin.connect();
    try {
      await admin.query("INSERT INTO stats_daily (level, day, customer, format, uploaded) VALUES (3, '2026-01-02', 'initech', 'raw/dng', 2)");
      // Coarser rollup rows (all customers, all formats) are not the view's: sums of its rows.
      await admin.query("INSERT INTO stats_daily (level, day, customer, format, uploaded) VALUES (0, '2026-01-02', '', '', 2)");
    } finally {
      await admin.end();
    }
    const { rows } = await bi.query("SELECT format, raw_format, uploaded FROM darkroom_stats_daily WHERE day = '2026-01-02'");
    expect(rows.map((r) => [r.format, r.raw_format, Number(r.uploaded)])).toEqual([['raw', 'dng', 2]]);
  });

  it('deny a member of darkroom_bi every table', async () => {
    for (const table of ['images', 'api_keys', 'stats_daily', 'webhook_endpoints', 'variants']) {
      await expect(bi.query(`SELECT * FROM ${table} LIMIT 1`), table).rejects.toMatchObject({ code: '42501' });
    }
    await expect(bi.query("INSERT INTO stats_daily (level, day, customer, format) VALUES (3, '2026-01-03', 'x', 'y')")).rejects.toMatchObject({ code: '42501' });
  });
});
