import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { ERROR_CATALOGUE } from '../../server/errors.js';
import { box, codedImage, fullBox, gridData, heifEnc, HAS_HEIF_ENC, ispe, needsHeifEnc, writeHeif, type CodedImage } from '../helpers/heic.js';
import { eventually } from '../helpers/eventually.js';
import { cameraExif } from '../helpers/images.js';
import { startTestServer, type ApiClient, type TestServer } from '../helpers/server.js';
import { seededRandom, type SeededRandom } from '../helpers/seeded-random.js';

/**
 * Broken and hostile HEICs through a real server: truncated files, boxes that lie about their
 * lengths, sizes no photo has, missing or garbage codec data, and seeded random mutations of
 * real HEICs (the style of fuzz.test.ts). Each is refused at upload with a catalogue code, or
 * processed, or `failed` as `corrupt_image`; never a 5xx, no decode process left behind, no
 * temp file, and the worker pool goes on to process a good photo. Replay with FUZZ_SEED=<seed>.
 */
const MUTANTS = Number(process.env.HEIC_FUZZ_MUTANTS ?? 120);
const SEED = Number(process.env.FUZZ_SEED ?? crypto.randomInt(2 ** 31));
const VARIANTS = JSON.stringify([{ name: 't', width: 64, format: 'webp' }]);
const MAX_PIXELS = 20_000_000;


const withProperty = (image: CodedImage, type: string, replacement: Buffer | undefined) => ({
  ...image,
  properties: [...image.properties.filter((p) => p.toString('latin1', 4, 8) !== type), ...(replacement ? [replacement] : [])],
});

/** A file whose `meta` box is found at `at`, and the offset where its body starts. */
const metaOffset = (heic: Buffer) => heic.readUInt32BE(0);

async function cases(): Promise<Array<{ name: string; bytes: Buffer; expect?: 'refused' }>> {
  const photo = await sharp({ create: { width: 256, height: 192, channels: 3, background: '#3a6ea5' } })
    .composite([{ input: { create: { width: 128, height: 96, channels: 3, background: '#e0c020' } }, left: 0, top: 0 }])
    .withExif(cameraExif())
    .withIccProfile('p3')
    .jpeg()
    .toBuffer();
  const heic = heifEnc(photo, 'jpg');
  const coded = codedImage(heic);
  const single = (image: CodedImage) => writeHeif({ items: [{ id: 1, type: 'hvc1', data: image.data, properties: image.properties }], primary: 1 });
  const grid = (w: number, h: number, gw = w, gh = h, tiles = [2, 3, 4, 5]) =>
    writeHeif({
      items: [
        { id: 1, type: 'grid', data: gridData(2, 2, gw, gh), properties: [ispe(w, h)] },
        ...[2, 3, 4, 5].map((id) => ({ id, type: 'hvc1' as const, data: coded.data, properties: coded.properties, hidden: true })),
      ],
      primary: 1,
      references: [{ type: 'dimg', from: 1, to: tiles }],
    });
  const meta = metaOffset(heic);
  const metaLength = heic.readUInt32BE(meta);
  const set32 = (bytes: Buffer, at: number, value: number) => {
    const copy = Buffer.from(bytes);
    copy.writeUInt32BE(value >>> 0, at);
    return copy;
  };
  const garbage = crypto.createHash('sha512').update('not hevc').digest();
  return [
    { name: 'the signature only', bytes: heic.subarray(0, 12) },
    { name: 'truncated inside the meta box', bytes: heic.subarray(0, meta + Math.floor(metaLength / 2)) },
    { name: 'truncated after the meta box', bytes: heic.subarray(0, meta + metaLength + 8) },
    { name: 'truncated inside the coded image', bytes: heic.subarray(0, heic.length - Math.floor(coded.data.length / 2)) },
    { name: 'the last byte missing', bytes: heic.subarray(0, heic.length - 1) },
    { name: 'a meta box longer than the file', bytes: set32(heic, meta, heic.length * 4) },
    { name: 'a meta box shorter than its header', bytes: set32(heic, meta, 3) },
    { name: 'an ispe of 100000×100000 (10 gigapixels)', bytes: single(withProperty(coded, 'ispe', ispe(100_000, 100_000))), expect: 'refused' },
    { name: 'an ispe of 0×0', bytes: single(withProperty(coded, 'ispe', ispe(0, 0))) },
    { name: 'an ispe of 65535×1 against a 256×192 coded picture', bytes: single(withProperty(coded, 'ispe', ispe(65_535, 1))) },
    { name: 'no ispe', bytes: single(withProperty(coded, 'ispe', undefined)) },
    { name: 'no hvcC', bytes: single(withProperty(coded, 'hvcC', undefined)) },
    { name: 'an hvcC of garbage', bytes: single(withProperty(coded, 'hvcC', box('hvcC', garbage))) },
    { name: 'coded data of garbage', bytes: single({ ...coded, data: Buffer.concat([garbage, garbage]) }) },
    { name: 'no coded data', bytes: single({ ...coded, data: Buffer.alloc(0) }) },
    { name: 'an ICC profile of garbage', bytes: single(withProperty(coded, 'colr', box('colr', Buffer.from('prof'), garbage))) },
    { name: 'an nclx of reserved code points', bytes: single(withProperty(coded, 'colr', box('colr', Buffer.from('nclx'), Buffer.from([0, 255, 0, 255, 0, 255, 0])))) },
    { name: 'an irot and imir of every bit set', bytes: single({ ...coded, properties: [...coded.properties, box('irot', Buffer.from([0xff])), box('imir', Buffer.from([0xff]))] }) },
    { name: 'a grid of 60000×60000 (3.6 gigapixels) from four small tiles', bytes: grid(60_000, 60_000), expect: 'refused' },
    { name: 'a grid whose ispe is small but whose grid says 60000×60000', bytes: grid(500, 380, 60_000, 60_000) },
    { name: 'a grid whose tiles do not cover it', bytes: grid(2000, 2000) },
    { name: 'a grid naming tiles that do not exist', bytes: grid(500, 380, 500, 380, [2, 3, 40, 41]) },
    { name: 'a grid naming itself as a tile', bytes: grid(500, 380, 500, 380, [1, 1, 1, 1]) },
    { name: 'a primary item that does not exist', bytes: writeHeif({ items: [{ id: 1, type: 'hvc1', data: coded.data, properties: coded.properties }], primary: 7 }) },
    { name: 'a property index past the properties', bytes: patchIpmaIndex(single(coded), 0x7f) },
    { name: 'a full box with no room for its version', bytes: single({ ...coded, properties: [...coded.properties.filter((p) => p.toString('latin1', 4, 8) !== 'ispe'), box('ispe')] }) },
    { name: 'a 64-bit box length past the file', bytes: Buffer.concat([heic.subarray(0, meta), Buffer.from([0, 0, 0, 1]), Buffer.from('meta'), Buffer.from([0, 0, 0, 1, 0, 0, 0, 0]), heic.subarray(meta + 8)]) },
    { name: 'an empty meta box', bytes: Buffer.concat([heic.subarray(0, meta), fullBox('meta', 0, 0)]) },
  ];
}

