import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { ENGINE_ENV, ENGINE_NODE_FLAGS } from '../../server/node-flags.js';
import { AVIF_MAX_PIXELS, MAX_OUTPUT_SIDE, WEBP_MAX_PIXELS } from '../../workers/output-caps.js';
import { SVG_RENDER_LIMITS, type SvgRenderReport } from '../../workers/svg-render.js';
import { peakRss, spawnServer, type ChildServer } from '../helpers/child.js';
import { ADMIN_KEY, ApiClient, tempDir } from '../helpers/server.js';
import { filterChainSvg, maskChainSvg, nestedOpacitySvg } from '../../bench/lib/svg-documents.js';

const dataDir = tempDir('darkroom-output-memory-');
const servers: ChildServer[] = [];

afterAll(() => {
  for (const server of servers) server.proc.kill('SIGKILL');
  fs.rmSync(dataDir, { recursive: true, force: true });
});

/** A server of its own (its peak RSS is its own), one worker, and a `user` key on it. */
async function userOnOwnServer(name: string, logLevel = 'warn') {
  const server = await spawnServer(
    ['serve', '--data-dir', path.join(dataDir, name), '--port', '0', '--workers', '1', '--admin-key', ADMIN_KEY, '--min-free-bytes', '1MB'],
    { ...ENGINE_ENV, DARKROOM_LOG_LEVEL: logLevel },
    undefined,
    [...ENGINE_NODE_FLAGS],
  );
  servers.push(server);
  const admin = new ApiClient(server.url, ADMIN_KEY);
  const key = await admin.json('POST', '/v1/keys', { customer: 'heavy', role: 'user' });
  return { server, user: new ApiClient(server.url, key.body.key) };
}

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
    const { server, user } = await userOnOwnServer('stills');
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

/** Resident memory of a process now (VmRSS), in bytes; 0 once it is gone. */
function currentRss(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}

/** The server's child processes (the SVG render processes: it starts no others). */
function childrenOf(pid: number): number[] {
  return fs.readdirSync(`/proc/${pid}/task`).flatMap((tid) => {
    try {
      return fs.readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' ').filter(Boolean).map(Number);
    } catch {
      return []; // the thread ended meanwhile
    }
  });
}

/**
 * Watches the server while SVGs are rendered: the most it holds while a render process lives
 * (it waits for the render meanwhile, so its memory is flat then), and how many render
 * processes it started. Each render process reports its own peak, exactly (getrusage).
 */
function watchRenders(serverPid: number) {
  let serverWhileRendering = 0;
  const seen = new Set<number>();
  const timer = setInterval(() => {
    const children = childrenOf(serverPid);
    if (!children.length) return;
    for (const pid of children) seen.add(pid);
    serverWhileRendering = Math.max(serverWhileRendering, currentRss(serverPid));
  }, 10);
  return {
    stop() {
      clearInterval(timer);
      return { serverWhileRendering, renderProcesses: seen.size };
    },
  };
}

