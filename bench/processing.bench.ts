import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { photos24mp } from './lib/inputs.js';
import { startDarkroom, uploadFile, waitAllDone } from './lib/processes.js';
import { median, type BenchEntry } from './report.js';

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

/**
 * 24-megapixel JPEGs through the whole API (upload → done, default variants) vs sharp alone.
 * The two alternate in rounds (sharp, API, sharp, API …) and the ratio is the median of the
 * rounds' ratios, so load that comes and goes on a shared machine hits both sides alike.
 */
export async function processingBench(options: { quick: boolean }): Promise<BenchEntry[]> {
  const count = options.quick ? 16 : 100;
  const rounds = options.quick ? 2 : 4;
  const distinct = options.quick ? 4 : 10;
  const sources = await photos24mp(distinct);
  const perRound = Math.ceil(count / rounds);

  const server = await startDarkroom(['--workers', String(WORKERS)]);
  const ratios: number[] = [];
  let apiSeconds = 0;
  let baselineSeconds = 0;
  let done = 0;
  try {
    // Warm both sides (worker threads started, files in the page cache) outside the timing.
    await sharpAlone(sources.slice(0, WORKERS), WORKERS);
    await waitAllDone(server.url, await Promise.all(sources.slice(0, WORKERS).map((f, i) => uploadFile(server.url, f, `warm-${i}.jpg`))));
    for (let r = 0; r < rounds; r++) {
      const files = Array.from({ length: Math.min(perRound, count - done) }, (_, i) => sources[(done + i) % distinct]!);
      const base = await sharpAlone(files, WORKERS);
      const started = Date.now(); // the same clock as the server's processedAt
      const ids: string[] = [];
      for (const [i, file] of files.entries()) ids.push(await uploadFile(server.url, file, `photo-${done + i}.jpg`));
      const api = ((await waitAllDone(server.url, ids)) - started) / 1000;
      ratios.push(base / api);
      apiSeconds += api;
      baselineSeconds += base;
      done += files.length;
    }
  } finally {
    await server.stop();
  }
  const rate = done / apiSeconds;
  const baseline = done / baselineSeconds;
  const ratio = median(ratios);
  return [
    {
      suite: 'processing',
      name: `${done} × 24 MP JPEG through the API (upload → done, thumb + display)`,
      value: rate,
      unit: 'images/s',
      baseline: { name: `sharp alone, same variants, ${WORKERS} at a time`, value: baseline },
      ratio,
      target: '≥ 0.90×',
      met: ratio >= 0.9,
      notes: `${WORKERS} workers; ${rounds} alternating rounds, ratio = median of the rounds' (${ratios.map((x) => x.toFixed(2)).join(', ')}); the API also receives, hashes and stores each file, extracts metadata, a thumbhash and the dominant colour`,
    },
  ];
}
