import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { classifyError } from '../../workers/failures.js';
import { HEIF_DECODE_LIMITS, HeifDecodeFailed, openHeif } from '../../workers/heif/decode.js';
import { createStopper, Stopped } from '../../workers/stopper.js';
import { eventually } from '../helpers/eventually.js';
import { heifEnc, HAS_HEIF_ENC, needsHeifEnc } from '../helpers/heic.js';
import { tempDirs } from '../helpers/server.js';

/**
 * The HEIF decoder's bounds, on the real decode process: memory, the job's deadline and
 * cancellation, a broken file; after each, the next image decodes in a process of its own.
 */
const dirs = tempDirs('darkroom-heif-decode-');
let dir: string;
let photo: string;

const decodeProcesses = () =>
  fs.readdirSync('/proc').filter((pid) => {
    try {
      return /^\d+$/.test(pid) && fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes('heif/decode.child.js') && ppid(pid) === process.pid;
    } catch {
      return false;
    }
  });
const ppid = (pid: string) => {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
};

function request(file: string, stop = createStopper({})) {
  return { file, format: 'heif', options: { limitInputPixels: 100_000_000 }, scratch: path.join(dir, `decoded-${Math.random()}.tif`), stop };
}

describe.skipIf(!HAS_HEIF_ENC || process.platform !== 'linux')(`HEIF decode process${needsHeifEnc}`, () => {
  beforeAll(async () => {
    dir = dirs();
    // 12 MP, an iPhone photo's size; encoded fast (x265's ultrafast preset), decoded like any.
    const jpeg = await sharp({ create: { width: 4032, height: 3024, channels: 3, background: '#000', noise: { type: 'gaussian', mean: 128, sigma: 40 } } }).jpeg().toBuffer();
    photo = path.join(dir, 'photo.heic');
    fs.writeFileSync(photo, heifEnc(jpeg, 'jpg', ['-p', 'preset=ultrafast', '-q', '30']));
  }, 60_000);

  it('decodes a 12 MP photo into an uncompressed TIFF, and the next one in the same warm process', async () => {
    const first = await openHeif(request(photo));
    expect(await sharp(first.input).metadata()).toMatchObject({ format: 'tiff', width: 4032, height: 3024, channels: 3 });
    const processes = decodeProcesses();
    expect(processes).toHaveLength(1);
    const second = await openHeif(request(photo));
    expect(decodeProcesses()).toEqual(processes);
    for (const source of [first, second]) {
      await source.release!();
      expect(fs.existsSync(source.input as string)).toBe(false);
    }
  }, 60_000);

  it('fails a decode past its memory limit as processing_failed, not retried, leaving no file', async () => {
    const limits = { memoryBytes: 160 * 1024 * 1024, cpuMs: HEIF_DECODE_LIMITS.cpuMs };
    const attempt = request(photo);
    const err = await openHeif(attempt, limits).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HeifDecodeFailed);
    expect((err as HeifDecodeFailed).reason).toBe('memory');
    expect(classifyError(err)).toMatchObject({ code: 'processing_failed', retryable: false });
    expect(fs.existsSync(attempt.scratch)).toBe(false);
  }, 60_000);

  it.each(['cancelled', 'processing_timeout'] as const)('stops when the job is %s, ending the decode process; the next image decodes', async (reason) => {
    const cancel = new Int32Array(new SharedArrayBuffer(4));
    const stop = reason === 'cancelled' ? createStopper({ cancel }) : createStopper({ deadline: Date.now() + 150 });
    if (reason === 'cancelled') setTimeout(() => Atomics.store(cancel, 0, 1), 150);
    const attempt = request(photo, stop);
    const err = await openHeif(attempt).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Stopped);
    expect((err as Stopped).code).toBe(reason);
    await eventually(() => decodeProcesses().length === 0, 5_000, 'the decode process ended');
    expect(fs.existsSync(attempt.scratch)).toBe(false);
    const next = await openHeif(request(photo));
    await next.release!();
  }, 60_000);

  it('starts a new decode process when the warm one was killed while it waited (the OOM killer, an operator)', async () => {
    await (await openHeif(request(photo))).release!();
    const [pid] = decodeProcesses();
    expect(pid).toBeDefined();
    process.kill(Number(pid), 'SIGKILL');
    await eventually(() => !decodeProcesses().includes(pid!), 5_000, 'the killed process gone');
    const next = await openHeif(request(photo));
    expect((await sharp(next.input).metadata()).width).toBe(4032);
    await next.release!();
    expect(decodeProcesses()).not.toContain(pid);
  }, 60_000);

  it('fails a broken file as corrupt_image, and decodes the next image in a fresh process', async () => {
    const broken = path.join(dir, 'broken.heic');
    const bytes = fs.readFileSync(photo);
    // The coded picture cut short: the header is whole, so only the decoder can tell.
    fs.writeFileSync(broken, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    const err = await openHeif(request(broken)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HeifDecodeFailed);
    expect(classifyError(err)).toMatchObject({ code: 'corrupt_image', retryable: false });
    const next = await openHeif(request(photo));
    expect((await sharp(next.input).metadata()).width).toBe(4032);
    await next.release!();
  }, 60_000);
});
