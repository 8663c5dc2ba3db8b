/**
 * A job during which the server dies (out of memory, a crash in a decoder: here, kill -9 while it
 * runs) is run again at the next start, but not forever: each interruption counts as an attempt,
 * and once they are used up the image fails, counted once, and the server goes on serving
 * instead of dying again at every start. Real server processes on one data dir.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { ENGINE_ENV } from '../../server/node-flags.js';
import { spawnServer, type ChildServer } from '../helpers/child.js';
import { eventually } from '../helpers/eventually.js';
import { solid } from '../helpers/images.js';
import { ADMIN_KEY, ApiClient, tempDir } from '../helpers/server.js';

const dataDir = tempDir('darkroom-poison-');
let server: ChildServer | undefined;

afterAll(() => {
  server?.proc.kill('SIGKILL');
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const MAX_ATTEMPTS = 2;
const start = () =>
  spawnServer(
    ['serve', '--data-dir', dataDir, '--port', '0', '--workers', '1', '--admin-key', ADMIN_KEY, '--min-free-bytes', '1MB', '--job-max-attempts', String(MAX_ATTEMPTS)],
    { ...ENGINE_ENV },
  );

/** The image's process_image job as the database has it (read-only, beside the server). */
function processingJob(id: string) {
  const db = new Database(path.join(dataDir, 'darkroom.db'), { readonly: true });
  try {
    return db.prepare(`SELECT status, attempts, interruptions, last_error FROM jobs WHERE image_id = ? AND kind = 'process_image'`).get(id) as
      | { status: string; attempts: number; interruptions: number; last_error: string | null }
      | undefined;
  } finally {
    db.close();
  }
}

describe('a job the server dies running', () => {
  it('is tried --job-max-attempts times across restarts, then fails for good; the server keeps serving', async () => {
    server = await start();
    let api = new ApiClient(server.url, ADMIN_KEY);
    // A job that takes seconds (one 9 MP AVIF at quality 100), so the kill lands while it runs.
    const noise = await sharp(crypto.randomBytes(1000 * 1000 * 3), { raw: { width: 1000, height: 1000, channels: 3 } }).png().toBuffer();
    const variants = JSON.stringify([{ name: 'slow', width: 3000, height: 3000, fit: 'fill', format: 'avif', quality: 100, withoutEnlargement: false }]);
    const res = await api.upload([{ name: 'noise.png', data: noise, type: 'image/png' }], { variants });
    expect(res.status).toBe(202);
    const id: string = res.body.id;

    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      await eventually(() => {
        const job = processingJob(id);
        return job?.status === 'running' && job.attempts === attempt;
      }, 30_000, `attempt ${attempt} running`);
      server.proc.kill('SIGKILL');
      expect(await server.exited).toBe('SIGKILL');
      server = await start();
    }
    api = new ApiClient(server.url, ADMIN_KEY);

    // Its attempts are used up: it fails at this start instead of running a third time.
    const record = await api.waitFor(id, ['done', 'failed'], 10_000);
    expect(record.status).toBe('failed');
    expect(record.error).toMatchObject({ code: 'processing_failed', message: `the server stopped during this job ${MAX_ATTEMPTS} times` });
    expect(record.variants[0].status).toBe('failed');
    expect(processingJob(id)).toEqual({
      status: 'failed',
      attempts: MAX_ATTEMPTS,
      interruptions: MAX_ATTEMPTS,
      last_error: `the server stopped during this job ${MAX_ATTEMPTS} times`,
    });

    // Counted once, announced once.
    const stats = (await api.json('GET', '/v1/stats')).body;
    expect(stats.totals).toMatchObject({ uploaded: 1, processed: 0, failed: 1 });
    const db = new Database(path.join(dataDir, 'darkroom.db'), { readonly: true });
    try {
      expect(db.prepare(`SELECT type, count(*) AS n FROM outbox WHERE image_id = ? AND type IN ('image.failed', 'image.processed') GROUP BY type`).all(id)).toEqual([
        { type: 'image.failed', n: 1 },
      ]);
    } finally {
      db.close();
    }

    // And the server works on: the next image is processed.
    const next = await api.upload([{ name: 'small.png', data: await solid(200, 150, 'png'), type: 'image/png' }]);
    expect((await api.waitFor(next.body.id)).status).toBe('done');
    server.proc.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  }, 120_000);
});
