/**
 * `npm run bench [-- SUITE…] [-- --quick]`: runs the benchmark suites, prints a table and
 * merges the figures into bench/results.json. Every figure that has a physical or library
 * baseline is measured against it in the same run: absolute times on a shared machine are noise.
 */
import os from 'node:os';
import { printTable, saveResults, type BenchEntry } from './report.js';
import { clusterBench } from './cluster.bench.js';
import { dbPortBench } from './db-port.bench.js';
import { fsyncBench } from './fsync.bench.js';
import { heicBench } from './heic.bench.js';
import { largeBench } from './large.bench.js';
import { latencyBench } from './latency.bench.js';
import { processingBench } from './processing.bench.js';
import { queueBench } from './queue.bench.js';
import { recoveryBench } from './recovery.bench.js';
import { renderBench } from './render.bench.js';
import { s3Bench } from './s3.bench.js';
import { statsBench } from './stats.bench.js';
import { svgBench } from './svg.bench.js';
import { tusBench } from './tus.bench.js';
import { uploadBench } from './upload.bench.js';

type Suite = (options: { quick: boolean }) => Promise<BenchEntry[]>;

const SUITES: Record<string, Suite> = {
  upload: uploadBench,
  processing: processingBench,
  large: largeBench,
  latency: latencyBench,
  stats: statsBench,
  queue: queueBench,
  s3: s3Bench,
  fsync: fsyncBench,
  recovery: recoveryBench,
  svg: svgBench,
  heic: heicBench,
  db: dbPortBench,
  tus: tusBench,
  cluster: clusterBench,
  'cluster-upload': (options) => clusterBench({ ...options, only: 'upload' }),
  render: renderBench,
};

async function main() {
  const args = process.argv.slice(2);
  const quick = args.includes('--quick');
  const wanted = args.filter((a) => !a.startsWith('--'));
  const unknown = wanted.filter((w) => !(w in SUITES));
  if (unknown.length) {
    console.error(`unknown suite ${unknown.join(', ')}; suites: ${Object.keys(SUITES).join(', ')}`);
    process.exit(2);
  }
  const names = wanted.length ? wanted : Object.keys(SUITES);
  const entries: BenchEntry[] = [];
  for (const name of names) {
    console.log(`\n== ${name}${quick ? ' (quick)' : ''}`);
    entries.push(...(await SUITES[name]!({ quick })));
  }
  console.log('');
  printTable(entries);
  saveResults(entries, {
    date: new Date().toISOString(),
    quick,
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memoryGiB: Math.round(os.totalmem() / 1024 ** 3), node: process.version },
  });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
