import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endRawProbe } from '../../server/media/probe-raw.js';
import { perlWithFaults, RAW_FIXTURES, rawFixture, testExifTool } from '../helpers/raw.js';
import { startTestServer, tempDirs, type ApiClient, type TestServer } from '../helpers/server.js';

/**
 * ExifTool failing (a Perl process that crashes in the middle of a command, or cannot start) is
 * a passing failure, never a verdict on the photo: a job is retried and ends `done`, an upload is
 * probed again by a new process, and only an ExifTool that does not answer at all turns uploads
 * away, with 503 and Retry-After. The faults come from a stand-in for perl on PATH that runs the
 * real one and kills it at the commands it is told to.
 */
const tempDir = tempDirs('darkroom-raw-faults-');
const savedPath = process.env.PATH;
let perl: ReturnType<typeof perlWithFaults>;
let t: TestServer;
let user: ApiClient;

beforeAll(async () => {
  perl = perlWithFaults(tempDir());
  // Before the server starts: its worker threads take their environment when they are created.
  process.env.PATH = `${perl.dir}:${savedPath}`;
  t = await startTestServer({ config: { jobMaxAttempts: '2' } });
  user = await t.client('user', 'faults');
});
afterAll(async () => {
  await t?.close();
  process.env.PATH = savedPath;
});

/** The size of the largest preview in the Panasonic RW2, as ExifTool itself extracts it. */
async function rw2PreviewSize() {
  const exiftool = testExifTool();
  try {
    const meta = await sharp(await exiftool.extractBinaryTagToBuffer('JpgFromRaw', `${RAW_FIXTURES}/Panasonic.rw2`)).metadata();
    return { width: meta.width, height: meta.height };
  } finally {
    await exiftool.end();
  }
}

describe('ExifTool crashing in a worker', () => {
  it('while extracting the preview: the job is retried and the RAW ends done, not no_preview', async () => {
    perl.set({ crash: { line: '-b', times: 1 } });
    const res = await user.uploadRaw(rawFixture('Panasonic.rw2'), 'crash-extract.rw2');
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    const done = await user.waitFor(res.body.id);
    expect(perl.faults().crash?.times, 'the crash was due and happened').toBe(0);
    expect(done.status, JSON.stringify(done.error)).toBe('done');
    expect(done.preview).toEqual(await rw2PreviewSize());
  });

  it('while listing the previews: retried, done', async () => {
    perl.set({ crash: { line: '-JpgFromRaw', times: 1 } });
    const res = await user.uploadRaw(rawFixture('Panasonic.rw2'), 'crash-list.rw2');
    const done = await user.waitFor(res.body.id);
    expect(perl.faults().crash?.times).toBe(0);
    expect(done.status, JSON.stringify(done.error)).toBe('done');
  });

  it('on every attempt: the job ends processing_failed (retryable trouble), never no_preview or corrupt_image', async () => {
    perl.set({ crash: { line: '-b', times: 100 } });
    const res = await user.uploadRaw(rawFixture('Panasonic.rw2'), 'crash-always.rw2');
    const failed = await user.waitFor(res.body.id);
    const left = perl.faults().crash?.times;
    perl.set({});
    expect(left, 'one crash per attempt').toBe(98);
    expect(failed.status).toBe('failed');
    expect(failed.error.code).toBe('processing_failed');
    expect(failed.error.message).toMatch(/ExifTool failed/);
  });

  it('while reading the metadata: retried, and the metadata is there', async () => {
    perl.set({ crash: { line: '-LensModel', times: 1 } });
    const res = await user.uploadRaw(rawFixture('FujiFilm.raf'), 'crash-meta.raf');
    await user.waitFor(res.body.id);
    let meta: any;
    for (let i = 0; i < 200; i++) {
      meta = (await user.json('GET', `/v1/image/${res.body.id}/metadata`)).body;
      if (meta.extracted) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(perl.faults().crash?.times).toBe(0);
    expect(meta.extracted).toBe(true);
    expect(meta.exif?.make).toMatch(/FUJIFILM/i);
  });
});

describe('ExifTool failing at upload', () => {
  it('crashing once while probing: probed again by a new process, accepted', async () => {
    perl.set({ crash: { line: '-fast', times: 1 } });
    const res = await user.uploadRaw(rawFixture('CanonRaw.cr3'), 'probe-crash.cr3');
    expect(perl.faults().crash?.times).toBe(0);
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    expect(res.body).toMatchObject({ format: 'raw', rawFormat: 'cr3' });
  });

  // A failed start fails the probe at once where the process pool reports it (startError); where
  // it does not, each of the three tries waits out its whole bound: hence the longer timeout.
  it('not starting at all: 503 unavailable with Retry-After, and accepted once it starts again', { timeout: 120_000 }, async () => {
    perl.set({ failStart: true });
    await endRawProbe(); // the process the earlier uploads started would still answer
    const refused = await user.uploadRaw(rawFixture('CanonRaw.cr3'), 'no-perl.cr3');
    perl.set({});
    expect(refused.status, JSON.stringify(refused.body)).toBe(503);
    expect(refused.body.error.code).toBe('unavailable');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    const accepted = await user.uploadRaw(rawFixture('CanonRaw.cr3'), 'perl-back.cr3');
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(202);
  });

  it('crashing on one file every time while answering otherwise: that file is refused with 415', async () => {
    perl.set({ crash: { line: '-fast', times: 2 } });
    const refused = await user.uploadRaw(rawFixture('CanonRaw.cr3'), 'kills-exiftool.cr3');
    const left = perl.faults().crash?.times;
    perl.set({});
    expect(left).toBe(0);
    expect(refused.status, JSON.stringify(refused.body)).toBe(415);
    expect(refused.body.error.code).toBe('unsupported_media_type');
  });
});
