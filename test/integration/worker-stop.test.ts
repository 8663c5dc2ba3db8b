import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createImagePool, type ImagePool } from '../../server/jobs/pool.js';
import type { ProcessTask } from '../../workers/types.js';
import { eventually } from '../helpers/eventually.js';
import { solid } from '../helpers/images.js';
import { tempDir } from '../helpers/server.js';

const dir = tempDir('darkroom-stop-');
const source = path.join(dir, 'source.jpg');
let pool: ImagePool;

beforeAll(async () => {
  fs.writeFileSync(source, await solid(2400, 1800, 'jpeg', '#6b3d4f'));
  pool = createImagePool({ threads: 1 });
});
afterAll(async () => {
  await pool.destroy();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A task of `n` AVIF variants of ~4 MP (about a second each here). */
function task(name: string, n: number, extra: Partial<ProcessTask> = {}): Omit<ProcessTask, 'cancel'> {
  return {
    input: source,
    format: 'jpeg',
    animated: false,
    maxInputPixels: 100_000_000,
    maxOutputPixels: 40_000_000,
    scratch: path.join(dir, `${name}.tif`),
    variants: Array.from({ length: n }, (_, i) => ({
      spec: { name: `v${i}`, width: 2400, height: 1800, fit: 'fill', format: 'avif', quality: 90, withoutEnlargement: false },
      output: path.join(dir, `${name}-${i}.avif`),
    })),
    ...extra,
  } as const;
}

describe('stopping a running task', () => {
  it('a cancelled task stops at its next step and frees its thread: the variants after it are never made', async () => {
    const controller = new AbortController();
    const running = pool.processImage(task('cancelled', 4), controller.signal);
    await eventually(() => fs.existsSync(path.join(dir, 'cancelled-0.avif')), 30_000, 'the first variant');
    controller.abort(new Error('superseded'));
    const result = await running;
    expect(result).toMatchObject({ ok: false, code: 'cancelled', retryable: false });
    // The abort came while the second variant was being encoded, at the latest: the last two never started.
    expect(fs.existsSync(path.join(dir, 'cancelled-2.avif'))).toBe(false);
    expect(fs.existsSync(path.join(dir, 'cancelled-3.avif'))).toBe(false);
    // The same (only) thread takes the next task at once.
    expect(await pool.processImage(task('next', 1))).toMatchObject({ ok: true });
  });

  it('a task past its deadline stops with processing_timeout, retryable', async () => {
    const result = await pool.processImage(task('late', 4, { deadline: Date.now() + 500 }));
    expect(result).toMatchObject({ ok: false, code: 'processing_timeout', retryable: true });
    expect(fs.existsSync(path.join(dir, 'late-3.avif'))).toBe(false);
  });

  it('a task that cannot reach a next step in time is terminated after the grace period', async () => {
    const impatient = createImagePool({ threads: 1, terminateAfterMs: 50 });
    try {
      // Noise, enlarged to one 9 MP AVIF: seconds in one encoder call, which nothing interrupts.
      const noise = path.join(dir, 'noise.png');
      fs.writeFileSync(noise, await sharp(crypto.randomBytes(1000 * 1000 * 3), { raw: { width: 1000, height: 1000, channels: 3 } }).png().toBuffer());
      const slow = { ...task('stuck', 1), input: noise, format: 'png' };
      slow.variants[0]!.spec = { ...slow.variants[0]!.spec, width: 3000, height: 3000, quality: 100 };
      expect(await impatient.processImage(task('warm', 1))).toMatchObject({ ok: true }); // the thread is up
      const controller = new AbortController();
      const running = impatient.processImage(slow, controller.signal);
      await new Promise((r) => setTimeout(r, 500));
      controller.abort(new Error('stop now'));
      await expect(running).rejects.toThrow();
      // A new thread takes the next task.
      expect(await impatient.processImage(task('after', 1))).toMatchObject({ ok: true });
    } finally {
      await impatient.destroy();
    }
  });
});
