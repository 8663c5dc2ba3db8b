import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { UPLOAD_ID, parseUploadKey, type OpenedBlob } from '../blob-store.js';
import type { UploadPartStat, UploadPartStore, UploadRecord } from '../upload-parts.js';
import { isMissing, openFileAsBlob } from './opened-file.js';

/** What link(2) answers where the filesystem cannot hard-link (FAT, some network mounts). */
const NO_HARD_LINKS = new Set(['EXDEV', 'EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);

// Larger writes mean fewer syscalls for multi-gigabyte bodies; memory per upload stays at a few MB.
const WRITE_HIGH_WATER_MARK = 1024 * 1024;

/**
 * Uploads in progress as files under the data dir, the embedded default:
 *
 *   uploads/<id>        the bytes received so far (key uploads/<id>)
 *   uploads/<id>.json   its record, in the form @tus/file-store wrote it (below)
 *
 * The layout is the one the tus file store had, so uploads in progress when the server is
 * upgraded resume after it. Parts are not flushed to the disk as they arrive: an upload is
 * acknowledged only once it is complete and ingested, which makes the original durable, and a
 * part lost to a power cut is one the client sends again from the offset it is told.
 *
 * `stagingPath` gives a fresh path in the blob store's tmp/, on the same filesystem, so a
 * complete upload is handed to ingest as a second name (a hard link), not a copy.
 */
export function createFsUploadParts(dataDir: string, options: { stagingPath: () => string }): UploadPartStore & { directory: string } {
  const directory = path.join(path.resolve(dataDir), 'uploads');
  fs.mkdirSync(directory, { recursive: true });

  /** The file of an upload's bytes; the key is checked first, so nothing outside uploads/ is named. */
  const bytesPath = (key: string) => path.join(directory, parseUploadKey(key));
  const recordPath = (key: string) => `${bytesPath(key)}.json`;

  const mtimeOf = async (file: string) => (await fs.promises.stat(file).catch(() => undefined))?.mtimeMs ?? 0;

  /** The record writes under way, by key. */
  const recordWrites = new Map<string, Promise<void>>();
  /** Where a record is written before it replaces the old one. */
  const pendingRecordPath = (key: string) => `${recordPath(key)}.tmp`;

  /**
   * Replaces the record whole (written beside it, then renamed over it): a request reading it
   * meanwhile (a HEAD while the last PATCH finishes the upload) sees the old record or the new
   * one, never a file cut short, which would read as no upload at all.
   */
  async function writeRecord(key: string, record: UploadRecord): Promise<void> {
    const text = JSON.stringify(toStoredRecord(parseUploadKey(key), record));
    // One write of a record at a time (they share the pending file); the last one asked wins.
    const previous = recordWrites.get(key) ?? Promise.resolve();
    const write = previous
      .catch(() => undefined)
      .then(async () => {
        const pending = pendingRecordPath(key);
        await fs.promises.writeFile(pending, text);
        await fs.promises.rename(pending, recordPath(key));
      });
    recordWrites.set(key, write);
    const forget = () => {
      if (recordWrites.get(key) === write) recordWrites.delete(key);
    };
    write.then(forget, forget);
    return write;
  }

  return {
    directory,

    async create(key: string, record: UploadRecord): Promise<void> {
      await fs.promises.writeFile(bytesPath(key), '');
      await writeRecord(key, record);
    },

    async append(key: string, source: Readable, offset: number): Promise<number> {
      // r+: a part lands exactly at its offset of the file `create` made (never creates one).
      const writer = fs.createWriteStream(bytesPath(key), { flags: 'r+', start: offset, highWaterMark: WRITE_HIGH_WATER_MARK });
      await pipeline(source, writer);
      return offset + writer.bytesWritten;
    },

    async readRecord(key: string): Promise<UploadRecord | undefined> {
      const text = await fs.promises.readFile(recordPath(key), 'utf8').catch((err: unknown) => {
        if (isMissing(err)) return undefined;
        throw err;
      });
      // A record cut short (a crash while it was written) is no upload: the client starts over.
      return text === undefined ? undefined : fromStoredRecord(text);
    },

    writeRecord,

    async stat(key: string): Promise<UploadPartStat | undefined> {
      const file = bytesPath(key);
      const stats = await fs.promises.stat(file).catch((err: unknown) => {
        if (isMissing(err)) return undefined;
        throw err;
      });
      if (!stats?.isFile()) return undefined;
      return { bytes: stats.size };
    },

    async open(key: string): Promise<OpenedBlob> {
      return openFileAsBlob(key, bytesPath(key));
    },

    async stageForIngest(key: string): Promise<string> {
      const file = bytesPath(key);
      const staged = options.stagingPath();
      try {
        await fs.promises.link(file, staged);
        return staged;
      } catch (err) {
        // No hard links on this filesystem: the upload's own name (a failed ingest then loses
        // its bytes and the client sends them again), rather than copying gigabytes. Any other
        // failure (too many open files, a disk error) is passing: it fails this attempt and
        // the upload keeps its bytes for the next, as promised.
        if (!NO_HARD_LINKS.has((err as NodeJS.ErrnoException).code ?? '')) throw err;
        return file;
      }
    },

    async removeBytes(key: string): Promise<void> {
      await fs.promises.rm(bytesPath(key), { force: true });
    },

    async remove(key: string): Promise<void> {
      await fs.promises.rm(bytesPath(key), { force: true });
      await fs.promises.rm(recordPath(key), { force: true });
      await fs.promises.rm(pendingRecordPath(key), { force: true });
    },

    async *list(): AsyncIterable<{ key: string; touchedMs: number }> {
      for (const name of await fs.promises.readdir(directory)) {
        const id = name.endsWith('.json') ? name.slice(0, -5) : undefined;
        if (!id || !UPLOAD_ID.test(id)) continue;
        const touchedMs = Math.max(await mtimeOf(path.join(directory, name)), await mtimeOf(path.join(directory, id)));
        yield { key: `uploads/${id}`, touchedMs };
      }
    },
  };
}

/**
 * The record as @tus/file-store's FileKvStore wrote it (JSON of tus's Upload): `offset` is always
 * 0 there (the bytes' length is the file's), and is written so an older server reads it alike.
 */
interface StoredRecord {
  id: string;
  size?: number;
  offset: number;
  metadata?: Record<string, string | null>;
  creation_date?: string;
}

function toStoredRecord(id: string, record: UploadRecord): StoredRecord {
  return { id, metadata: record.metadata, size: record.size, offset: 0, creation_date: record.createdAt };
}

function fromStoredRecord(text: string): UploadRecord | undefined {
  let stored: Partial<StoredRecord>;
  try {
    stored = JSON.parse(text) as Partial<StoredRecord>;
  } catch {
    return undefined;
  }
  if (typeof stored !== 'object' || stored === null) return undefined;
  return {
    size: typeof stored.size === 'number' ? stored.size : undefined,
    metadata: stored.metadata ?? {},
    createdAt: typeof stored.creation_date === 'string' ? stored.creation_date : undefined,
  };
}
