import type { CopiedRow, RowSink, RowSource, SourceTable } from '../db/row-copy.js';
import { BlobIntegrityError, blobKeys, BlobStoreUnavailableError, isBlobNotFound, type BlobStore } from '../storage/blob-store.js';

/**
 * `darkroom migrate`: copies a single-node installation (its SQLite database and its files)
 * into cluster storage (PostgreSQL, and with `--storage s3` the bucket). docs/deploy.md,
 * "Moving a single server into a cluster", says how it is used; this is how it works.
 *
 * - **Files first, then rows.** A row names a file that is already in the bucket, so a cluster
 *   started on a finished copy never lists an image whose bytes are missing; an interrupted copy
 *   leaves the bucket with files no row names yet, which the next run finds there and skips.
 * - **Every file verified.** Each is streamed from the data dir into the bucket through the blob
 *   store's `put` with the sha256 its row records (an original's key is its sha256; a processed
 *   file's etag is its sha256): bytes that hash otherwise are refused, nothing is stored, and the
 *   file is reported as failed. Then no row is copied: the cluster would list images whose
 *   bytes it lacks, and rows copied now would keep the old record of a file repaired later.
 *   `darkroom verify --repair` on the data dir mends it, and the next run goes on. An object already in the bucket with the recorded size is kept
 *   (it was put, and so verified, by an earlier run: a PUT stores all of an object or nothing).
 * - **Rows idempotent.** Every table is copied in pages by primary key with
 *   `ON CONFLICT DO NOTHING`, so a run after an interruption adds what is missing and keeps what
 *   is there; the identity columns are then moved past the copied ids.
 * - **One installation per database.** A target that holds an image this installation does not
 *   have belongs to another installation (or a cluster already in use since an earlier copy):
 *   refused before anything is written (`ForeignInstallationError`). A target whose images are
 *   all this installation's is this same copy being resumed, or run again.
 *
 * Processed files keep their keys (`processed/<image id>/<variant>.<ext>`): the bucket as the
 * primary store reads any key under an image's folder (blobKeys.recordedVariant), and writes
 * each new processed file under a fresh key of its own, so a copied key is never written over.
 * A row written before keys existed records a path in the data dir: it is rewritten to its key.
 */

/** Tables that describe the single node's own process, not the installation: not copied. */
const NOT_COPIED: Record<string, string> = {
  nodes: "the registry of running nodes: the single server's own entry is not a node of the cluster",
  renders: 'the result cache of renders: a cache, made again on the first request for each (its files are not copied either)',
  finished_uploads: "which image each finished resumable upload became: the uploads' records stay with the single server",
};

export interface CopyReport {
  /** Files failed, so no row was copied (see above). */
  rowsHeldBack?: boolean;
  tables: Array<{ table: string; rows: number; copied: number; skipped?: string }>;
  files?: {
    copied: number;
    copiedBytes: number;
    /** Already in the bucket with the recorded size (an earlier run). */
    skipped: number;
    skippedBytes: number;
    failed: Array<{ key: string; reason: string }>;
  };
}

export class ForeignInstallationError extends Error {
  constructor(readonly imageId: string) {
    super(
      `the target database already holds images of another installation (image ${imageId} is not in this data dir): ` +
        'migrate copies one installation into an empty cluster database, or resumes its own copy',
    );
    this.name = 'ForeignInstallationError';
  }
}

export class SchemaMismatchError extends Error {}

export interface CopyDeps {
  source: RowSource;
  sink: RowSink;
  /** With a bucket: the data dir's store and the bucket's. Without, only rows are copied. */
  files?: { from: BlobStore; to: BlobStore };
  batchSize?: number;
  /** One line per file copied, skipped or failed (stderr). */
  progress?: (line: string) => void;
}

export async function copyInstallation(deps: CopyDeps): Promise<CopyReport> {
  const { source, sink } = deps;
  const batchSize = deps.batchSize ?? 500;
  const progress = deps.progress ?? (() => undefined);

  for await (const id of sink.imageIds()) if (!source.hasImage(id)) throw new ForeignInstallationError(id);
  const tables = await checkedTables(source, sink);

  const report: CopyReport = { tables: [] };
  if (deps.files) {
    report.files = await copyFiles(source, deps.files, batchSize, progress);
    if (report.files.failed.length) return { ...report, rowsHeldBack: true };
  }

  for (const table of tables) {
    if (NOT_COPIED[table.name]) {
      report.tables.push({ table: table.name, rows: 0, copied: 0, skipped: NOT_COPIED[table.name] });
      continue;
    }
    const entry = { table: table.name, rows: 0, copied: 0 };
    for await (const batch of source.batches(table, batchSize)) {
      const rows = table.name === 'variants' && deps.files ? batch.map(withVariantKey) : batch;
      entry.rows += rows.length;
      entry.copied += await sink.insert(table.name, table.columns, rows);
    }
    report.tables.push(entry);
  }
  await sink.advanceSequences();
  return report;
}

