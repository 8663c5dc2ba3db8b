import crypto from 'node:crypto';
import fs from 'node:fs';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BlobNotFoundError, BlobStoreUnavailableError, UPLOAD_ID, parseUploadKey, type ByteRange, type OpenedBlob } from '../blob-store.js';
import type { UploadPartStat, UploadPartStore, UploadRecord } from '../upload-parts.js';
import type { S3Bucket } from './bucket.js';
import { describeS3Error, isNotFound, mightBeBucketWide } from './errors.js';
import { crc32Base64 } from './multipart-upload.js';

const MiB = 1024 * 1024;
const PART_OFFSET_DIGITS = 16;

interface PartObject {
  key: string;
  offset: number;
  bytes: number;
  modifiedMs: number;
}

/**
 * Uploads in progress as objects in the bucket (`--storage s3`), so an upload begun on one node
 * is continued on any other, and survives the node:
 *
 *   uploads/<id>/record.json              its record (declared length, metadata)
 *   uploads/<id>/part-<offset, 16 digits>  the bytes one PATCH stored, from that offset
 *
 * The state a node needs (where the bytes end) is the bucket's listing of the parts: the parts
 * are contiguous from 0, and the end is the last part's offset plus its size. Nothing about an
 * upload is kept in a node's memory or disk, and nothing in the database: the port's records
 * are the store's (upload-parts.ts), the record and the parts cannot disagree, and listing is
 * strongly consistent on S3 (and the S3-compatible servers Darkroom supports).
 *
 * A part streams into its object as it arrives (a multipart upload in parts of `partSize`, each
 * filled in one buffer the PATCH reuses); when the
 * client's body fails half-way, what arrived is still stored as the part, so the upload resumes
 * from it, as the fs adapter's does.
 */