/** The first ipma association of the first entry, pointed at `index`. */
function patchIpmaIndex(heic: Buffer, index: number): Buffer {
  const copy = Buffer.from(heic);
  const at = copy.indexOf('ipma');
  copy[at + 4 + 4 + 4 + 2 + 1] = 0x80 | index;
  return copy;
}

function mutate(source: Buffer, rng: SeededRandom): { bytes: Buffer; how: string } {
  const bytes = Buffer.from(source);
  const meta = metaOffset(bytes);
  const metaEnd = Math.min(bytes.length, meta + bytes.readUInt32BE(meta));
  switch (rng.pick(['meta bit flips', 'meta field', 'truncation', 'data bit flips', 'splice'] as const)) {
    case 'meta bit flips': {
      const n = 1 + rng.int(8);
      for (let i = 0; i < n; i++) bytes[meta + rng.int(metaEnd - meta)]! ^= 1 << rng.int(8);
      return { bytes, how: `${n} bit flips in the meta box` };
    }
    case 'meta field': {
      const at = meta + rng.int(Math.max(1, metaEnd - meta - 4));
      const value = rng.pick([0, 1, 0xff, 0xffff, 0x10000, 0x7fffffff, 0xffffffff, 65_535, 100_000]);
      bytes.writeUInt32BE(value >>> 0, at);
      return { bytes, how: `4 bytes at ${at} (in meta) = ${value}` };
    }
    case 'truncation': {
      const length = rng.int(bytes.length);
      return { bytes: bytes.subarray(0, length), how: `truncated to ${length} of ${source.length} bytes` };
    }
    case 'data bit flips': {
      const n = 1 + rng.int(32);
      for (let i = 0; i < n; i++) bytes[metaEnd + rng.int(bytes.length - metaEnd)]! ^= 1 << rng.int(8);
      return { bytes, how: `${n} bit flips in the coded data` };
    }
    case 'splice': {
      const from = rng.int(bytes.length);
      const length = rng.int(Math.min(512, bytes.length - from) + 1);
      const to = rng.int(bytes.length);
      return { bytes: Buffer.concat([bytes.subarray(0, to), bytes.subarray(from, from + length), bytes.subarray(to)]), how: `${length} bytes from ${from} inserted at ${to}` };
    }
  }
}

