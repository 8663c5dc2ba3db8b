import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { ERROR_CATALOGUE, PROCESSING_ERROR_CODES } from '../../server/errors.js';
import { FIXTURES, jpegWithExif, solid } from '../helpers/images.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { seededRandom, type SeededRandom } from '../helpers/seeded-random.js';

/**
 * 1,000 mutants of real images, uploaded to a real server: every one must be refused with a
 * catalogue code, or reach `done`, or `failed` as a `corrupt_image`; never a 5xx, and the server
 * serves on. Replay a run with FUZZ_SEED=<the seed it printed>.
 */
const MUTANTS = Number(process.env.FUZZ_MUTANTS ?? 1000);
const IN_FLIGHT = 8;
const SEED = Number(process.env.FUZZ_SEED ?? crypto.randomInt(2 ** 31));
const VARIANTS = JSON.stringify([{ name: 't', width: 64, format: 'webp' }]);


/** Small real images in every format Darkroom reads, and a few it does not. */
async function corpus(): Promise<Array<{ name: string; bytes: Buffer }>> {
  const files = fs
    .readdirSync(FIXTURES)
    .filter((f) => fs.statSync(path.join(FIXTURES, f)).size <= 110_000)
    .map((f) => ({ name: f, bytes: fs.readFileSync(path.join(FIXTURES, f)) }));
  const base = sharp({ create: { width: 96, height: 64, channels: 4, background: { r: 200, g: 80, b: 40, alpha: 0.7 } } });
  return [
    ...files,
    { name: 'exif.jpg', bytes: await jpegWithExif() },
    { name: 'progressive.jpg', bytes: await base.clone().jpeg({ progressive: true }).toBuffer() },
    { name: 'interlaced.png', bytes: await base.clone().png({ progressive: true }).toBuffer() },
    { name: 'palette.png', bytes: await base.clone().png({ palette: true }).toBuffer() },
    { name: 'lzw.tiff', bytes: await base.clone().tiff({ compression: 'lzw' }).toBuffer() },
    { name: 'alpha.webp', bytes: await base.clone().webp().toBuffer() },
    { name: 'lossless.webp', bytes: await base.clone().webp({ lossless: true }).toBuffer() },
    { name: 'small.avif', bytes: await base.clone().avif().toBuffer() },
    { name: 'small.gif', bytes: await solid(40, 30, 'gif', '#3366cc') },
  ];
}

/** Offsets of the PNG chunks' length fields (after the 8-byte signature). */
function pngChunks(bytes: Buffer): number[] {
  const offsets: number[] = [];
  for (let at = 8; at + 8 <= bytes.length; ) {
    offsets.push(at);
    at += 12 + bytes.readUInt32BE(at);
  }
  return offsets;
}

/** Offsets of JPEG segment markers that carry a length, and of the SOF segment. */
function jpegSegments(bytes: Buffer): { lengths: number[]; sof?: number } {
  const lengths: number[] = [];
  let sof: number | undefined;
  for (let at = 2; at + 4 <= bytes.length; ) {
    if (bytes[at] !== 0xff) break;
    const marker = bytes[at + 1]!;
    if (marker === 0xda) break; // entropy-coded data follows
    lengths.push(at + 2);
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) sof = at;
    at += 2 + bytes.readUInt16BE(at + 2);
  }
  return { lengths, sof };
}

const interesting32 = [0, 1, 2, 0x7f, 0xff, 0x100, 0x7fff, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff, 65500, 16384, 30000];

