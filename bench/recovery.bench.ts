import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openSqliteDatabase } from '../server/db/sqlite/sqlite-database.js';
import { blobKeys } from '../server/storage/blob-store.js';
import { createFsBlobStore } from '../server/storage/fs/fs-blob-store.js';
import type { VariantSpec } from '../workers/types.js';
import { ROOT, peakRssMb } from './lib/processes.js';
import type { BenchEntry } from './report.js';

const DARKROOM = path.join(ROOT, 'bin/darkroom.js');
const VARIANTS: VariantSpec[] = [
  { name: 'thumb', width: 256, fit: 'inside', format: 'webp', withoutEnlargement: true },
  { name: 'display', width: 2048, fit: 'inside', format: 'webp', withoutEnlargement: true },
];

/**
 * A data dir as Darkroom leaves it, at a chosen size, without processing anything: `images`
 * originals of 4 KB and two processed files of 1 KB each, with their records (what is measured
 * is walking and reading them, not how they were made).
 */
export async function seed(images: number): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-bench-recovery-'));
  const database = openSqliteDatabase(path.join(dir, 'darkroom.db'), { fsync: false });
  const store = createFsBlobStore(dir, { fsync: false });
  store.init();
  const made = new Set<string>();
  const write = (file: string, bytes: Buffer) => {
    const folder = path.dirname(file);
    if (!made.has(folder)) fs.mkdirSync(folder, { recursive: true });
    made.add(folder);
    fs.writeFileSync(file, bytes);
  };
  const sha = (bytes: Buffer) => crypto.createHash('sha256').update(bytes).digest('hex');
  const now = Date.now();
  for (let from = 0; from < images; from += 1000) {
    await database.unitOfWork(async (repo) => {
      for (let i = from; i < Math.min(images, from + 1000); i++) {
        const original = crypto.randomBytes(4096);
        const id = crypto.randomUUID();
        write(store.originalPath(sha(original)), original);
        await repo.images.insert(
          { id, customer: `c${i % 10}`, filename: `${i}.jpg`, bytes: original.length, sha256: sha(original), format: 'jpeg', width: 64, height: 48, pages: 1, source: 'upload', created_at: now + i },
          VARIANTS,
        );
        for (const variant of VARIANTS) {
          const bytes = crypto.randomBytes(1024);
          const file = store.pathOf(blobKeys.processed(id, variant.name, 'webp'));
          write(file, bytes);
          await repo.images.completeVariant(id, variant.name, { width: 64, height: 48, bytes: bytes.length, path: file, etag: sha(bytes), writtenAt: now, expiresAt: now + 365 * 86_400_000 });
        }
        await repo.images.finish(id, 'done', now);
      }
    });
  }
  database.close();
  return dir;
}

/** `darkroom verify` on a data dir: seconds, peak RSS, and what it printed last. */
async function timeVerify(dir: string) {
  const proc = spawn(process.execPath, [DARKROOM, 'verify', '--data-dir', dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  proc.stdout.on('data', (c: Buffer) => (out += c.toString()));
  const started = performance.now();
  // VmHWM (the peak so far), read until the process is gone: the last reading is its peak.
  let peakMb = 0;
  const timer = setInterval(() => {
    try {
      peakMb = peakRssMb(proc.pid!);
    } catch {
      // exited between two readings
    }
  }, 20);
  await new Promise((resolve) => proc.once('exit', resolve));
  clearInterval(timer);
  const seconds = (performance.now() - started) / 1000;
  if (proc.exitCode !== 0) throw new Error(`verify exited ${proc.exitCode}: ${out}`);
  return { seconds, peakMb, summary: out.trim().split('\n').at(-1)! };
}

/** A start after an unclean stop: the reconciliation's own time, from its log line. */
async function timeReconcile(dir: string) {
  fs.writeFileSync(path.join(dir, 'darkroom.pid'), '999999999'); // the unclean-stop marker of a process that is gone
  const proc = spawn(process.execPath, [DARKROOM, 'serve', '--data-dir', dir, '--port', '0', '--log-level', 'info'], { stdio: ['ignore', 'ignore', 'pipe'] });
  const report = await new Promise<{ seconds: number; orphanOriginals: number }>((resolve, reject) => {
    let err = '';
    proc.stderr.on('data', (c: Buffer) => {
      err += c.toString();
      const line = err.split('\n').find((l) => l.includes('data dir reconciled after an unclean stop'));
      if (line) resolve(JSON.parse(line));
    });
    proc.once('exit', (code) => reject(new Error(`server exited (${code}) before reconciling: ${err}`)));
  });
  proc.kill('SIGTERM');
  await new Promise((resolve) => proc.once('exit', resolve));
  return report;
}

/**
 * What recovery costs as the data dir grows: `darkroom verify` (time and peak memory, which must
 * not grow with the number of files) and the start-up reconciliation after an unclean stop, at
 * a tenth of the size and at the full size.
 */
export async function recoveryBench(options: { quick: boolean }): Promise<BenchEntry[]> {
  const full = options.quick ? 10_000 : 100_000;
  const entries: BenchEntry[] = [];
  const results: Array<{ images: number; verify: Awaited<ReturnType<typeof timeVerify>>; reconcile: Awaited<ReturnType<typeof timeReconcile>> }> = [];
  for (const images of [full / 10, full]) {
    const seeding = performance.now();
    const dir = await seed(images);
    console.log(`  seeded ${images} images (${images * 3} files) in ${((performance.now() - seeding) / 1000).toFixed(1)} s`);
    try {
      const verify = await timeVerify(dir);
      console.log(`  verify: ${verify.seconds.toFixed(1)} s, peak ${verify.peakMb.toFixed(0)} MB: ${verify.summary}`);
      const reconcile = await timeReconcile(dir);
      console.log(`  reconciliation: ${reconcile.seconds} s`);
      results.push({ images, verify, reconcile });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  const [small, large] = results as [(typeof results)[0], (typeof results)[0]];
  entries.push(
    {
      suite: 'recovery',
      name: `darkroom verify, ${large.images} images (${large.images * 3} files)`,
      value: large.verify.seconds,
      unit: 's',
      notes: `${((large.images * 3) / large.verify.seconds).toFixed(0)} files/s; ${small.images} images: ${small.verify.seconds.toFixed(1)} s`,
    },
    {
      suite: 'recovery',
      name: `darkroom verify peak RSS, ${large.images} images`,
      value: large.verify.peakMb,
      unit: 'MB',
      baseline: { name: `${small.images} images`, value: small.verify.peakMb },
      target: 'flat (bounded memory)',
      met: large.verify.peakMb <= small.verify.peakMb * 1.25,
    },
    {
      suite: 'recovery',
      name: `start-up reconciliation after an unclean stop, ${large.images} images`,
      value: large.reconcile.seconds,
      unit: 's',
      notes: `in the background, while serving; ${small.images} images: ${small.reconcile.seconds} s`,
    },
  );
  return entries;
}