/** Decode processes this test's server started (Linux: from /proc; elsewhere none are seen). */
function decodeProcesses(): string[] {
  if (process.platform !== 'linux') return [];
  return fs.readdirSync('/proc').filter((pid) => {
    try {
      if (!/^\d+$/.test(pid) || !fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes('heif/decode.child.js')) return false;
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === process.pid;
    } catch {
      return false; // ended meanwhile
    }
  });
}

let t: TestServer | undefined;
afterAll(() => t?.close());

/** Uploads each, then checks how each ended; returns the problems found. */
async function judge(user: ApiClient, files: Array<{ name: string; bytes: Buffer; expect?: 'refused' }>, outcomes: Map<string, number>): Promise<string[]> {
  const problems: string[] = [];
  const count = (key: string) => outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
  const accepted: Array<{ id: string; name: string }> = [];
  let next = 0;
  const uploader = async () => {
    while (next < files.length) {
      const file = files[next++]!;
      const res = await user.upload([{ name: 'photo.heic', data: file.bytes }], { variants: VARIANTS });
      if (res.status === 202) {
        if (file.expect === 'refused') problems.push(`${file.name}: accepted, should have been refused before any decode`);
        accepted.push({ id: res.body.id, name: file.name });
        continue;
      }
      const code = res.body?.error?.code as keyof typeof ERROR_CATALOGUE | undefined;
      count(`${res.status} ${code}`);
      if (file.expect === 'refused' && code !== 'pixel_limit_exceeded') problems.push(`${file.name}: ${res.status} ${code}, not refused for its pixels`);
      if (res.status >= 500 || !code || ERROR_CATALOGUE[code]?.status !== res.status) problems.push(`${file.name}: ${res.status} ${JSON.stringify(res.body)}`);
    }
  };
  await Promise.all(Array.from({ length: 4 }, uploader));
  for (const { id, name } of accepted) {
    const record = await user.waitFor(id, ['done', 'failed'], 60_000);
    count(record.status === 'done' ? '202 done' : `202 failed ${record.error?.code}`);
    // A broken file fails as corrupt_image; one whose codec data claims a picture past the
    // decoder's limits fails naming them (processing_failed for memory): both final, neither a crash.
    const withinLimits = /could not be decoded within/.test(record.error?.message ?? '');
    if (record.status === 'failed' && record.error?.code !== 'corrupt_image' && !withinLimits) problems.push(`${name}: failed with ${JSON.stringify(record.error)}`);
  }
  return problems;
}

describe.skipIf(!HAS_HEIF_ENC)(`malformed HEICs${needsHeifEnc}`, () => {
  it('refuses each broken or hostile HEIC with a catalogue code or fails it as corrupt_image, and the pool keeps serving', async () => {
    console.log(`HEIC fuzz seed ${SEED} (replay: FUZZ_SEED=${SEED})`);
    t = await startTestServer({ config: { maxInputPixels: String(MAX_PIXELS), jobTimeout: '20s' } });
    const user = await t.client('user', 'fuzz');
    const targeted = await cases();
    const rng = seededRandom(SEED);
    const sources = [
      heifEnc(await sharp({ create: { width: 128, height: 128, channels: 4, background: { r: 10, g: 200, b: 90, alpha: 0.5 } } }).png().toBuffer(), 'png'),
      heifEnc(await sharp({ create: { width: 200, height: 136, channels: 3, background: '#884422' } }).withExif(cameraExif()).jpeg().toBuffer(), 'jpg'),
    ];
    const mutants = Array.from({ length: MUTANTS }, (_, i) => {
      const { bytes, how } = mutate(rng.pick(sources), rng);
      return { name: `mutant ${i} (${how})`, bytes };
    });

    const outcomes = new Map<string, number>();
    const problems = [...(await judge(user, targeted, outcomes)), ...(await judge(user, mutants, outcomes))];
    console.log(`outcomes: ${[...outcomes].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ×${n}`).join(', ')}`);
    expect(problems).toEqual([]);

    // Nothing left behind: no decoded copy in the temp folder; at most one decode process a
    // worker thread, waiting for the next image.
    expect(fs.readdirSync(path.join(t.dataDir, 'tmp'))).toEqual([]);
    expect(decodeProcesses().length).toBeLessThanOrEqual(2);
    // The pool serves on: a good HEIC still processes.
    const good = await user.upload([{ name: 'good.heic', data: sources[1]! }], { variants: VARIANTS });
    expect(good.status).toBe(202);
    expect((await user.waitFor(good.body.id)).status).toBe('done');
    // The decode processes end with the server.
    await t.close();
    t = undefined;
    await eventually(() => decodeProcesses().length === 0, 10_000, 'every decode process ended');
  }, 170_000);
});