/** A variant row naming its file by key, as the bucket stores it. */
function withVariantKey(row: CopiedRow): CopiedRow {
  if (typeof row.path !== 'string') return row;
  return { ...row, path: blobKeys.recordedVariant(String(row.image_id), row.path) };
}

/** The source's tables, parents before children; every one of them must exist in the target. */
async function checkedTables(source: RowSource, sink: RowSink): Promise<SourceTable[]> {
  const all = source.tables();
  for (const table of all) {
    if (NOT_COPIED[table.name]) continue;
    const target = await sink.columns(table.name);
    const missing = target ? table.columns.filter((c) => !target.includes(c)) : ['(the whole table)'];
    if (missing.length) {
      throw new SchemaMismatchError(`the target database has no place for ${table.name}: ${missing.join(', ')} (are both of this Darkroom version?)`);
    }
  }
  const byName = new Map(all.map((t) => [t.name, t]));
  const ordered: SourceTable[] = [];
  const placed = new Set<string>();
  const place = (table: SourceTable, path: string[]) => {
    if (placed.has(table.name) || path.includes(table.name)) return;
    for (const parent of table.parents) {
      const p = byName.get(parent);
      if (p) place(p, [...path, table.name]);
    }
    placed.add(table.name);
    ordered.push(table);
  };
  for (const table of all) place(table, []);
  return ordered;
}

async function copyFiles(source: RowSource, stores: { from: BlobStore; to: BlobStore }, batchSize: number, progress: (line: string) => void) {
  const files = { copied: 0, copiedBytes: 0, skipped: 0, skippedBytes: 0, failed: [] as Array<{ key: string; reason: string }> };

  async function copyOne(key: string, expected: { sha256?: string; bytes?: number }) {
    const there = await stores.to.stat(key);
    if (there && expected.bytes !== undefined && there.size === expected.bytes) {
      files.skipped++;
      files.skippedBytes += there.size;
      progress(`skipped ${key}: already in the bucket`);
      return;
    }
    let opened;
    try {
      opened = await stores.from.open(key);
    } catch (err) {
      if (!isBlobNotFound(err)) throw err;
      files.failed.push({ key, reason: 'missing in the data dir' });
      progress(`failed ${key}: missing in the data dir`);
      return;
    }
    try {
      const stored = await stores.to.put(key, await opened.stream(), { sha256: expected.sha256 });
      files.copied++;
      files.copiedBytes += stored.bytes;
      progress(`copied ${key} (${stored.bytes} bytes)`);
    } catch (err) {
      // The bucket out of reach ends the run (run it again later); anything else is this file's.
      if (err instanceof BlobStoreUnavailableError) throw err;
      const reason = err instanceof BlobIntegrityError ? `its bytes hash to ${err.actual}, not the recorded ${err.expected}: damaged in the data dir` : (err as Error).message;
      files.failed.push({ key, reason });
      progress(`failed ${key}: ${reason}`);
    } finally {
      await opened.close();
    }
  }

  for await (const batch of source.originals(batchSize)) {
    for (const original of batch) await copyOne(blobKeys.original(original.sha256), { sha256: original.sha256, bytes: original.bytes });
  }
  for await (const batch of source.processedFiles(batchSize)) {
    for (const file of batch) {
      const sha256 = file.etag && /^[0-9a-f]{64}$/.test(file.etag) ? file.etag : undefined;
      await copyOne(blobKeys.recordedVariant(file.imageId, file.path), { sha256, bytes: file.bytes ?? undefined });
    }
  }
  return files;
}

/** The report as the lines `darkroom migrate` prints. */
export function reportLines(report: CopyReport): string[] {
  const lines = report.rowsHeldBack ? ['rows: none copied, as files failed (repair them with `darkroom verify --repair`, then run migrate again)'] : ['rows (copied / in the data dir):'];
  for (const t of report.tables) lines.push(t.skipped ? `  ${t.table}: not copied, ${t.skipped}` : `  ${t.table}: ${t.copied} / ${t.rows}`);
  if (report.files) {
    const f = report.files;
    lines.push(`files: ${f.copied} copied (${f.copiedBytes} bytes), ${f.skipped} already in the bucket (${f.skippedBytes} bytes), ${f.failed.length} failed`);
    for (const failed of f.failed) lines.push(`  failed ${failed.key}: ${failed.reason}`);
  }
  return lines;
}
