import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { photos24mp } from './lib/inputs.js';
import { startDarkroom, uploadFile, waitAllDone } from './lib/processes.js';
import type { BenchEntry } from './report.js';

const WORKERS = 2;

/**
 * The default variants made by sharp alone, the straightforward way (one pipeline per variant,
 * shrink-on-load doing the heavy lifting), `parallelism` images at a time in one process.
 */
async function sharpAlone(files: string[], parallelism: number): Promise<number> {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-bench-sharp-'));
  const started = performance.now();
  let next = 0;
  const lane = async () => {
    while (next < files.length) {
      const i = next++;
      const input = files[i]!;
      await sharp(input).rotate().resize(320, 320, { fit: 'inside', withoutEnlargement: true }).webp().toFile(path.join(out, `${i}-thumb.webp`));
      await sharp(input).rotate().resize(2048, 2048, { fit: 'inside', withoutEnlargement: true }).webp({ quality: 80 }).toFile(path.join(out, `${i}-display.webp`));
    }
  };
  await Promise.all(Array.from({ length: parallelism }, lane));
  const seconds = (performance.now() - started) / 1000;
  fs.rmSync(out, { recursive: true, force: true });
  return seconds;
}

/** 24-megapixel JPEGs through the whole API (upload → done, default variants) vs sharp alone. */
export async function processingBench(options: { quick: boolean }): Promise<BenchEntry[]> {
  const count = options.quick ? 16 : 100;
  const distinct = options.quick ? 4 : 10;
  const sources = await photos24mp(distinct);
  const files = Array.from({ length: count }, (_, i) => sources[i % distinct]!);

  const baselineSeconds = await sharpAlone(files, WORKERS);

  const server = await startDarkroom(['--workers', String(WORKERS)]);
  let seconds: number;
  try {
    const started = performance.now();
    const ids: string[] = [];
    for (const [i, file] of files.entries()) ids.push(await uploadFile(server.url, file, `photo-${i}.jpg`));
    await waitAllDone(server.url, ids);
    seconds = (performance.now() - started) / 1000;
  } finally {
    await server.stop();
  }
  const rate = count / seconds;
  const baseline = count / baselineSeconds;
  return [
    {
      suite: 'processing',
      name: `${count} × 24 MP JPEG through the API (upload → done, thumb + display)`,
      value: rate,
      unit: 'images/s',
      baseline: { name: `sharp alone, same variants, ${WORKERS} at a time`, value: baseline },
      ratio: rate / baseline,
      target: '≥ 0.90×',
      met: rate / baseline >= 0.9,
      notes: `${WORKERS} workers; the API also hashes, stores, extracts metadata, thumbhash and dominant colour`,
    },
  ];
}
