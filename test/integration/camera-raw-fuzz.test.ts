import crypto from 'node:crypto';
import fs from 'node:fs';
import type { ExifTool } from 'exiftool-vendored';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CATALOGUE, PROCESSING_ERROR_CODES } from '../../server/errors.js';
import { exiftoolChildren, previewJpeg, RAW_FIXTURES, rawWithPreview, testExifTool } from '../helpers/raw.js';
import { startTestServer, tempDirs, type TestServer } from '../helpers/server.js';
import { seededRandom, type SeededRandom } from '../helpers/seeded-random.js';

/**
 * Mutants of real camera RAWs (truncated, bytes flipped in the directories, lengths and offsets
 * overwritten, the preview cut), uploaded to a real server: each is refused with a catalogue
 * code, or reaches `done`, or `failed` with a processing code; never a 5xx, never a hung
 * ExifTool, and the server serves on. Replay a run with RAW_FUZZ_SEED=<the seed it printed>.
 */
const MUTANTS = Number(process.env.RAW_FUZZ_MUTANTS ?? 48);
const IN_FLIGHT = 4;
const SEED = Number(process.env.RAW_FUZZ_SEED ?? crypto.randomInt(2 ** 31));
const VARIANTS = JSON.stringify([{ name: 't', width: 64, format: 'webp' }]);

const tempDir = tempDirs('darkroom-raw-fuzz-');
let exiftool: ExifTool;
let t: TestServer;

beforeAll(async () => {
  exiftool = testExifTool();
  // A short job time: a mutant that hung ExifTool or a decoder would show as processing_timeout.
  t = await startTestServer({ config: { jobTimeout: '60s' } });
});
afterAll(async () => {
  await t?.close();
  await exiftool?.end();
});


function mutate(source: Buffer, rng: SeededRandom): { bytes: Buffer; how: string } {
  const bytes = Buffer.from(source);
  switch (rng.pick(['flips', 'truncation', 'word', 'zeroes'] as const)) {
    case 'flips': {
      const n = 1 + rng.int(24);
      // Mostly where the directories and offsets are.
      const span = rng.next() < 0.7 ? Math.min(bytes.length, 1024) : bytes.length;
      for (let i = 0; i < n; i++) bytes[rng.int(span)]! ^= 1 << rng.int(8);
      return { bytes, how: `${n} bit flips in the first ${span} bytes` };
    }
    case 'truncation': {
      const length = rng.int(bytes.length);
      return { bytes: bytes.subarray(0, length), how: `truncated to ${length} of ${source.length} bytes` };
    }
    case 'word': {
      // An offset, count or length of a directory entry: huge, zero, or pointing past the end.
      const value = rng.pick([0, 1, 0xffff, 0x7fffffff, 0xffffffff, bytes.length, bytes.length * 2, rng.int(2 ** 32)]);
      const at = rng.int(Math.max(1, Math.min(bytes.length, 2048) - 4));
      bytes.writeUInt32LE(value >>> 0, at);
      return { bytes, how: `4 bytes at ${at} = ${value >>> 0}` };
    }
    case 'zeroes': {
      const from = rng.int(bytes.length);
      const length = 1 + rng.int(Math.min(4096, bytes.length - from));
      bytes.fill(0, from, from + length);
      return { bytes, how: `${length} zero bytes at ${from}` };
    }
  }
}

describe('mutated camera RAWs', () => {
  it(`are refused, processed or failed with a code, never a crash or a hung ExifTool (seed ${SEED})`, { timeout: 600_000 }, async () => {
    console.log(`camera RAW fuzz seed: ${SEED} (replay with RAW_FUZZ_SEED=${SEED})`);
    const work = tempDir();
    const preview = await previewJpeg(6, 320, 240);
    const corpus = [
      ...fs.readdirSync(RAW_FIXTURES).map((name) => ({ name, bytes: fs.readFileSync(`${RAW_FIXTURES}/${name}`) })),
      { name: 'preview.dng', bytes: await rawWithPreview(exiftool, work, { fixture: 'DNG.dng', tag: 'PreviewImage', orientation: 6, preview }) },
      { name: 'preview.cr2', bytes: await rawWithPreview(exiftool, work, { fixture: 'CanonRaw.cr2', tag: 'PreviewImage', orientation: 6, preview }) },
      { name: 'preview.rw2', bytes: await rawWithPreview(exiftool, work, { fixture: 'Panasonic.rw2', tag: 'JpgFromRaw', orientation: 6, preview }) },
    ];
    const rng = seededRandom(SEED);
    const user = await t.client('user', 'raw-fuzz');
    const outcomes: Record<string, number> = {};
    const problems: string[] = [];
    let next = 0;
    const worker = async () => {
      while (next < MUTANTS) {
        const i = next++;
        const source = rng.pick(corpus);
        const { bytes, how } = mutate(source.bytes, rng);
        const what = `#${i} ${source.name}: ${how}`;
        const res = await user.upload([{ name: source.name, data: bytes }], { variants: VARIANTS });
        let outcome: string;
        if (res.status === 202) {
          const end = await user.waitFor(res.body.id, ['done', 'failed'], 120_000);
          outcome = end.status === 'done' ? 'done' : `failed ${end.error.code}`;
          if (end.status === 'failed' && !(PROCESSING_ERROR_CODES as readonly string[]).includes(end.error.code)) problems.push(`${what}: failed with ${end.error.code}`);
          if (end.status === 'failed' && end.error.code === 'processing_timeout') problems.push(`${what}: timed out`);
        } else {
          outcome = `${res.status} ${res.body?.error?.code}`;
          const code = res.body?.error?.code as keyof typeof ERROR_CATALOGUE;
          if (res.status >= 500 || !ERROR_CATALOGUE[code] || ERROR_CATALOGUE[code].status !== res.status) problems.push(`${what}: answered ${outcome}`);
        }
        outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
      }
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
    console.log('camera RAW fuzz outcomes:', outcomes);
    expect(problems).toEqual([]);
    // Still serving, and still making variants from a preview.
    const ok = await user.upload([{ name: 'ok.dng', data: corpus.find((c) => c.name === 'preview.dng')!.bytes }], { variants: VARIANTS });
    const okEnd = await user.waitFor(ok.body.id);
    expect(okEnd.status, JSON.stringify(okEnd.error)).toBe('done');
    // Nothing of ExifTool runs past the server.
    await t.close();
    expect(exiftoolChildren(exiftool.pids)).toEqual([]);
  });
});