/** One mutant of `source` and what was done to it. */
function mutate(source: Buffer, rng: SeededRandom): { bytes: Buffer; how: string } {
  const bytes = Buffer.from(source);
  const kinds = ['bit flips', 'truncation', 'header field', 'chunk length', 'swapped chunk lengths', 'splice'] as const;
  const kind = rng.pick(kinds);
  const isPng = bytes.subarray(1, 4).toString('latin1') === 'PNG';
  const isJpeg = bytes[0] === 0xff && bytes[1] === 0xd8;
  switch (kind) {
    case 'bit flips': {
      const n = 1 + rng.int(16);
      // Half the time where the headers are.
      const span = rng.next() < 0.5 ? Math.min(bytes.length, 512) : bytes.length;
      for (let i = 0; i < n; i++) bytes[rng.int(span)]! ^= 1 << rng.int(8);
      return { bytes, how: `${n} bit flips in the first ${span} bytes` };
    }
    case 'truncation': {
      const length = rng.int(bytes.length);
      return { bytes: bytes.subarray(0, length), how: `truncated to ${length} of ${source.length} bytes` };
    }
    case 'header field': {
      const value = rng.next() < 0.6 ? rng.pick(interesting32) : rng.int(2 ** 32);
      if (isPng && bytes.length >= 24) {
        const field = rng.pick([16, 20]); // IHDR width, height
        bytes.writeUInt32BE(value >>> 0, field);
        return { bytes, how: `PNG IHDR ${field === 16 ? 'width' : 'height'} = ${value >>> 0}` };
      }
      const sof = isJpeg ? jpegSegments(bytes).sof : undefined;
      if (sof !== undefined && sof + 9 <= bytes.length) {
        const field = rng.pick([sof + 5, sof + 7]); // height, width
        bytes.writeUInt16BE(value & 0xffff, field);
        return { bytes, how: `JPEG SOF ${field === sof + 5 ? 'height' : 'width'} = ${value & 0xffff}` };
      }
      const at = rng.int(Math.max(1, Math.min(bytes.length - 4, 64)));
      bytes.writeUInt32LE(value >>> 0, at);
      return { bytes, how: `4 header bytes at ${at} = ${value >>> 0}` };
    }
    case 'chunk length': {
      const fields = isPng ? pngChunks(bytes) : isJpeg ? jpegSegments(bytes).lengths : [];
      if (!fields.length) return mutate(source, rng);
      const at = rng.pick(fields);
      const value = rng.pick(interesting32);
      if (isPng) bytes.writeUInt32BE(value >>> 0, at);
      else bytes.writeUInt16BE(value & 0xffff, at);
      return { bytes, how: `${isPng ? 'PNG chunk' : 'JPEG segment'} length at ${at} = ${value}` };
    }
    case 'swapped chunk lengths': {
      const fields = isPng ? pngChunks(bytes) : isJpeg ? jpegSegments(bytes).lengths : [];
      if (fields.length < 2) return mutate(source, rng);
      const a = rng.pick(fields);
      const b = rng.pick(fields.filter((f) => f !== a));
      const size = isPng ? 4 : 2;
      const copy = Buffer.from(bytes.subarray(a, a + size));
      bytes.copy(bytes, a, b, b + size);
      copy.copy(bytes, b);
      return { bytes, how: `${isPng ? 'PNG chunk' : 'JPEG segment'} lengths at ${a} and ${b} swapped` };
    }
    case 'splice': {
      const from = rng.int(bytes.length);
      const length = rng.int(Math.min(4096, bytes.length - from) + 1);
      const to = rng.int(bytes.length);
      const spliced = Buffer.concat([bytes.subarray(0, to), bytes.subarray(from, from + length), bytes.subarray(to)]);
      return { bytes: spliced, how: `${length} bytes from ${from} inserted at ${to}` };
    }
  }
}

let t: TestServer | undefined;
afterAll(() => t?.close());

describe('fuzzing uploads', () => {
  it(`answers ${MUTANTS} mutants of real images with a catalogue code or processes them, and keeps serving`, async () => {
    console.log(`fuzz seed ${SEED} (replay: FUZZ_SEED=${SEED})`);
    // A pixel limit well below the default keeps a mutant's claimed size from costing minutes
    // to decode; the limit itself answers with a catalogue code like any other refusal.
    t = await startTestServer({ config: { maxInputPixels: '20000000', jobTimeout: '20s' } });
    const user = await t.client('user', 'fuzz');
    const sources = await corpus();
    const rng = seededRandom(SEED);
    const mutants = Array.from({ length: MUTANTS }, (_, i) => {
      const source = rng.pick(sources);
      const { bytes, how } = mutate(source.bytes, rng);
      return { i, name: source.name, bytes, how };
    });

    const problems: string[] = [];
    const accepted: Array<{ id: string; mutant: (typeof mutants)[number] }> = [];
    const outcomes = new Map<string, number>();
    const count = (key: string) => outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
    let next = 0;
    const uploader = async () => {
      while (next < mutants.length) {
        const mutant = mutants[next++]!;
        const label = `mutant ${mutant.i} (${mutant.name}: ${mutant.how})`;
        const res = await user.upload([{ name: mutant.name, data: mutant.bytes }], { variants: VARIANTS });
        if (res.status === 202) {
          accepted.push({ id: res.body.id, mutant });
          continue;
        }
        const code = res.body?.error?.code as keyof typeof ERROR_CATALOGUE | undefined;
        count(`${res.status} ${code}`);
        if (res.status >= 500) problems.push(`${label}: ${res.status} ${JSON.stringify(res.body)}`);
        else if (!code || ERROR_CATALOGUE[code]?.status !== res.status) problems.push(`${label}: ${res.status} without a catalogue code: ${JSON.stringify(res.body)}`);
      }
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, uploader));

    for (const { id, mutant } of accepted) {
      const record = await user.waitFor(id, ['done', 'failed'], 60_000);
      count(record.status === 'done' ? '202 done' : `202 failed ${record.error?.code}`);
      // Nothing around these images fails (no full disk, no missing file): a mutant that fails
      // is a broken image, and says so (CONTRACT §4), rather than being retried as if it might pass.
      if (record.status === 'failed' && record.error?.code !== 'corrupt_image') {
        const known = (PROCESSING_ERROR_CODES as readonly string[]).includes(record.error?.code);
        problems.push(`mutant ${mutant.i} (${mutant.name}: ${mutant.how}): failed with ${known ? '' : 'unknown '}code ${JSON.stringify(record.error)}`);
      }
    }
    console.log(`outcomes: ${[...outcomes].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ×${n}`).join(', ')}`);

    expect(problems).toEqual([]);
    expect((await fetch(`${t.url}/healthz`)).status).toBe(200);
    const healthy = await user.upload([{ name: 'after.png', data: await solid(50, 40, 'png'), type: 'image/png' }]);
    expect((await user.waitFor(healthy.body.id)).status).toBe('done');
  }, 170_000);
});
