import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { ENGINE_ENV } from '../../server/node-flags.js';
import { spawnServer, type ChildServer } from '../helpers/child.js';
import { solid } from '../helpers/images.js';
import { ADMIN_KEY, ApiClient, tempDir } from '../helpers/server.js';

const dataDir = tempDir('darkroom-timeout-');
let server: ChildServer | undefined;

afterAll(() => {
  server?.proc.kill('SIGKILL');
  fs.rmSync(dataDir, { recursive: true, force: true });
});

/** CPU seconds (user + system) the process has used so far. */
function cpuSeconds(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (100 Hz)
}

describe('job timeout', () => {
  it('stops a job past --job-timeout, retries it, fails the image with processing_timeout, and leaves nothing running', async () => {
    server = await spawnServer(
      ['serve', '--data-dir', dataDir, '--port', '0', '--workers', '1', '--admin-key', ADMIN_KEY, '--min-free-bytes', '1MB', '--job-timeout', '1s', '--job-max-attempts', '2'],
      { ...ENGINE_ENV },
    );
    const api = new ApiClient(server.url, ADMIN_KEY);
    // Noise, enlarged to one 9 MP AVIF at quality 100: the encoder alone takes several seconds,
    // and once it runs it cannot be interrupted.
    const noise = await sharp(crypto.randomBytes(1000 * 1000 * 3), { raw: { width: 1000, height: 1000, channels: 3 } }).png().toBuffer();
    const variants = JSON.stringify([{ name: 'slow', width: 3000, height: 3000, fit: 'fill', format: 'avif', quality: 100, withoutEnlargement: false }]);
    const res = await api.upload([{ name: 'noise.png', data: noise, type: 'image/png' }], { variants });
    expect(res.status).toBe(202);

    const failed = await api.waitFor(res.body.id, ['done', 'failed'], 90_000);
    expect(failed.status).toBe('failed');
    expect(failed.error.code).toBe('processing_timeout');
    expect(failed.variants[0].status).toBe('failed');
    const db = new Database(path.join(dataDir, 'darkroom.db'), { readonly: true });
    try {
      expect(db.prepare(`SELECT status, attempts FROM jobs WHERE image_id = ? AND kind = 'process_image'`).get(res.body.id)).toEqual({
        status: 'failed',
        attempts: 2,
      });
    } finally {
      db.close();
    }

    // Nothing of the stopped job goes on running in the background: the process stays idle.
    const before = cpuSeconds(server.proc.pid!);
    await new Promise((r) => setTimeout(r, 2_000));
    const used = cpuSeconds(server.proc.pid!) - before;
    console.log(`CPU used by the server in the 2 s after the image failed: ${used.toFixed(2)} s`);
    expect(used).toBeLessThan(0.3);

    // And the worker takes the next image.
    const next = await api.upload([{ name: 'small.png', data: await solid(200, 150, 'png'), type: 'image/png' }]);
    expect((await api.waitFor(next.body.id)).status).toBe('done');
  }, 120_000);
});
