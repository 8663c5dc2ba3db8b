import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { photos24mp } from './lib/inputs.js';
import { BENCH_KEY, ROOT, cpuSecondsOf, startDarkroom, uploadFile, waitAllDone, withPeakRss, type BenchServer } from './lib/processes.js';
import { S3RVER_CREDENTIALS, startPrivatePostgres, startS3rver } from './lib/services.js';
import { median, type BenchEntry } from './report.js';
import { uploadFile as uploadLarge, writeOriginal } from './s3.bench.js';

const MiB = 1024 * 1024;
/** The processing suite's: two sharp workers on the single node. */
const SINGLE_WORKERS = 2;
const NODES = 3;
/** One each: three workers in the cluster, the nearest to the single node's two that three nodes can have. */
const NODE_WORKERS = 1;
/** The primary store's part size and parts in flight per upload (s3-primary-store.ts), given to the baseline too. */
const PART_SIZE = 8 * MiB;
const PART_CONCURRENCY = 2;

const spread = (list: number[], digits = 2) => `${Math.min(...list).toFixed(digits)}–${Math.max(...list).toFixed(digits)}`;

/** Uploads `files` one after another (the processing suite's client), the i-th to `urls[i % urls.length]`; resolves with the ids. */
async function uploadAll(urls: string[], files: string[], tag: string): Promise<string[]> {
  const ids: string[] = [];
  for (const [i, file] of files.entries()) ids.push(await uploadFile(urls[i % urls.length]!, file, `${tag}-${i}.jpg`));
  return ids;
}

/** A plain lib-storage Upload of `file` in a process of its own (bench/s3-baseline.ts): its milliseconds. */
function libStorageUpload(file: string, endpoint: string, bucket: string, key: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [path.join(ROOT, 'dist/bench/s3-baseline.js'), file, endpoint, bucket, key, String(PART_SIZE), String(PART_CONCURRENCY)], {
      env: { ...process.env, ...S3RVER_CREDENTIALS },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    proc.stdout.on('data', (c: Buffer) => (out += c.toString()));
    proc.once('exit', (code) => (code === 0 ? resolve((JSON.parse(out) as { ms: number }).ms) : reject(new Error(`s3-baseline exited ${code}`))));
  });
}

/**
 * Cluster mode's overhead on one machine (issue 17): the processing suite's images through one
 * node on SQLite and local files against three node processes on one PostgreSQL and one s3rver
 * bucket (--storage s3), alternating in rounds; and a large raw upload into a node with
 * --storage s3 against a plain lib-storage Upload of the same bytes to the same s3rver,
 * alternating, with the node's peak RSS for two sizes (it must not grow with the upload).
 * Two cores run everything (client, nodes, PostgreSQL, s3rver): this measures what the cluster
 * costs, not how it scales. `cluster-upload` runs the large upload alone.
 */
