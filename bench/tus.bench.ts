import fs from 'node:fs';
import http from 'node:http';
import { bigUploadFile } from './lib/inputs.js';
import { BENCH_KEY, cpuSecondsOf, peakRssMb, startDarkroom } from './lib/processes.js';
import { median, type BenchEntry } from './report.js';
import { QUICK_SETTLE_MS, SETTLE_MS, settle } from './upload.bench.js';

const MiB = 1024 * 1024;

/** tus requests by hand: the protocol's own headers, an admin key. */
function request(url: string, method: string, headers: Record<string, string>, body?: fs.ReadStream): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers: { 'Tus-Resumable': '1.0.0', Authorization: `Bearer ${BENCH_KEY}`, ...headers } }, (res) => {
      res.resume();
      res.once('end', () => resolve(res));
    });
    req.once('error', reject);
    if (body) body.pipe(req);
    else req.end();
  });
}

/** One tus upload of `file` in PATCHes of `partBytes`; resolves with the seconds from POST to the last answer. */
async function tusUpload(base: string, file: string, bytes: number, partBytes: number): Promise<number> {
  const started = performance.now();
  const metadata = `filename ${Buffer.from('big.jpg').toString('base64')}`;
  const created = await request(`${base}/v1/uploads`, 'POST', { 'Upload-Length': String(bytes), 'Upload-Metadata': metadata });
  if (created.statusCode !== 201) throw new Error(`creating the upload answered ${created.statusCode}`);
  const location = base + String(created.headers.location);
  for (let offset = 0; offset < bytes; offset += partBytes) {
    const end = Math.min(bytes, offset + partBytes);
    const part = fs.createReadStream(file, { start: offset, end: end - 1, highWaterMark: MiB });
    const answer = await request(location, 'PATCH', { 'Upload-Offset': String(offset), 'Content-Type': 'application/offset+octet-stream', 'Content-Length': String(end - offset) }, part);
    if (answer.statusCode !== 204) throw new Error(`PATCH at ${offset} answered ${answer.statusCode}`);
  }
  return (performance.now() - started) / 1000;
}

/**
 * A 1 GiB resumable upload (tus), in one PATCH and in 64 MiB PATCHes: wall time to the answer
 * of the last part (which ingests the upload), the server's CPU seconds over it and its peak
 * RSS. A fresh server each run, so its memory is the upload's alone.
 */
export async function tusBench(options: { quick: boolean }): Promise<BenchEntry[]> {
  const bytes = 1024 * MiB;
  const runs = options.quick ? 2 : 3;
  const pause = options.quick ? QUICK_SETTLE_MS : SETTLE_MS;
  const file = await bigUploadFile(bytes);
  const entries: BenchEntry[] = [];
  for (const [label, partBytes] of [
    ['one PATCH', bytes],
    ['64 MiB PATCHes', 64 * MiB],
  ] as const) {
    const wall: number[] = [];
    const cpu: number[] = [];
    let rss = 0;
    for (let r = 0; r < runs; r++) {
      const darkroom = await startDarkroom(['--workers', '2']);
      try {
        await settle(pause);
        const pid = darkroom.proc.pid!;
        const cpuBefore = cpuSecondsOf(pid);
        wall.push(await tusUpload(darkroom.url, file, bytes, partBytes));
        cpu.push(cpuSecondsOf(pid) - cpuBefore);
        rss = Math.max(rss, peakRssMb(pid));
      } finally {
        await darkroom.stop();
      }
    }
    const note = `median of ${runs} (wall s: ${wall.map((t) => t.toFixed(2)).join(', ')}; cpu s: ${cpu.map((t) => t.toFixed(2)).join(', ')})`;
    entries.push(
      { suite: 'tus', name: `tus 1 GiB, ${label}: wall time to the last answer`, value: median(wall), unit: 's', notes: note },
      { suite: 'tus', name: `tus 1 GiB, ${label}: server CPU`, value: median(cpu), unit: 's', notes: 'user + system of the server process, every thread' },
      { suite: 'tus', name: `tus 1 GiB, ${label}: server peak RSS`, value: rss, unit: 'MB', notes: 'VmHWM of a fresh server process after the upload' },
    );
  }
  return entries;
}
