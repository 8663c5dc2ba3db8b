import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { photos24mp } from './lib/inputs.js';
import { BENCH_KEY, ROOT, cpuSecondsOf, niced, startDarkroom, uploadFile, waitAllDone, withPeakRss, type BenchServer } from './lib/processes.js';
import { checkWebp, runLoad, summarise, uniqueWidths, type LoadResult, type RenderTarget } from './lib/render-load.js';
import { median, type BenchEntry } from './report.js';

/** Two clients, each sending its next request when its answer is in (the issue's load). */
const CLIENTS = 2;
/** Distinct 24 MP originals; unique requests go round them. */
const PHOTOS = 4;
/** The output: WebP at an explicit quality on both sides (each side's default could differ). */
const QUALITY = 80;
/** Unique widths come from here: about 1000 pixels, 301 of them, none asked twice of a server. */
const WIDTH_FROM = 850;
const WIDTH_TO = 1150;
/** The one URL asked again and again. */
const REPEATED_WIDTH = 1000;
/**
 * Both servers run at the priority Darkroom's worker threads give themselves (nice 10,
 * workers/priority.ts: image work yields to the API's requests). Alone on a machine priority
 * changes nothing. On a shared one where the kernel shares the CPU thread by thread (a server
 * under systemd, or without autogroup), other processes would otherwise take their CPU from
 * Darkroom's renders and not from ipx's, which run at the priority they were started with.
 * (With autogroup, as in a terminal session, CPU is shared between sessions first: nice only
 * orders the threads of the bench's own session, where the client runs at 0.)
 */
const SERVER_NICE = 10;

/**
 * `GET /v1/image/{id}/render` against unjs/ipx (npm `ipx`), each server in a process of its own,
 * on the same 24 MP JPEG originals (ipx reads them from a folder, Darkroom has them uploaded and
 * processed before anything is timed), 2 clients, about 1000 px wide WebP at quality 80:
 *
 * - unique requests: a width never asked before of that server, so no cache helps either side;
 * - repeated requests: one URL again and again: Darkroom answers from its stored render, ipx
 *   (no result cache) renders it every time.
 *
 * The two servers alternate in rounds (which goes first alternates too) and each ratio is the
 * median of the rounds', so load that comes and goes on a shared machine hits both alike. Every
 * answer is checked to be a WebP of the width asked (bench/lib/render-load.ts), Darkroom's unique
 * answers to be renders (`Darkroom-Cache: miss`) and its repeated ones to be stored (`hit`).
 */