export function createS3UploadParts(
  bucket: S3Bucket,
  options: { stagingPath: () => string; partSize?: number },
): UploadPartStore {
  const partSize = options.partSize ?? 8 * MiB;
  const folder = (key: string) => `uploads/${parseUploadKey(key)}/`;
  const recordKey = (key: string) => `${folder(key)}record.json`;
  const partKey = (key: string, offset: number) => `${folder(key)}part-${String(offset).padStart(PART_OFFSET_DIGITS, '0')}`;

  const guard = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      if (mightBeBucketWide(err)) throw new BlobStoreUnavailableError(`S3 ${bucket.where}: ${describeS3Error(err)}`, { cause: err });
      throw err;
    }
  };

  async function objectsOf(key: string): Promise<PartObject[]> {
    const parts: PartObject[] = [];
    await guard(key, async () => {
      for await (const page of bucket.listObjects(folder(key))) {
        for (const o of page) {
          const m = /\/part-(\d+)$/.exec(o.key);
          if (m) parts.push({ key: o.key, offset: Number(m[1]), bytes: o.bytes, modifiedMs: o.modifiedMs });
        }
      }
    });
    return parts.sort((a, b) => a.offset - b.offset);
  }

  /** The parts that make the bytes: contiguous from 0 (a part past a gap is not part of them). */
  function contiguous(parts: PartObject[]): PartObject[] {
    const out: PartObject[] = [];
    let end = 0;
    for (const part of parts) {
      if (part.offset !== end || part.bytes === 0) break;
      out.push(part);
      end += part.bytes;
    }
    return out;
  }

  interface StoredRecord extends UploadRecord {
    /** The bytes were handed to ingest and dropped; the record answers late questions. */
    bytesRemoved?: boolean;
  }

  async function readStored(key: string): Promise<StoredRecord | undefined> {
    let text: string;
    try {
      const { body } = await guard(key, () => bucket.get(recordKey(key)));
      const chunks: Buffer[] = [];
      for await (const chunk of body as AsyncIterable<Buffer>) chunks.push(chunk);
      text = Buffer.concat(chunks).toString('utf8');
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
    try {
      const parsed = JSON.parse(text) as Partial<StoredRecord>;
      if (typeof parsed !== 'object' || parsed === null) return undefined;
      return { size: typeof parsed.size === 'number' ? parsed.size : undefined, metadata: parsed.metadata ?? {}, createdAt: parsed.createdAt, bytesRemoved: parsed.bytesRemoved === true };
    } catch {
      return undefined;
    }
  }

  async function writeStored(key: string, record: StoredRecord): Promise<void> {
    const body = Buffer.from(JSON.stringify(record));
    const sha256 = crypto.createHash('sha256').update(body).digest();
    await guard(key, () => bucket.put(recordKey(key), body, sha256.toString('base64'), { sha256: '', contentType: 'application/json' }));
  }

  async function deleteParts(key: string): Promise<void> {
    for (const part of await objectsOf(key)) await guard(key, () => bucket.delete(part.key));
  }

  /** Streams the inclusive `range` of the parts' bytes, one part after another. */
  function streamParts(parts: PartObject[], range: ByteRange): Readable {
    const out = new PassThrough({ highWaterMark: MiB });
    void (async () => {
      for (const part of parts) {
        const from = Math.max(range.start, part.offset);
        const to = Math.min(range.end, part.offset + part.bytes - 1);
        if (from > to) continue;
        const { body } = await guard(part.key, () => bucket.get(part.key, { start: from - part.offset, end: to - part.offset }));
        await pipeline(body, out, { end: false });
      }
      out.end();
    })().catch((err: unknown) => out.destroy(err as Error));
    return out;
  }

  async function open(key: string): Promise<OpenedBlob> {
    const stored = await readStored(key);
    if (!stored || stored.bytesRemoved) throw new BlobNotFoundError(key);
    const parts = contiguous(await objectsOf(key));
    const size = parts.reduce((sum, p) => sum + p.bytes, 0);
    const modifiedMs = Math.max(0, ...parts.map((p) => p.modifiedMs));
    return {
      key,
      size,
      modifiedMs,
      async stream(range?: ByteRange) {
        if (size === 0) return Readable.from([]);
        return streamParts(parts, range ?? { start: 0, end: size - 1 });
      },
      async read(buffer: Buffer, offset: number, length: number, position: number) {
        if (position >= size || length <= 0) return { bytesRead: 0 };
        const end = Math.min(size, position + length) - 1;
        let bytesRead = 0;
        for await (const chunk of streamParts(parts, { start: position, end }) as AsyncIterable<Buffer>) {
          chunk.copy(buffer, offset + bytesRead);
          bytesRead += chunk.length;
        }
        return { bytesRead };
      },
      close: async () => {},
    };
  }

  return {
    async create(key: string, record: UploadRecord): Promise<void> {
      await writeStored(key, record);
    },

    /**
     * Streams the source into the part object at `offset`. Parts of `partSize` leave as they
     * fill; a source that ends or fails leaves its tail as the last part, so everything received
     * is stored (and nothing when nothing arrived).
     */
    async append(key: string, source: Readable, offset: number): Promise<number> {
      const object = partKey(key, offset);
      let uploadId: string | undefined;
      const sent: Array<{ partNumber: number; etag: string; crc32: string }> = [];
      // The part being filled: one buffer per PATCH, reused part after part, so a long PATCH
      // allocates nothing per part (garbage that would pile up faster than it is collected).
      // Not pooled across PATCHes: a slow client would hold a slot others wait for.
      let slab: Buffer | undefined;
      let filled = 0;
      let received = 0;
      const sendPart = async (body: Buffer) => {
        uploadId ??= await guard(key, () => bucket.createMultipart(object, { sha256: '' }));
        const crc32 = crc32Base64(body);
        const partNumber = sent.length + 1;
        const out = await guard(key, () => bucket.uploadPart(object, uploadId!, partNumber, body, crc32));
        sent.push({ partNumber, etag: out.etag, crc32 });
      };
      const finish = async () => {
        const rest = slab ? slab.subarray(0, filled) : Buffer.alloc(0);
        if (uploadId === undefined) {
          if (rest.length === 0) return;
          await guard(key, () => bucket.put(object, rest, crypto.createHash('sha256').update(rest).digest('base64'), { sha256: '' }));
          return;
        }
        if (rest.length > 0) await sendPart(rest);
        await guard(key, () => bucket.completeMultipart(object, uploadId!, sent));
      };

      let sourceError: unknown;
      try {
        for await (const chunk of source as AsyncIterable<Buffer>) {
          received += chunk.length;
          for (let at = 0; at < chunk.length; ) {
            slab ??= Buffer.allocUnsafeSlow(partSize);
            const n = chunk.copy(slab, filled, at, Math.min(chunk.length, at + partSize - filled));
            filled += n;
            at += n;
            if (filled === partSize) {
              await sendPart(slab.subarray(0, partSize));
              filled = 0;
            }
          }
        }
      } catch (err) {
        // The body failed (cut off, refused while judged) or a part could not be sent: what
        // arrived is still stored below, as far as the bucket lets it be.
        sourceError = err;
      }
      try {
        await finish();
      } catch (err) {
        if (uploadId !== undefined) await bucket.abortMultipart(object, uploadId);
        throw sourceError ?? err;
      }
      if (sourceError !== undefined) throw sourceError;
      return offset + received;
    },

    async readRecord(key: string): Promise<UploadRecord | undefined> {
      const stored = await readStored(key);
      if (!stored) return undefined;
      const { bytesRemoved: _removed, ...record } = stored;
      return record;
    },

    async writeRecord(key: string, record: UploadRecord): Promise<void> {
      const stored = await readStored(key);
      await writeStored(key, { ...record, bytesRemoved: stored?.bytesRemoved });
    },

    async stat(key: string): Promise<UploadPartStat | undefined> {
      const stored = await readStored(key);
      if (!stored || stored.bytesRemoved) return undefined;
      const parts = contiguous(await objectsOf(key));
      return { bytes: parts.reduce((sum, p) => sum + p.bytes, 0) };
    },

    open,

    /**
     * Downloads the parts, in order, into a staged file for ingest (which then uploads it as an
     * original). The parts stay until `removeBytes`, so a failed ingest can be tried again.
     */
    async stageForIngest(key: string): Promise<string> {
      const blob = await open(key);
      const staged = options.stagingPath();
      try {
        await pipeline(await blob.stream(), fs.createWriteStream(staged, { highWaterMark: MiB }));
      } catch (err) {
        await fs.promises.rm(staged, { force: true });
        throw err;
      }
      return staged;
    },

    async removeBytes(key: string): Promise<void> {
      const stored = await readStored(key);
      if (stored) await writeStored(key, { ...stored, bytesRemoved: true });
      await deleteParts(key);
    },

    async remove(key: string): Promise<void> {
      await deleteParts(key);
      await guard(key, () => bucket.delete(recordKey(key)));
    },

    async *list(): AsyncIterable<{ key: string; touchedMs: number }> {
      // One listing of every upload's objects; an upload is listed once its record is seen,
      // with the latest time of any of its objects.
      const touched = new Map<string, { touchedMs: number; hasRecord: boolean }>();
      await guard('uploads/', async () => {
        for await (const page of bucket.listObjects('uploads/')) {
          for (const o of page) {
            const [, id, name] = o.key.split('/');
            if (!id || !UPLOAD_ID.test(id)) continue;
            const entry = touched.get(id) ?? { touchedMs: 0, hasRecord: false };
            entry.touchedMs = Math.max(entry.touchedMs, o.modifiedMs);
            if (name === 'record.json') entry.hasRecord = true;
            touched.set(id, entry);
          }
        }
      });
      for (const [id, entry] of touched) if (entry.hasRecord) yield { key: `uploads/${id}`, touchedMs: entry.touchedMs };
    },
  };
}
