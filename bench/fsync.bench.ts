import http from 'node:http';
import sharp from 'sharp';
import { bigUploadFile } from './lib/inputs.js';
import { BENCH_KEY, startDarkroom } from './lib/processes.js';
import { median, type BenchEntry } from './report.js';
import { QUICK_SETTLE_MS, SETTLE_MS, curlUpload, settle } from './upload.bench.js';

const MiB = 1024 * 1024;

/**
 * What a 202 that means "on stable storage" costs: the same uploads with `--fsync true` (the
 * default: the file, its directory entry and the commit's log flushed before the answer) and
 * `--fsync false`, on fresh servers, in alternating order.
 *
 * - Many small files: 1,000 uploads of a 20 KB JPEG, 8 in flight (as a client syncing a folder
 *   of thumbnails would), uploads/s from the first request to the last answer. Here the cost is
 *   per upload: two or three flushes, each one a journal commit of the filesystem.
 * - One big file: a 2 GiB raw body (curl), MiB/s. Here the cost is writing every byte to the
 *   disk before answering instead of leaving them in the page cache.
 */
export async function fsyncBench(options: { quick: boolean }): Promise<BenchEntry[]> {
  const count = options.quick ? 300 : 1000;
  const runs = options.quick ? 1 : 3;
  const bigBytes = options.quick ? 512 * MiB : 2048 * MiB;
  const bigRuns = options.quick ? 1 : 3;
  const pause = options.quick ? QUICK_SETTLE_MS : SETTLE_MS;
  const small = await smallJpeg();

  const rates = { on: [] as number[], off: [] as number[] };
  const latency = { on: [] as number[], off: [] as number[] };
  for (let r = 0; r < runs; r++) {
    for (const mode of r % 2 ? (['off', 'on'] as const) : (['on', 'off'] as const)) {
      const server = await startDarkroom(['--workers', '1', '--max-queued-jobs', '100000', '--fsync', mode === 'on' ? 'true' : 'false']);
      try {
        await settle(pause);
        const result = await manySmallUploads(server.url, small, count, 8);
        rates[mode].push(result.perSecond);
        latency[mode].push(result.p50Ms);
        console.log(`  ${count} × ${(small.length / 1024).toFixed(0)} KB, fsync ${mode}: ${result.perSecond.toFixed(0)} uploads/s (p50 ${result.p50Ms.toFixed(1)} ms)`);
      } finally {
        await server.stop();
      }
    }
  }

  const file = await bigUploadFile(bigBytes);
  const seconds = { on: [] as number[], off: [] as number[] };
  for (let r = 0; r < bigRuns; r++) {
    for (const mode of r % 2 ? (['off', 'on'] as const) : (['on', 'off'] as const)) {
      const server = await startDarkroom(['--workers', '2', '--fsync', mode === 'on' ? 'true' : 'false']);
      try {
        await settle(pause);
        const s = await curlUpload(`${server.url}/v1/image`, file, [`Authorization: Bearer ${BENCH_KEY}`, 'Content-Type: application/octet-stream', 'X-Filename: big.jpg'], 202);
        seconds[mode].push(s);
        console.log(`  ${(bigBytes / MiB / 1024).toFixed(1)} GiB, fsync ${mode}: ${(bigBytes / MiB / s).toFixed(0)} MiB/s (${s.toFixed(2)} s)`);
      } finally {
        await server.stop();
      }
    }
  }

  const smallOn = median(rates.on);
  const smallOff = median(rates.off);
  const bigOn = bigBytes / MiB / median(seconds.on);
  const bigOff = bigBytes / MiB / median(seconds.off);
  const size = `${(bigBytes / MiB / 1024).toFixed(1)} GiB`;
  return [
    {
      suite: 'fsync',
      name: `${count} uploads of a ${(small.length / 1024).toFixed(0)} KB JPEG, 8 in flight, --fsync true`,
      value: smallOn,
      unit: 'uploads/s',
      baseline: { name: '--fsync false', value: smallOff },
      ratio: smallOn / smallOff,
      notes: `median of ${runs}; p50 latency ${median(latency.on).toFixed(1)} ms vs ${median(latency.off).toFixed(1)} ms; runs ${rates.on.map((x) => x.toFixed(0)).join(', ')} vs ${rates.off.map((x) => x.toFixed(0)).join(', ')}`,
    },
    {
      suite: 'fsync',
      name: `POST /v1/image ${size} raw body (curl), --fsync true`,
      value: bigOn,
      unit: 'MiB/s',
      baseline: { name: '--fsync false', value: bigOff },
      ratio: bigOn / bigOff,
      notes: `median of ${bigRuns} (s: ${seconds.on.map((t) => t.toFixed(2)).join(', ')} vs ${seconds.off.map((t) => t.toFixed(2)).join(', ')})`,
    },
  ];
}

/** A photo-like JPEG of about 20 KB. */
async function smallJpeg(): Promise<Buffer> {
  const raw = Buffer.alloc(400 * 300 * 3);
  for (let i = 0; i < raw.length; i++) raw[i] = (i * 131 + ((i / 1200) | 0) * 7) & 0xff;
  return sharp(raw, { raw: { width: 400, height: 300, channels: 3 } }).blur(1.2).jpeg({ quality: 82 }).toBuffer();
}

/**
 * `count` uploads, `inFlight` at a time, over keep-alive connections. Each is the same JPEG
 * with a different 8-byte tail after its end marker (decoders ignore it), so every upload is a
 * new original: a file moved in and recorded, not a duplicate dropped.
 */
async function manySmallUploads(url: string, jpeg: Buffer, count: number, inFlight: number) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: inFlight });
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  const lane = async () => {
    while (next < count) {
      const body = Buffer.concat([jpeg, Buffer.alloc(8)]);
      body.writeBigUInt64BE(BigInt(next++), jpeg.length);
      const t0 = performance.now();
      await post(url, body, agent);
      latencies.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  return { perSecond: count / seconds, p50Ms: median(latencies) };
}

function post(url: string, body: Buffer, agent: http.Agent): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}/v1/image`, {
      method: 'POST',
      agent,
      headers: { authorization: `Bearer ${BENCH_KEY}`, 'content-type': 'image/jpeg', 'content-length': String(body.length), 'x-filename': 'small.jpg' },
    });
    req.on('error', reject);
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 202 ? resolve() : reject(new Error(`upload answered ${res.statusCode}`))));
    });
    req.end(body);
  });
}
