import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { HEIF_DECODE_LIMITS, openHeif, type HeifDecodeResult, type HeifDecodeTask } from '../workers/heif/decode.js';
import { runLimitedChild } from '../workers/limited-child.js';
import { createStopper } from '../workers/stopper.js';
import { compiledWorkerPath } from '../workers/worker-path.js';
import { photos12mpHeic } from './lib/inputs.js';
import { rssMb, startDarkroom, uploadFile, waitAllDone, type BenchServer } from './lib/processes.js';
import { median, type BenchEntry } from './report.js';

const WORKERS = 2;

/** The server's resident memory plus that of every process it started (HEIF decode processes), in MB. */
function treeRssMb(pid: number): number {
  let total = rssMb(pid);
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const rss = parent === pid ? rssMb(Number(entry)) : 0;
      if (Number.isFinite(rss)) total += rss; // a process already gone has no VmRSS
    } catch {
      // ended meanwhile
    }
  }
  return total;
}

/** Uploads the files and waits for them: seconds from the first upload to the last `processedAt`. */
async function batch(server: BenchServer, files: string[], label: string): Promise<number> {
  const started = Date.now();
  const ids: string[] = [];
  for (const [i, file] of files.entries()) ids.push(await uploadFile(server.url, file, `${label}-${i}${file.slice(file.lastIndexOf('.'))}`));
  return ((await waitAllDone(server.url, ids)) - started) / 1000;
}

/**
 * A 12 MP photo as an iPhone-sized HEIC (made by heif-enc from the JPEG) against the same photo as
 * a JPEG, both through the whole API (upload → `done`, default variants), in alternating rounds on
 * one server; and the peak memory of one worker (a server with one worker, its decode processes
 * counted) while it processes HEICs.
 */
export async function heicBench(options: { quick: boolean }): Promise<BenchEntry[]> {
  if (spawnSync('heif-enc', ['--help'], { stdio: 'ignore' }).error) {
    console.log('heif-enc is not installed (Debian: libheif-examples): no HEICs to measure');
    return [];
  }
  const distinct = options.quick ? 2 : 4;
  const rounds = options.quick ? 2 : 4;
  const perRound = options.quick ? 6 : 12;
  const photos = await photos12mpHeic(distinct);
  const jpegs = photos.map((p) => p.jpeg);
  const heics = photos.map((p) => p.heic);

  const ratios: number[] = [];
  let jpegSeconds = 0;
  let heicSeconds = 0;
  let done = 0;
  const server = await startDarkroom(['--workers', String(WORKERS)]);
  try {
    await batch(server, [...jpegs, ...heics].slice(0, 2 * WORKERS), 'warm');
    for (let r = 0; r < rounds; r++) {
      const pick = (list: string[]) => Array.from({ length: perRound }, (_, i) => list[(r + i) % list.length]!);
      const jpeg = await batch(server, pick(jpegs), `jpeg-${r}`);
      const heic = await batch(server, pick(heics), `heic-${r}`);
      ratios.push(jpeg / heic);
      jpegSeconds += jpeg;
      heicSeconds += heic;
      done += perRound;
    }
  } finally {
    await server.stop();
  }

  // One worker, so its peak is one worker's: sampled every 20 ms, server and decode processes together.
  const single = await startDarkroom(['--workers', '1']);
  let peak = 0;
  let idle = 0;
  try {
    await batch(single, heics.slice(0, 1), 'warm');
    idle = treeRssMb(single.proc.pid!);
    const timer = setInterval(() => {
      try {
        peak = Math.max(peak, treeRssMb(single.proc.pid!));
      } catch {
        // the server ended
      }
    }, 20);
    try {
      await batch(single, heics, 'peak');
    } finally {
      clearInterval(timer);
    }
  } finally {
    await single.stop();
  }

  const decode = await decodeStep(heics, options.quick ? 4 : 8);

  const ratio = median(ratios);
  return [
    {
      suite: 'heic',
      name: 'decoding one 12 MP HEIC into the TIFF the variants are made from (warm decode process)',
      value: decode.warm,
      unit: 's',
      baseline: { name: 'a fresh decode process for each image', value: decode.fresh },
      ratio: decode.fresh / decode.warm,
      notes: `median of ${decode.count} each, alternating, one at a time; includes reading the header and writing the TIFF`,
    },
    {
      suite: 'heic',
      name: `${done} × 12 MP HEIC through the API (upload → done, thumb + display)`,
      value: done / heicSeconds,
      unit: 'images/s',
      baseline: { name: 'the same photos as JPEG through the API, same run', value: done / jpegSeconds },
      ratio,
      target: '≥ 0.50×',
      met: ratio >= 0.5,
      notes: `${WORKERS} workers; ${rounds} alternating rounds, ratio = median of the rounds' (${ratios.map((x) => x.toFixed(2)).join(', ')})`,
    },
    {
      suite: 'heic',
      name: 'one worker processing 12 MP HEICs: peak RSS, server and decode processes together',
      value: peak,
      unit: 'MB',
      target: '≤ 500 MB',
      met: peak <= 500,
      notes: `a server with one worker; ${idle.toFixed(0)} MB between images`,
    },
  ];
}

/**
 * The decode step alone (workers/heif/decode.ts), with the worker's warm process against a
 * process started for each image as an SVG render is: what keeping it warm buys.
 */
async function decodeStep(heics: string[], count: number): Promise<{ warm: number; fresh: number; count: number }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-bench-heif-'));
  const warm: number[] = [];
  const fresh: number[] = [];
  try {
    const stop = createStopper({});
    const scratch = path.join(dir, 'decoded.tif');
    await (await openHeif({ file: heics[0]!, format: 'heif', options: {}, scratch, stop })).release!();
    for (let i = 0; i < count; i++) {
      const file = heics[i % heics.length]!;
      let started = performance.now();
      await (await openHeif({ file, format: 'heif', options: {}, scratch, stop })).release!();
      warm.push((performance.now() - started) / 1000);
      started = performance.now();
      const task: HeifDecodeTask = { input: file, output: scratch, orientation: 1, maxPixels: Number.MAX_SAFE_INTEGER };
      const run = await runLimitedChild<HeifDecodeTask, HeifDecodeResult>({ module: compiledWorkerPath('workers/heif/decode.child.js'), what: 'decode', task, limits: HEIF_DECODE_LIMITS, stop });
      if (run.outcome !== 'done') throw new Error(`fresh decode: ${run.outcome} ${run.message}`);
      fresh.push((performance.now() - started) / 1000);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return { warm: median(warm), fresh: median(fresh), count };
}
