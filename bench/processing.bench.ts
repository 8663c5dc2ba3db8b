import { photos24mp } from './lib/inputs.js';
import { plainSharpBest, plainSharpNaive } from './lib/plain-sharp.js';
import { cpuSecondsOf, startDarkroom, uploadFile, waitAllDone } from './lib/processes.js';
import { median, type BenchEntry } from './report.js';

const WORKERS = 2;

/**
 * 24-megapixel JPEGs through the whole API (upload → done, default variants) vs the best plain
 * sharp program making the same outputs (bench/lib/plain-sharp.ts), with the straightforward
 * program as an informative row. The three alternate in rounds and each ratio is the median of
 * the rounds' ratios, so load that comes and goes on a shared machine hits every side alike.
 * CPU seconds per image are the server process's (every thread: HTTP, hashing, SQLite, the
 * workers) against the baseline process's.
 */
export async function processingBench(options: { quick: boolean }): Promise<BenchEntry[]> {
  const count = options.quick ? 16 : 100;
  const rounds = options.quick ? 2 : 4;
  const distinct = options.quick ? 4 : 10;
  const sources = await photos24mp(distinct);
  const perRound = Math.ceil(count / rounds);

  const server = await startDarkroom(['--workers', String(WORKERS)]);
  const pid = server.proc.pid!;
  const ratios = { best: [] as number[], naive: [] as number[] };
  const seconds = { api: 0, best: 0, naive: 0 };
  const cpu = { api: 0, best: 0, naive: 0 };
  let done = 0;
  try {
    // Warm every side (worker threads started, files in the page cache) outside the timing.
    await plainSharpBest(sources.slice(0, WORKERS), WORKERS);
    await waitAllDone(server.url, await Promise.all(sources.slice(0, WORKERS).map((f, i) => uploadFile(server.url, f, `warm-${i}.jpg`))));
    for (let r = 0; r < rounds; r++) {
      const files = Array.from({ length: Math.min(perRound, count - done) }, (_, i) => sources[(done + i) % distinct]!);
      const best = await plainSharpBest(files, WORKERS);
      const naive = await plainSharpNaive(files, WORKERS);
      const cpuBefore = cpuSecondsOf(pid);
      const started = Date.now(); // the same clock as the server's processedAt
      const ids: string[] = [];
      for (const [i, file] of files.entries()) ids.push(await uploadFile(server.url, file, `photo-${done + i}.jpg`));
      const api = ((await waitAllDone(server.url, ids)) - started) / 1000;
      cpu.api += cpuSecondsOf(pid) - cpuBefore;
      ratios.best.push(best.seconds / api);
      ratios.naive.push(naive.seconds / api);
      seconds.api += api;
      seconds.best += best.seconds;
      seconds.naive += naive.seconds;
      cpu.best += best.cpuSeconds;
      cpu.naive += naive.cpuSeconds;
      done += files.length;
    }
  } finally {
    await server.stop();
  }
  const rate = done / seconds.api;
  const name = `${done} × 24 MP JPEG through the API (upload → done, thumb + display)`;
  const roundsNote = (list: number[]) => `${rounds} alternating rounds, ratio = median of the rounds' (${list.map((x) => x.toFixed(2)).join(', ')})`;
  const perImage = (s: number) => s / done;
  return [
    {
      suite: 'processing',
      name,
      value: rate,
      unit: 'images/s',
      baseline: { name: `best plain sharp program, same outputs, ${WORKERS} at a time`, value: done / seconds.best },
      ratio: median(ratios.best),
      target: '≥ 0.95×',
      met: median(ratios.best) >= 0.95,
      notes: `${WORKERS} workers; ${roundsNote(ratios.best)}; the baseline reads the EXIF, decodes once with shrink-on-load and makes both variants, the thumbhash and the dominant colour from that decode; the API also receives, hashes and stores each file and its records`,
    },
    {
      suite: 'processing',
      name: `${name} vs the straightforward sharp program`,
      value: rate,
      unit: 'images/s',
      baseline: { name: `sharp, one pipeline per variant, ${WORKERS} at a time`, value: done / seconds.naive },
      ratio: median(ratios.naive),
      notes: `informative; ${roundsNote(ratios.naive)}`,
    },
    {
      suite: 'processing',
      name: 'CPU seconds per image (server process, every thread)',
      value: perImage(cpu.api),
      unit: 's',
      baseline: { name: 'best plain sharp program (its process)', value: perImage(cpu.best) },
      ratio: cpu.best / cpu.api,
      notes: `the straightforward program: ${perImage(cpu.naive).toFixed(2)} s per image`,
    },
  ];
}