export async function clusterBench(options: { quick: boolean; only?: 'upload' }): Promise<BenchEntry[]> {
  Object.assign(process.env, S3RVER_CREDENTIALS);
  const count = options.quick ? 16 : 60;
  const rounds = options.quick ? 2 : 4;
  const distinct = options.quick ? 4 : 10;
  const perRound = Math.ceil(count / rounds);
  const sources = options.only === 'upload' ? [] : await photos24mp(distinct);
  const postgres = await startPrivatePostgres();
  const s3rver = await startS3rver();
  const servers: BenchServer[] = [];
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-bench-cluster-'));
  const entries: BenchEntry[] = [];
  try {
    if (options.only !== 'upload') {
      // --- processing: one node (SQLite, files) against three (PostgreSQL, bucket) ---------------
      const single = await startDarkroom(['--workers', String(SINGLE_WORKERS)]);
      servers.push(single);
      const databaseUrl = await postgres.createDatabase();
      const nodes = await Promise.all(
        Array.from({ length: NODES }, (_, i) =>
          startDarkroom(['--workers', String(NODE_WORKERS), '--database-url', databaseUrl, '--node-id', `bench-${i + 1}`, ...s3rver.flags]),
        ),
      );
      servers.push(...nodes);
      const nodeUrls = nodes.map((n) => n.url);
      // Warm both sides (workers started, inputs in the page cache, connections open) untimed.
      await waitAllDone(single.url, await uploadAll([single.url], sources.slice(0, 2), 'warm'));
      await waitAllDone(nodeUrls[0]!, await uploadAll(nodeUrls, sources.slice(0, NODES), 'warm'));

      const rates = { single: [] as number[], cluster: [] as number[], ratio: [] as number[] };
      // CPU seconds by process: where the cluster's time goes, steadier than wall time under load.
      const cpu = { single: 0, nodes: 0, postgres: 0, s3rver: 0 };
      const cpuNow = () => ({
        single: cpuSecondsOf(single.proc.pid!),
        nodes: nodes.reduce((sum, n) => sum + cpuSecondsOf(n.proc.pid!), 0),
        postgres: postgres.cpuSeconds(),
        s3rver: cpuSecondsOf(s3rver.pid),
      });
      let done = 0;
      for (let r = 0; r < rounds; r++) {
        const files = Array.from({ length: Math.min(perRound, count - done) }, (_, i) => sources[(done + i) % distinct]!);
        const time = async (urls: string[], tag: string) => {
          const before = cpuNow();
          const started = Date.now(); // the same clock as the servers' processedAt (one machine)
          const last = await waitAllDone(urls[0]!, await uploadAll(urls, files, tag));
          const after = cpuNow();
          if (urls.length === 1) cpu.single += after.single - before.single;
          else for (const k of ['nodes', 'postgres', 's3rver'] as const) cpu[k] += after[k] - before[k];
          return files.length / ((last - started) / 1000);
        };
        // Alternating which goes first: load that comes and goes hits both sides alike.
        let one: number;
        let three: number;
        if (r % 2 === 0) {
          one = await time([single.url], `single-${r}`);
          three = await time(nodeUrls, `cluster-${r}`);
        } else {
          three = await time(nodeUrls, `cluster-${r}`);
          one = await time([single.url], `single-${r}`);
        }
        rates.single.push(one);
        rates.cluster.push(three);
        rates.ratio.push(three / one);
        console.log(`round ${r + 1}: single node ${one.toFixed(2)} images/s, ${NODES} nodes ${three.toFixed(2)} images/s (${(three / one).toFixed(2)}×)`);
        done += files.length;
      }
      for (const s of servers.splice(0)) await s.stop();
      const ratio = median(rates.ratio);
      const per = (seconds: number) => seconds / done;
      entries.push({
        suite: 'cluster',
        name: `${done} × 24 MP JPEG, upload → done, on ${NODES} nodes (PostgreSQL + s3rver, --storage s3)`,
        value: median(rates.cluster),
        unit: 'images/s',
        baseline: { name: `one node, SQLite + local files, ${SINGLE_WORKERS} workers`, value: median(rates.single) },
        ratio,
        target: '≥ 0.85×',
        met: ratio >= 0.85,
        notes:
          `${rounds} alternating rounds of ${perRound}; ratio = median of the rounds' (${rates.ratio.map((x) => x.toFixed(2)).join(', ')}); ` +
          `single ${spread(rates.single)}, cluster ${spread(rates.cluster)} images/s; ${NODE_WORKERS} worker per node, uploads round-robin over the nodes; ` +
          'one 2-core machine runs the client, the nodes, PostgreSQL and s3rver: overhead, not scaling',
      });
      entries.push({
        suite: 'cluster',
        name: 'CPU seconds per image: the 3 nodes, PostgreSQL and s3rver together',
        value: per(cpu.nodes + cpu.postgres + cpu.s3rver),
        unit: 's',
        baseline: { name: 'the single node (SQLite, local files)', value: per(cpu.single) },
        ratio: cpu.single / (cpu.nodes + cpu.postgres + cpu.s3rver),
        notes: `the nodes ${per(cpu.nodes).toFixed(3)} s, PostgreSQL ${per(cpu.postgres).toFixed(3)} s, s3rver ${per(cpu.s3rver).toFixed(3)} s per image`,
      });
    }

    // --- a large raw upload into --storage s3 against lib-storage ---------------------------------
    const node = await startDarkroom(['--workers', '1', '--database-url', await postgres.createDatabase(), '--node-id', 'bench-upload', ...s3rver.flags]);
    // The same upload into a node on local files: the receiving half alone (read, hash, write,
    // flush), which with --storage s3 is followed by the upload of the staged file.
    const local = await startDarkroom(['--workers', '1']);
    servers.push(node, local);
    const pid = node.proc.pid!;
    const sizes = options.quick ? [64 * MiB, 256 * MiB] : [256 * MiB, 1024 * MiB];
    const uploadRounds = options.quick ? 2 : 3;
    const results = new Map<number, { ours: number[]; base: number[]; local: number[]; peak: number }>();
    let seed = 1;
    for (const size of sizes) {
      const result = { ours: [] as number[], base: [] as number[], local: [] as number[], peak: 0 };
      results.set(size, result);
      const n = size === sizes.at(-1) ? uploadRounds : 1;
      for (let r = 0; r < n; r++) {
        // New bytes every round: identical ones would be recognised and not stored again.
        const file = path.join(work, `original-${seed}.jpg`);
        writeOriginal(file, size, seed++);
        const ours = async () => {
          const started = performance.now();
          const { result: up, peakMb } = await withPeakRss(pid, () => uploadLarge(node.url, file));
          const ms = performance.now() - started;
          result.peak = Math.max(result.peak, peakMb);
          await fetch(`${node.url}/v1/image/${up.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${BENCH_KEY}` } });
          return ms;
        };
        const intoLocal = async () => {
          const started = performance.now();
          const up = await uploadLarge(local.url, file);
          const ms = performance.now() - started;
          await fetch(`${local.url}/v1/image/${up.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${BENCH_KEY}` } });
          return ms;
        };
        const base = () => libStorageUpload(file, s3rver.endpoint, s3rver.bucket, `baseline-${seed}`);
        if (r % 2 === 0) {
          result.base.push(await base());
          result.ours.push(await ours());
        } else {
          result.ours.push(await ours());
          result.base.push(await base());
        }
        result.local.push(await intoLocal());
        const mibps = (ms: number) => size / MiB / (ms / 1000);
        console.log(
          `${size / MiB} MiB round ${r + 1}: lib-storage ${mibps(result.base.at(-1)!).toFixed(0)} MiB/s, --storage s3 upload ${mibps(result.ours.at(-1)!).toFixed(0)} MiB/s ` +
            `(${(result.ours.at(-1)! / 1000).toFixed(1)} s; into local files ${(result.local.at(-1)! / 1000).toFixed(1)} s, lib-storage ${(result.base.at(-1)! / 1000).toFixed(1)} s)`,
        );
        fs.rmSync(file, { force: true });
      }
    }
    const large = sizes.at(-1)!;
    const big = results.get(large)!;
    const mibps = (ms: number) => large / MiB / (ms / 1000);
    const ratios = big.ours.map((ms, i) => big.base[i]! / ms);
    const uploadRatio = median(ratios);
    entries.push({
      suite: 'cluster',
      name: `raw upload of ${large / MiB} MiB into --storage s3 (202 received)`,
      value: mibps(median(big.ours)),
      unit: 'MiB/s',
      baseline: { name: 'plain lib-storage Upload of the same file to the same s3rver', value: mibps(median(big.base)) },
      ratio: uploadRatio,
      target: '≥ 0.9×',
      met: uploadRatio >= 0.9,
      notes:
        `${uploadRounds} alternating rounds; ratio = median of the rounds' (${ratios.map((x) => x.toFixed(2)).join(', ')}); ` +
        `both ${PART_SIZE / MiB} MiB parts, ${PART_CONCURRENCY} in flight; the node on PostgreSQL, streamed by a node:http client from a file`,
    });
    entries.push({
      suite: 'cluster',
      name: `the same upload into a node on local files (the receiving half)`,
      value: mibps(median(big.local)),
      unit: 'MiB/s',
      notes:
        `informative: with --storage s3 the node receives into a staged file (this) and then uploads it to the bucket (about the lib-storage time): ` +
        `median ${(median(big.local) / 1000).toFixed(1)} s + ${(median(big.base) / 1000).toFixed(1)} s against ${(median(big.ours) / 1000).toFixed(1)} s measured`,
    });
    const small = results.get(sizes[0]!)!;
    entries.push({
      suite: 'cluster',
      name: `node peak RSS during a ${large / MiB} MiB upload`,
      value: big.peak,
      unit: 'MiB',
      baseline: { name: `during a ${sizes[0]! / MiB} MiB upload`, value: small.peak },
      ratio: small.peak / big.peak,
      target: 'flat',
      met: big.peak <= small.peak * 1.1 + 16,
      notes: `sampled every 20 ms from the request's start to its 202`,
    });
    return entries;
  } finally {
    for (const s of servers) await s.stop().catch(() => undefined);
    await s3rver.stop();
    postgres.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }
}
