import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createS3Bucket } from '../server/storage/s3/bucket.js';
import { DEFAULT_S3_TUNING } from '../server/sync/s3-sync.js';
import { ENGINE_ENV, ENGINE_NODE_FLAGS } from '../server/node-flags.js';
import { BENCH_KEY, ROOT, cpuSecondsOf, rssMb } from './lib/processes.js';
import { median, type BenchEntry } from './report.js';

const CREDENTIALS = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' };
const BUCKET = 'bench';
const MiB = 1024 * 1024;

/** Starts a child and resolves with the first match of `ready` in its stdout. */
function startChild(args: string[], env: NodeJS.ProcessEnv, ready: RegExp): Promise<{ proc: ChildProcess; match: RegExpExecArray }> {
  const proc = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  return new Promise((resolve, reject) => {
    proc.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const match = ready.exec(out);
      if (match) resolve({ proc, match });
    });
    proc.once('exit', (code) => reject(new Error(`${args[0]} exited (${code}):\n${out}\n${err}`)));
  });
}

function stop(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    proc.once('exit', () => resolve());
    proc.kill('SIGKILL');
  });
}

/** A JPEG (a real one, then a pattern unique to `seed`) of exactly `size` bytes. */
export function writeOriginal(file: string, size: number, seed: number) {
  const head = fs.readFileSync(path.join(ROOT, 'test/fixtures/images/ipx-husky-snow.jpg'));
  const fd = fs.openSync(file, 'w');
  const block = Buffer.alloc(4 * MiB);
  try {
    fs.writeSync(fd, head);
    for (let at = head.length; at < size; at += block.length) {
      block.writeUInt32BE(seed, 0);
      block.writeUInt32BE(at >>> 0, 4);
      fs.writeSync(fd, block, 0, Math.min(block.length, size - at));
    }
  } finally {
    fs.closeSync(fd);
  }
}

