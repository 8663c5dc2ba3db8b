import crypto from 'node:crypto';
import fs from 'node:fs';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { ENGINE_ENV, ENGINE_NODE_FLAGS } from '../../server/node-flags.js';
import { AVIF_MAX_PIXELS, MAX_OUTPUT_SIDE, WEBP_MAX_PIXELS } from '../../workers/output-caps.js';
import { peakRss, spawnServer, type ChildServer } from '../helpers/child.js';
import { ADMIN_KEY, ApiClient, tempDir } from '../helpers/server.js';

const dataDir = tempDir('darkroom-output-memory-');
let server: ChildServer | undefined;

afterAll(() => {
  server?.proc.kill('SIGKILL');
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const GB = 1000 ** 3;
const MiB = 1024 ** 2;

/**
 * The costliest source for an encoder: noise (nothing to predict, nothing to compress) with an
 * alpha channel, 40 MP, so that every variant at the caps is made of it without enlarging.
 * Tiles of 1024² noise keep the upload small (zlib finds the repeats); encoders see noise.
 */
async function noiseSource(): Promise<Buffer> {
  const tile = await sharp(crypto.randomBytes(1024 * 1024 * 4), { raw: { width: 1024, height: 1024, channels: 4 } })
    .png({ compressionLevel: 0 })
    .toBuffer();
  return sharp({ create: { width: MAX_OUTPUT_SIDE, height: 4882, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0.5 } } })
    .composite([{ input: tile, tile: true, blend: 'source' }])
    .png({ compressionLevel: 1 })
    .toBuffer();
}

describe('the largest request a user key may make', () => {
  it('keeps the server under 1 GB of peak RSS with one worker', async () => {
    server = await spawnServer(
      ['serve', '--data-dir', dataDir, '--port', '0', '--workers', '1', '--admin-key', ADMIN_KEY, '--min-free-bytes', '1MB'],
      { ...ENGINE_ENV },
      undefined,
      [...ENGINE_NODE_FLAGS],
    );
    const admin = new ApiClient(server.url, ADMIN_KEY);
    const key = await admin.json('POST', '/v1/keys', { customer: 'heavy', role: 'user' });
    const user = new ApiClient(server.url, key.body.key);
    const source = await noiseSource();

    // Ten variants, each at the caps for its format: AVIF at its own limit and the highest
    // quality (the most memory any variant needs), first and again last, after everything else
    // has run; WebP at its limit; JPEG and PNG at 40 MP and 8192 a side; five more AVIF at the
    // limit at the lowest quality (nearly the same memory, a fraction of the time).
    const square = (pixels: number) => Math.floor(Math.sqrt(pixels));
    const avif = (name: string, quality: number) => ({ name, width: square(AVIF_MAX_PIXELS), height: square(AVIF_MAX_PIXELS), fit: 'cover', format: 'avif', quality });
    const full = (name: string, format: string) => ({ name, width: MAX_OUTPUT_SIDE, height: 4882, fit: 'cover', format, quality: 100 });
    const variants = [
      avif('avif-q100-first', 100),
      { name: 'webp', width: square(WEBP_MAX_PIXELS), height: square(WEBP_MAX_PIXELS), fit: 'cover', format: 'webp', quality: 100 },
      full('jpeg', 'jpeg'),
      { name: 'png', width: MAX_OUTPUT_SIDE, height: 4882, fit: 'cover', format: 'png' },
      ...[1, 2, 3, 4, 5].map((i) => avif(`avif-q1-${i}`, 1)),
      avif('avif-q100-last', 100),
    ];
    expect(variants).toHaveLength(10);

    const before = await peakRss(server.proc.pid!);
    const started = Date.now();
    const res = await user.upload([{ name: 'noise.png', data: source, type: 'image/png' }], { variants: JSON.stringify(variants) });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    const done = await user.waitFor(res.body.id, ['done', 'failed'], 110_000);
    expect(done.status, JSON.stringify(done.error)).toBe('done');
    expect(done.variants.map((v: { status: string }) => v.status)).toEqual(Array(10).fill('done'));
    const peak = await peakRss(server.proc.pid!);
    console.log(
      `server peak RSS: ${(before / MiB).toFixed(0)} MiB before, ${(peak / MiB).toFixed(0)} MiB (${(peak / GB).toFixed(2)} GB) after ten variants at the caps from 40 MP of noise, in ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
    expect(peak).toBeLessThan(1 * GB);
  }, 120_000);
});