export async function renderBench(options: { quick: boolean }): Promise<BenchEntry[]> {
  // Many short rounds: a burst of other work on the machine lands in one side's turn of one round.
  const rounds = options.quick ? 2 : 6;
  const uniquePerRound = options.quick ? 12 : 24;
  const repeatedMs = options.quick ? 1000 : 2000;
  const warmUnique = 4;
  const photos = await photos24mp(PHOTOS);
  const widths = uniqueWidths(warmUnique + rounds * uniquePerRound, WIDTH_FROM, WIDTH_TO);

  // ipx serves the same files from a folder of its own (hard links where it can: one copy in the page cache).
  const originals = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-bench-ipx-'));
  for (const [i, file] of photos.entries()) {
    const copy = path.join(originals, `photo-${i}.jpg`);
    try {
      fs.linkSync(file, copy);
    } catch {
      fs.copyFileSync(file, copy); // another file system
    }
  }

  const darkroom = await startDarkroom([], { nice: SERVER_NICE });
  let ipx: BenchServer | undefined;
  try {
    ipx = await startIpx(originals, SERVER_NICE);
    const ids: string[] = [];
    for (const [i, file] of photos.entries()) ids.push(await uploadFile(darkroom.url, file, `photo-${i}.jpg`));
    // Processed before anything is timed: their jobs do not compete with the renders.
    await waitAllDone(darkroom.url, ids);

    const sides = {
      darkroom: {
        server: darkroom,
        target: (photo: number, width: number): RenderTarget => ({
          url: `${darkroom.url}/v1/image/${ids[photo]}/render?w=${width}&format=webp&q=${QUALITY}`,
          headers: { authorization: `Bearer ${BENCH_KEY}` },
          width,
        }),
      },
      ipx: {
        server: ipx,
        target: (photo: number, width: number): RenderTarget => ({ url: `${ipx!.url}/w_${width},q_${QUALITY},f_webp/photo-${photo}.jpg`, width }),
      },
    };
    type Side = keyof typeof sides;
    /** Each side's next unique request: the same sequence of (photo, width) on both. */
    const uniqueCursor: Record<Side, number> = { darkroom: 0, ipx: 0 };
    const uniqueLoad = (side: Side, count: number) => {
      const start = uniqueCursor[side];
      uniqueCursor[side] += count;
      return runLoad({ concurrency: CLIENTS, count, next: (i) => sides[side].target((start + i) % PHOTOS, widths[start + i]!) });
    };
    const repeatedLoad = (side: Side, durationMs: number) => runLoad({ concurrency: CLIENTS, durationMs, next: () => sides[side].target(0, REPEATED_WIDTH) });

    // Warm-up, untimed: worker threads started, sharp loaded, the originals in the page cache,
    // the repeated URL stored by Darkroom. Then both sides' answers for one request decoded
    // whole: real WebPs of one size (same width, same height: the same fit).
    for (const side of ['darkroom', 'ipx'] as const) {
      await uniqueLoad(side, warmUnique);
      await repeatedLoad(side, 500);
    }
    await sameImage(sides.darkroom.target(0, REPEATED_WIDTH), sides.ipx.target(0, REPEATED_WIDTH));

    const unique: Record<Side, LoadResult[]> = { darkroom: [], ipx: [] };
    const repeated: Record<Side, LoadResult[]> = { darkroom: [], ipx: [] };
    const cpu: Record<Side, { unique: number; repeated: number }> = { darkroom: { unique: 0, repeated: 0 }, ipx: { unique: 0, repeated: 0 } };
    const timed = async <T>(side: Side, kind: 'unique' | 'repeated', work: () => Promise<T>): Promise<T> => {
      const pid = sides[side].server.proc.pid!;
      const before = cpuSecondsOf(pid);
      const result = await work();
      cpu[side][kind] += cpuSecondsOf(pid) - before;
      return result;
    };

    const measured = await withPeakRss(darkroom.proc.pid!, () =>
      withPeakRss(ipx!.proc.pid!, async () => {
        for (let r = 0; r < rounds; r++) {
          const order: Side[] = r % 2 === 0 ? ['ipx', 'darkroom'] : ['darkroom', 'ipx'];
          for (const side of order) unique[side].push(await timed(side, 'unique', () => uniqueLoad(side, uniquePerRound)));
          for (const side of order) repeated[side].push(await timed(side, 'repeated', () => repeatedLoad(side, repeatedMs)));
          console.log(
            `  round ${r + 1}: unique ${rps(unique.darkroom[r]!)} vs ${rps(unique.ipx[r]!)} req/s, repeated ${rps(repeated.darkroom[r]!)} vs ${rps(repeated.ipx[r]!)} req/s (Darkroom vs ipx)`,
          );
        }
      }),
    );
    const peak = { darkroom: measured.peakMb, ipx: measured.result.peakMb };

    // Darkroom's answers were what each kind of request is meant to measure.
    const uniqueHits = unique.darkroom.reduce((n, r) => n + (r.cache.hit ?? 0), 0);
    if (uniqueHits) throw new Error(`${uniqueHits} of Darkroom's unique requests were answered from its cache: widths repeated`);
    const repeatedMisses = repeated.darkroom.reduce((n, r) => n + (r.cache.miss ?? 0) + (r.cache.shared ?? 0), 0);
    if (repeatedMisses) throw new Error(`${repeatedMisses} of Darkroom's repeated requests were rendered, not served from the stored render`);

    return entries({ unique, repeated, cpu, peak, rounds, uniquePerRound, repeatedMs });
  } finally {
    await ipx?.stop();
    await darkroom.stop();
    fs.rmSync(originals, { recursive: true, force: true });
  }
}

function rps(run: LoadResult): string {
  return (run.requests / run.seconds).toFixed(run.requests / run.seconds >= 100 ? 0 : 1);
}

type PerSide<T> = { darkroom: T; ipx: T };