describe('the worst SVGs a user key may send', () => {
  it('keep the server and the process that renders them under 1 GB together, with one worker', async () => {
    const { server, user } = await userOnOwnServer('svg', 'info');
    // Declared at 40 MP and asked for at 40 MP, so that a render at full size is tried: at that
    // size the filter chain would need 14 surfaces of 160 MB, the masks 24, the groups 200.
    // The first two are rendered smaller and enlarged; the last needs more than the limit at
    // every size tried and is refused.
    const variants = JSON.stringify([
      { name: 'jpeg', width: MAX_OUTPUT_SIDE, height: 4882, fit: 'cover', format: 'jpeg', quality: 100 },
      { name: 'webp', width: 4000, height: 4000, fit: 'cover', format: 'webp', quality: 100 },
    ]);
    const documents = [
      { name: 'filter-chain.svg', svg: filterChainSvg(MAX_OUTPUT_SIDE, 4882, 10), made: true },
      { name: 'mask-chain.svg', svg: maskChainSvg(MAX_OUTPUT_SIDE, 4882, 12), made: true },
      { name: 'nested-groups.svg', svg: nestedOpacitySvg(MAX_OUTPUT_SIDE, 4882, 200), made: false },
    ];
    const watch = watchRenders(server.proc.pid!);
    const started = Date.now();
    for (const { name, svg, made } of documents) {
      expect(Buffer.byteLength(svg)).toBeLessThan(8192); // a few kilobytes
      const res = await user.upload([{ name, data: Buffer.from(svg), type: 'image/svg+xml' }], { variants });
      expect(res.status, JSON.stringify(res.body)).toBe(202);
      const done = await user.waitFor(res.body.id, ['done', 'failed'], 100_000);
      if (made) {
        expect(done.status, JSON.stringify(done.error)).toBe('done');
        expect(done.variants.map((v: { width: number; height: number }) => [v.width, v.height])).toEqual([
          [MAX_OUTPUT_SIDE, 4882],
          [4000, 4000],
        ]);
      } else {
        expect(done.status).toBe('failed');
        expect(done.error.code).toBe('processing_failed');
        expect(done.error.message).toMatch(/could not be rendered within 512 MiB of memory/);
      }
    }
    const seconds = (Date.now() - started) / 1000;
    const { serverWhileRendering, renderProcesses } = watch.stop();
    const serverPeak = await peakRss(server.proc.pid!);
    const renders = server
      .stderr()
      .split('\n')
      .filter((line) => line.includes('"svg rendered"'))
      .map((line) => JSON.parse(line) as SvgRenderReport);
    expect(renders).toHaveLength(2); // the refused one is logged as a failed job
    const renderPeak = Math.max(...renders.flatMap((r) => r.attempts.map((a) => a.peakRss ?? Infinity)));
    for (const render of renders) {
      console.log(
        `SVG rendered for ${render.width}×${render.height}: ${render.attempts.map((a) => `${a.width}×${a.height} ${a.outcome} (${((a.peakRss ?? 0) / MiB).toFixed(0)} MiB, ${a.cpuMs} ms CPU)`).join(', ')}`,
      );
    }
    console.log(
      `render processes peaked at ${(renderPeak / MiB).toFixed(0)} MiB (as each measured itself); the server used at most ${(serverWhileRendering / MiB).toFixed(0)} MiB meanwhile: ${((serverWhileRendering + renderPeak) / GB).toFixed(2)} GB together at most. The server alone peaked at ${(serverPeak / MiB).toFixed(0)} MiB (making the variants, once the render process was gone). Three SVGs in ${seconds.toFixed(1)} s`,
    );
    expect(renderProcesses).toBeGreaterThanOrEqual(7); // three tries for each of the three
    // The limit, and what memory can grow by in the 5 ms between two looks of the watchdog.
    expect(renderPeak).toBeLessThanOrEqual(SVG_RENDER_LIMITS.memoryBytes + 32 * MiB);
    expect(serverWhileRendering + renderPeak).toBeLessThan(1 * GB);
    expect(serverPeak).toBeLessThan(1 * GB);
  }, 120_000);
});

/**
 * An animated WebP of two frames of noise with noisy alpha: the costliest animation for the
 * WebP encoder within its cap (every frame counted: 2 × 8 MP), which holds several canvases the
 * size of a frame. Two frames of 2828² of random bytes, so the encoder finds nothing to predict.
 */
async function noiseAnimation(): Promise<Buffer> {
  const side = 2828;
  const frame = crypto.randomBytes(side * side * 4);
  const second = Buffer.concat([frame.subarray(4 * 1000), frame.subarray(0, 4 * 1000)]);
  return sharp(Buffer.concat([frame, second]), { raw: { width: side, height: side * 2, channels: 4, pageHeight: side } })
    .webp({ quality: 100, effort: 0 })
    .toBuffer();
}

describe('the largest animation a user key may make', () => {
  it('keeps the server under 1 GB of peak RSS with one worker', async () => {
    const { server, user } = await userOnOwnServer('animation');
    const source = await noiseAnimation();
    // A conversion at full size and the largest WebP box a request may ask for: both come out
    // at 16 MP with their two frames.
    const variants = JSON.stringify([
      { name: 'conversion', fit: 'inside', format: 'webp', quality: 100 },
      { name: 'box', width: 4000, height: 4000, fit: 'cover', format: 'webp', quality: 100 },
    ]);
    const before = await peakRss(server.proc.pid!);
    const started = Date.now();
    const res = await user.upload([{ name: 'noise.webp', data: source, type: 'image/webp' }], { variants });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    const done = await user.waitFor(res.body.id, ['done', 'failed'], 100_000);
    expect(done.status, JSON.stringify(done.error)).toBe('done');
    for (const variant of done.variants as Array<{ name: string; width: number; height: number }>) {
      expect(variant.width * variant.height * 2, variant.name).toBeLessThanOrEqual(WEBP_MAX_PIXELS);
      const file = await user.download(res.body.id, variant.name);
      expect(await sharp(file.body, { animated: true }).metadata()).toMatchObject({ pages: 2, width: variant.width, pageHeight: variant.height });
    }
    const peak = await peakRss(server.proc.pid!);
    console.log(
      `server peak RSS: ${(before / MiB).toFixed(0)} MiB before, ${(peak / MiB).toFixed(0)} MiB (${(peak / GB).toFixed(2)} GB) after two animated WebP variants of 2 × 8 MP of noise, in ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
    expect(peak).toBeLessThan(1 * GB);
  }, 120_000);
});
