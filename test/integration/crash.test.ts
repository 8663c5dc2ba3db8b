import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnServer, type ChildServer } from '../helpers/child.js';
import { ADMIN_KEY, ApiClient, listFiles, tempDir } from '../helpers/server.js';

const dataDir = tempDir('darkroom-crash-');
let server: ChildServer | undefined;

afterAll(async () => {
  server?.proc.kill('SIGKILL');
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const start = () => spawnServer(['serve', '--data-dir', dataDir, '--port', '0', '--workers', '2', '--admin-key', ADMIN_KEY]);

/** Photos big enough that processing takes a while, so the kill lands mid-batch. */
async function photo(i: number) {
  const noise = Buffer.alloc(1200 * 900 * 3);
  for (let p = 0; p < noise.length; p++) noise[p] = (p * 31 + i * 17 + ((p / 3600) | 0)) & 0xff;
  return sharp(noise, { raw: { width: 1200, height: 900, channels: 3 } }).resize(3600, 2700).jpeg({ quality: 92 }).toBuffer();
}

describe('crash safety', () => {
  it('after kill -9 mid-batch and a restart, every image reaches done exactly once', async () => {
    server = await start();
    let client = new ApiClient(server.url, ADMIN_KEY);
    const ids: string[] = [];
    let bytesIn = 0;
    for (let i = 0; i < 12; i++) {
      const data = await photo(i);
      const res = await client.upload([{ name: `p${i}.jpg`, data }]);
      expect(res.status).toBe(202);
      ids.push(res.body.id);
      bytesIn += data.length;
    }
    // Kill while some are done and others are still waiting or running.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const list = await client.json('GET', '/v1/images?limit=100');
      const done = list.body.items.filter((i: any) => i.status === 'done').length;
      if (done >= 1) {
        expect(done).toBeLessThan(ids.length);
        break;
      }
      if (Date.now() > deadline) throw new Error('nothing processed in time');
      await new Promise((r) => setTimeout(r, 20));
    }
    server.proc.kill('SIGKILL');
    expect(await server.exited).toBe('SIGKILL');

    server = await start();
    client = new ApiClient(server.url, ADMIN_KEY);
    for (const id of ids) expect((await client.waitFor(id, ['done', 'failed'], 60_000)).status).toBe('done');

    // Exactly once: one "processed" event per image, one finished job of each kind.
    const db = new Database(path.join(dataDir, 'darkroom.db'), { readonly: true });
    try {
      const processed = db.prepare(`SELECT image_id, count(*) AS n FROM outbox WHERE type = 'image.processed' GROUP BY image_id`).all() as Array<{ image_id: string; n: number }>;
      expect(processed.map((r) => r.n)).toEqual(ids.map(() => 1));
      const jobs = db.prepare(`SELECT kind, status, count(*) AS n FROM jobs GROUP BY kind, status ORDER BY kind`).all();
      expect(jobs).toEqual([
        { kind: 'extract_metadata', status: 'done', n: ids.length },
        { kind: 'process_image', status: 'done', n: ids.length },
      ]);
      const stuck = db.prepare(`SELECT count(*) AS n FROM images WHERE status != 'done'`).get() as { n: number };
      expect(stuck.n).toBe(0);
    } finally {
      db.close();
    }

    // Statistics still equal the truth: nothing counted twice for the jobs that ran again.
    const stats = (await client.json('GET', '/v1/stats?groupBy=customer,format')).body;
    const records = await Promise.all(ids.map((id) => client.json('GET', `/v1/image/${id}`)));
    const bytesOut = records.reduce((n, r) => n + r.body.variants.reduce((m: number, v: any) => m + v.bytes, 0), 0);
    expect(stats.groups).toEqual([
      expect.objectContaining({ customer: 'local', format: 'jpeg', uploaded: ids.length, processed: ids.length, failed: 0, rejected: 0, bytesIn, bytesOut }),
    ]);

    // No duplicate or stray variant files; the temp folder is empty.
    const files = listFiles(path.join(dataDir, 'processed'));
    expect(files).toHaveLength(ids.length * 2);
    for (const id of ids) {
      expect(files.filter((f) => f.includes(id)).map((f) => path.basename(f)).sort()).toEqual(['display.webp', 'thumb.webp']);
    }
    expect(fs.readdirSync(path.join(dataDir, 'tmp'))).toEqual([]);
    // And each is a whole, decodable image.
    const sample = await client.download(ids[ids.length - 1]!, 'display');
    expect((await sharp(sample.body).metadata()).width).toBe(2048);
  });

  it('stops cleanly on SIGTERM with exit code 0 within 10 seconds', async () => {
    const started = Date.now();
    server!.proc.kill('SIGTERM');
    expect(await server!.exited).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(fs.existsSync(path.join(dataDir, 'darkroom.pid'))).toBe(false);
  });
});