function entries(m: {
  unique: PerSide<LoadResult[]>;
  repeated: PerSide<LoadResult[]>;
  cpu: PerSide<{ unique: number; repeated: number }>;
  peak: PerSide<number>;
  rounds: number;
  uniquePerRound: number;
  repeatedMs: number;
}): BenchEntry[] {
  const requests = (runs: LoadResult[]) => runs.reduce((n, r) => n + r.requests, 0);
  const roundRatios = (kind: PerSide<LoadResult[]>) => kind.darkroom.map((d, i) => d.requests / d.seconds / (kind.ipx[i]!.requests / kind.ipx[i]!.seconds));
  const roundsNote = (list: number[]) => `${m.rounds} alternating rounds, ratio = median of the rounds' (${list.map((x) => x.toFixed(2)).join(', ')})`;
  const perRequest = (side: 'darkroom' | 'ipx', kind: 'unique' | 'repeated') => m.cpu[side][kind] / requests(m[kind][side]);
  const work =
    'same 24 MP JPEGs, w only (fit inside on Darkroom, ipx\'s resize by width: the same box), WebP q 80 effort 4 on both; ipx reads the file and renders it; Darkroom authenticates the key, finds the image, renders in a worker thread (shrink-on-load decode, auto-orient, sRGB, encode), hashes and stores the file with its row, then streams it';
  const out: BenchEntry[] = [];
  for (const kind of ['unique', 'repeated'] as const) {
    const d = summarise(m[kind].darkroom);
    const x = summarise(m[kind].ipx);
    const ratios = roundRatios(m[kind]);
    const label =
      kind === 'unique'
        ? `render, unique requests (a width never asked before, ${WIDTH_FROM}–${WIDTH_TO} px), 24 MP JPEG → WebP, ${CLIENTS} clients`
        : `render, repeated requests (one URL, ${REPEATED_WIDTH} px), 24 MP JPEG → WebP, ${CLIENTS} clients`;
    const target = kind === 'unique' ? 1 : 20;
    const counts = `${requests(m[kind].darkroom)} Darkroom and ${requests(m[kind].ipx)} ipx requests (${kind === 'unique' ? `${m.uniquePerRound} per round` : `${m.repeatedMs / 1000} s per round`})`;
    out.push(
      {
        suite: 'render',
        name: label,
        value: d.rps,
        unit: 'req/s',
        baseline: { name: 'ipx, same requests, its own process', value: x.rps },
        ratio: median(ratios),
        target: `≥ ${target.toFixed(1)}×`,
        met: median(ratios) >= target,
        notes: `${roundsNote(ratios)}; ${counts}; both servers at nice ${SERVER_NICE}; CPU s per request: Darkroom ${perRequest('darkroom', kind).toFixed(3)}, ipx ${perRequest('ipx', kind).toFixed(3)}; ${kind === 'unique' ? work : 'Darkroom serves its stored render (a row read and a file streamed); ipx renders every request'}`,
      },
      { suite: 'render', name: `${label}: p50`, value: d.p50, unit: 'ms', baseline: { name: 'ipx', value: x.p50 }, ratio: x.p50 / d.p50 },
      { suite: 'render', name: `${label}: p99`, value: d.p99, unit: 'ms', baseline: { name: 'ipx', value: x.p99 }, ratio: x.p99 / d.p99 },
    );
  }
  out.push({
    suite: 'render',
    name: 'CPU seconds per unique request (server process, every thread)',
    value: perRequest('darkroom', 'unique'),
    unit: 's',
    baseline: { name: 'ipx, its process', value: perRequest('ipx', 'unique') },
    ratio: perRequest('ipx', 'unique') / perRequest('darkroom', 'unique'),
    notes: 'what each render costs whatever else runs on the machine; requests per second also depend on how much of the two cores the servers get',
  });
  out.push({
    suite: 'render',
    name: 'server peak RSS while rendering (VmRSS every 20 ms, unique and repeated)',
    value: m.peak.darkroom,
    unit: 'MB',
    baseline: { name: 'ipx', value: m.peak.ipx },
    notes: 'Darkroom with its SQLite database, its 2 worker threads and the originals already processed',
  });
  return out;
}

/** Starts bench/lib/ipx-server.ts in a process of its own over `dir`, at priority `nice`. */
async function startIpx(dir: string, nice: number): Promise<BenchServer> {
  const proc = spawn(...niced(nice, process.execPath, [path.join(ROOT, 'dist/bench/lib/ipx-server.js'), dir]), { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const m = /ipx listening on (\S+)/.exec(out);
      if (m) {
        proc.stdout!.off('data', onData);
        proc.stdout!.resume();
        resolve(m[1]!);
      }
    };
    proc.stdout!.on('data', onData);
    proc.once('exit', (code) => reject(new Error(`ipx exited (${code}) before it listened: ${out}`)));
  });
  return {
    url,
    proc,
    dataDir: dir,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await exited;
    },
  };
}

/** Both answers decode whole (sharp) as WebPs of one size: the two sides make the same image. */
async function sameImage(a: RenderTarget, b: RenderTarget): Promise<void> {
  const decode = async (t: RenderTarget) => {
    const res = await fetch(t.url, { headers: t.headers });
    const body = Buffer.from(await res.arrayBuffer());
    checkWebp(res.status, res.headers.get('content-type') ?? undefined, body, t.width, `GET ${t.url}`);
    const { info } = await sharp(body).raw().toBuffer({ resolveWithObject: true });
    return info;
  };
  const [x, y] = [await decode(a), await decode(b)];
  if (x.width !== y.width || x.height !== y.height) throw new Error(`the two sides made different sizes: ${x.width}×${x.height} and ${y.width}×${y.height}`);
}