export function uploadFile(url: string, file: string): Promise<{ id: string; sha256: string }> {
  const size = fs.statSync(file).size;
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}/v1/image`, {
      method: 'POST',
      headers: { authorization: `Bearer ${BENCH_KEY}`, 'content-type': 'image/jpeg', 'content-length': String(size), 'x-filename': 'big.jpg' },
    });
    req.on('response', (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => (res.statusCode === 202 ? resolve(JSON.parse(text)) : reject(new Error(`upload answered ${res.statusCode}: ${text}`))));
    });
    req.on('error', reject);
    fs.createReadStream(file).pipe(req);
  });
}

async function api(url: string, method: string, pathname: string): Promise<any> {
  const res = await fetch(url + pathname, { method, headers: { authorization: `Bearer ${BENCH_KEY}` } });
  const text = await res.text();
  return text ? JSON.parse(text) : undefined;
}

/**
 * Times the server's sync of one original already waiting in its queue: from the moment its
 * upload is seen running to the moment it is verified in the bucket, sampling the server's
 * memory and CPU meanwhile.
 */
async function timeDrain(url: string, pid: number, sha256: string, size: number, syncedBefore: number) {
  const key = `originals/${sha256}`;
  const waitingSince = performance.now();
  let startedAt: number | undefined;
  const rssAtStart = rssMb(pid) * MiB;
  let peakRss = rssAtStart;
  const cpuBefore = cpuSecondsOf(pid);
  for (;;) {
    peakRss = Math.max(peakRss, rssMb(pid) * MiB);
    const status = await api(url, 'GET', '/v1/sync');
    if (startedAt === undefined && status.inFlight.some((f: any) => f.key === key)) startedAt = performance.now();
    if (status.synced.bytes - syncedBefore >= size) {
      const doneAt = performance.now();
      if (status.failed.jobs) throw new Error(`sync failed: ${JSON.stringify(status.failed.recent)}`);
      // Everything the server did meanwhile counts (answering these polls too): an upper bound.
      return { ms: doneAt - (startedAt ?? waitingSince), cpuSeconds: cpuSecondsOf(pid) - cpuBefore, peakRss, rssAtStart };
    }
    // Often enough for a tenth of a second's resolution, rarely enough not to load the server.
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Sync throughput of a large original against a plain lib-storage upload of the same file to
 * the same s3rver, alternating, in the same run; and the server's memory and CPU while it syncs.
 *
 * Both start from the same line: the file's pages written back to disk (`sync`) and a freshly
 * started s3rver. For the server that means taking the upload while the bucket is down (the sync
 * waits, as it does in any outage), then bringing the bucket back: otherwise the sync would race
 * the kernel writing back the gigabyte that just arrived, a cost of the upload, not of the sync.
 */
export async function s3Bench(options: { quick: boolean }): Promise<BenchEntry[]> {
  const size = options.quick ? 256 * MiB : 1024 * MiB;
  const rounds = options.quick ? 1 : 4;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-bench-s3-'));
  const s3dir = path.join(work, 's3rver');
  const dataDir = path.join(work, 'data');
  fs.mkdirSync(s3dir);
  let s3rver: ChildProcess | undefined;
  let server: ChildProcess | undefined;
  let bucket: ReturnType<typeof createS3Bucket> | undefined;
  let port = 0;
  const startS3rver = async () => {
    const started = await startChild(
      [path.join(ROOT, 'scripts/s3rver.cjs'), '-d', s3dir, '-a', '127.0.0.1', '-p', String(port), '--silent', '--configure-bucket', BUCKET],
      { NODE_OPTIONS: '--openssl-legacy-provider' },
      /S3rver listening on [^:]+:(\d+)/,
    );
    s3rver = started.proc;
    port = Number(started.match[1]);
  };
  const freshStart = async () => {
    if (s3rver) await stop(s3rver);
    execFileSync('sync');
    await startS3rver();
  };
  try {
    await startS3rver();
    const endpoint = `http://127.0.0.1:${port}`;
    Object.assign(process.env, CREDENTIALS);
    bucket = createS3Bucket({ bucket: BUCKET, prefix: '', endpoint, region: 'us-east-1', forcePathStyle: true });

    const started = await startChild(
      [
        ...ENGINE_NODE_FLAGS, path.join(ROOT, 'bin/darkroom.js'), 'serve', '--data-dir', dataDir, '--port', '0', '--workers', '1', '--admin-key', BENCH_KEY,
        '--s3-bucket', BUCKET, '--s3-endpoint', endpoint, '--s3-force-path-style', 'true', '--log-level', 'warn',
      ],
      { ...CREDENTIALS, ...ENGINE_ENV },
      /darkroom listening on (http:\/\/\S+)/,
    );
    server = started.proc;
    const url = started.match[1]!;
    const serverBefore = rssMb(server.pid!) * MiB;

    const runBaseline = async (file: string, key: string) => {
      await freshStart();
      const base = await startChild(
        [path.join(ROOT, 'dist/bench/s3-baseline.js'), file, endpoint, BUCKET, key, String(DEFAULT_S3_TUNING.partSize), String(DEFAULT_S3_TUNING.partConcurrency)],
        CREDENTIALS,
        /^(\{.*\})\n/m,
      );
      const result = JSON.parse(base.match[1]!) as { ms: number; peakRss: number; cpuSeconds: number };
      await stop(base.proc);
      await bucket!.delete(key);
      return result;
    };
    const runSync = async (file: string) => {
      const before = (await api(url, 'GET', '/v1/sync')).synced.bytes;
      await stop(s3rver!);
      const uploaded = await uploadFile(url, file);
      for (;;) {
        const status = await api(url, 'GET', '/v1/sync');
        if (!status.reachable && status.backlog.jobs > 0) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      await freshStart();
      const result = await timeDrain(url, server!.pid!, uploaded.sha256, size, before);
      await api(url, 'DELETE', `/v1/image/${uploaded.id}`);
      return result;
    };

    const ours: number[] = [];
    const baseline: number[] = [];
    const oursCpu: number[] = [];
    const baselineCpu: number[] = [];
    let serverPeak = 0;
    let serverAtStart = Infinity;
    let baselinePeak = 0;
    for (let round = 0; round < rounds; round++) {
      // A different original each round: identical bytes would not be uploaded again.
      const file = path.join(work, `original-${round}.jpg`);
      writeOriginal(file, size, round + 1);
      // Alternating which goes first: drift on a shared machine hits both sides alike.
      let base: Awaited<ReturnType<typeof runBaseline>>;
      let synced: Awaited<ReturnType<typeof runSync>>;
      if (round % 2 === 0) {
        base = await runBaseline(file, `baseline-${round}`);
        synced = await runSync(file);
      } else {
        synced = await runSync(file);
        base = await runBaseline(file, `baseline-${round}`);
      }
      baseline.push(base.ms);
      baselineCpu.push(base.cpuSeconds);
      baselinePeak = Math.max(baselinePeak, base.peakRss);
      ours.push(synced.ms);
      oursCpu.push(synced.cpuSeconds);
      serverPeak = Math.max(serverPeak, synced.peakRss);
      serverAtStart = Math.min(serverAtStart, synced.rssAtStart);
      console.log(
        `round ${round + 1}: lib-storage ${(size / 1e6 / (base.ms / 1000)).toFixed(0)} MB/s (${base.cpuSeconds.toFixed(1)} CPU s), ` +
          `sync ${(size / 1e6 / (synced.ms / 1000)).toFixed(0)} MB/s (${synced.cpuSeconds.toFixed(1)} CPU s)`,
      );
      fs.rmSync(file, { force: true });
    }

    const mbps = (ms: number) => size / 1e6 / (ms / 1000);
    const oursMbps = mbps(median(ours));
    const baseMbps = mbps(median(baseline));
    const bound = DEFAULT_S3_TUNING.bufferSlots * DEFAULT_S3_TUNING.partSize;
    return [
      {
        suite: 's3',
        name: `sync of a ${size / MiB} MiB original to s3rver`,
        value: oursMbps,
        unit: 'MB/s',
        baseline: { name: 'lib-storage Upload of the same file', value: baseMbps },
        ratio: oursMbps / baseMbps,
        target: '≥ 0.9×',
        met: oursMbps / baseMbps >= 0.9,
        notes:
          `median of ${rounds}, alternating; both ${DEFAULT_S3_TUNING.partSize / MiB} MiB parts, ${DEFAULT_S3_TUNING.partConcurrency} in flight; ` +
          'the sync also hashes the whole file (sha256) and sends a CRC32 per part',
      },
      {
        suite: 's3',
        name: 'server RSS while syncing it',
        value: serverPeak / MiB,
        unit: 'MiB',
        baseline: { name: 'lib-storage process peak', value: baselinePeak / MiB },
        notes:
          `server at ${(serverBefore / MiB).toFixed(0)} MiB idle after start, ${(serverAtStart / MiB).toFixed(0)} MiB when the sync began; ` +
          `sync buffers are bounded at ${bound / MiB} MiB whatever the file size`,
      },
      {
        suite: 's3',
        name: 'CPU time for it',
        value: median(oursCpu),
        unit: 's',
        baseline: { name: 'lib-storage process', value: median(baselineCpu) },
        ratio: median(baselineCpu) / median(oursCpu),
        notes: 'the server figure includes everything it did meanwhile (answering the status polls too)',
      },
    ];
  } finally {
    bucket?.destroy();
    if (server) await stop(server);
    if (s3rver) await stop(s3rver);
    fs.rmSync(work, { recursive: true, force: true });
  }
}
