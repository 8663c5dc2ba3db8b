import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bigUploadFile } from './lib/inputs.js';
import { BENCH_KEY, runCommand, startBarePipeServer, startDarkroom, withPeakRss } from './lib/processes.js';
import { median, type BenchEntry } from './report.js';

const MiB = 1024 * 1024;

/** Seconds curl takes to send `file` as a raw body (loopback), checking the status. */
export async function curlUpload(url: string, file: string, headers: string[], expectStatus: number): Promise<number> {
  const out = await runCommand('curl', ['-sS', '-o', '/dev/null', '-w', '%{time_total} %{http_code}', '-X', 'POST', ...headers.flatMap((h) => ['-H', h]), '-T', file, url]);
  const [seconds, status] = out.trim().split(' ');
  if (Number(status) !== expectStatus) throw new Error(`upload answered ${status}`);
  return Number(seconds);
}

/** `cp` of the bytes, flushed to the disk with their folder (`sync FILE DIR`), as an upload is before its 202. */
async function timeCp(file: string): Promise<number> {
  const target = path.join(os.tmpdir(), `darkroom-bench-cp-${process.pid}`);
  const started = performance.now();
  await runCommand('cp', [file, target]);
  await runCommand('sync', [target, os.tmpdir()]);
  const seconds = (performance.now() - started) / 1000;
  fs.rmSync(target, { force: true });
  return seconds;
}

/**
 * Brings the machine to the same state before every timed run: dirty pages written out, then a
 * pause of SETTLE_MS (QUICK_SETTLE_MS with --quick) with every server already started.
 *
 * Why the pause: virtual machines (virtio-balloon free page reporting) hand memory freed by the
 * guest back to the host about two seconds later, and writing into pages the host has to
 * supply again costs many times more kernel time. Measured here: 2 GiB written into the page
 * cache took 0.42 s right after the previous 2 GiB was deleted and 4.9 s after a 6 s pause. A
 * run that began sooner after the previous run's delete than another (a server already up
 * against one still starting) was fast for that reason alone; after the same pause, every run
 * writes into memory in the same state.
 */
export const SETTLE_MS = 4_000;
export const QUICK_SETTLE_MS = 2_500; // just past the two seconds, to keep --quick under two minutes
export async function settle(ms: number): Promise<void> {
  await runCommand('sync', []);
  await new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * A multi-gigabyte body through POST /v1/image, against a bare Node server that only pipes the
 * request to a file and against `cp` of the same bytes (the physical limit of this disk), runs
 * interleaved in alternating order, each after `settle()`.
 */
export async function uploadBench(options: { quick: boolean }): Promise<BenchEntry[]> {
  const bytes = options.quick ? 512 * MiB : 2048 * MiB;
  // Writing 2 GiB into the page cache varies by seconds from run to run on a shared disk: medians of 5.
  const runs = options.quick ? 2 : 5;
  const pause = options.quick ? QUICK_SETTLE_MS : SETTLE_MS;
  const file = await bigUploadFile(bytes);
  const bare = await startBarePipeServer();
  const times = { cp: [] as number[], bare: [] as number[], darkroom: [] as number[] };
  let rss = 0;
  const runBare = async () => {
    await settle(pause);
    times.bare.push(await curlUpload(`${bare.url}/`, file, ['Content-Type: application/octet-stream'], 201));
    // Like cp's copy and Darkroom's data dir, the bytes go once timed.
    for (const name of fs.readdirSync(bare.dataDir)) fs.rmSync(path.join(bare.dataDir, name), { force: true });
  };
  const runDarkroom = async () => {
    // A fresh server each run: its memory during the upload is the upload's alone, not that
    // of processing the previous run's image.
    const darkroom = await startDarkroom(['--workers', '2']);
    try {
      await settle(pause);
      const { result: seconds, peakMb } = await withPeakRss(darkroom.proc.pid!, () =>
        curlUpload(`${darkroom.url}/v1/image`, file, [`Authorization: Bearer ${BENCH_KEY}`, 'Content-Type: application/octet-stream', 'X-Filename: big.jpg'], 202),
      );
      times.darkroom.push(seconds);
      rss = Math.max(rss, peakMb);
    } finally {
      await darkroom.stop();
    }
  };
  const runCp = async () => {
    await settle(pause);
    times.cp.push(await timeCp(file));
  };
  try {
    for (let r = 0; r < runs; r++) {
      // Alternate which server goes first, so neither always follows the other.
      for (const run of r % 2 ? [runCp, runDarkroom, runBare] : [runCp, runBare, runDarkroom]) await run();
    }
  } finally {
    await bare.stop();
  }
  const mbps = (seconds: number) => bytes / MiB / seconds;
  const darkroomRate = mbps(median(times.darkroom));
  const bareRate = mbps(median(times.bare));
  const cpRate = mbps(median(times.cp));
  const size = `${(bytes / MiB / 1024).toFixed(1)} GiB`;
  return [
    {
      suite: 'upload',
      name: `POST /v1/image ${size} raw body (curl, loopback) vs cp of the same bytes`,
      value: darkroomRate,
      unit: 'MiB/s',
      baseline: { name: 'cp and sync of the copy (the disk)', value: cpRate },
      ratio: darkroomRate / cpRate,
      target: '≥ 0.90×',
      met: darkroomRate / cpRate >= 0.9,
      notes: `median of ${runs} (s: ${times.darkroom.map((t) => t.toFixed(2)).join(', ')} vs cp ${times.cp.map((t) => t.toFixed(2)).join(', ')}); sha256, sniffing and the size limit on the way, over HTTP`,
    },
    {
      suite: 'upload',
      name: `POST /v1/image ${size} vs a bare Node server`,
      value: darkroomRate,
      unit: 'MiB/s',
      baseline: { name: 'bare Node pipe-to-file server (flushing the file and its folder before answering)', value: bareRate },
      ratio: darkroomRate / bareRate,
      notes: `informative: the same HTTP transport without any of Darkroom's work (s: ${times.bare.map((t) => t.toFixed(2)).join(', ')})`,
    },
    {
      suite: 'upload',
      name: `server peak RSS during ${size} uploads`,
      value: rss,
      unit: 'MB',
      target: '≤ 150 MB',
      met: rss <= 150,
      notes: 'VmRSS of the server process sampled every 20 ms during each upload, highest seen',
    },
  ];
}
