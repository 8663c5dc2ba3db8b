import fs from 'node:fs';
import sharp from 'sharp';
import { jpeg400mp, tiff1gb } from './lib/inputs.js';
import { peakRssMb, startDarkroom, uploadFile, waitAllDone } from './lib/processes.js';
import type { BenchEntry } from './report.js';

async function throughApi(file: string): Promise<{ seconds: number; rss: number }> {
  const server = await startDarkroom(['--workers', '2']);
  try {
    const started = performance.now();
    const id = await uploadFile(server.url, file);
    await waitAllDone(server.url, [id]);
    return { seconds: (performance.now() - started) / 1000, rss: peakRssMb(server.proc.pid!) };
  } finally {
    await server.stop();
  }
}

/** Very large inputs through the API: time, and the server's peak memory. */
export async function largeBench(options: { quick: boolean }): Promise<BenchEntry[]> {
  const inputs = options.quick ? [{ name: '400 MP JPEG (20000×20000)', file: await jpeg400mp() }] : [
    { name: '400 MP JPEG (20000×20000)', file: await jpeg400mp() },
    { name: '1 GB uncompressed TIFF (18000×18000)', file: await tiff1gb() },
  ];
  const entries: BenchEntry[] = [];
  for (const input of inputs) {
    const meta = await sharp(input.file, { limitInputPixels: false }).metadata();
    const mb = fs.statSync(input.file).size / 1e6;
    const { seconds, rss } = await throughApi(input.file);
    entries.push(
      {
        suite: 'large',
        name: `${input.name}: upload → done`,
        value: seconds,
        unit: 's',
        notes: `${meta.width}×${meta.height}, ${mb.toFixed(0)} MB file`,
      },
      {
        suite: 'large',
        name: `${input.name}: server peak RSS`,
        value: rss,
        unit: 'MB',
        target: '≤ 600 MB',
        met: rss <= 600,
      },
    );
  }
  return entries;
}
