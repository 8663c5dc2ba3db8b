import type { Readable } from 'node:stream';
import type { OpenedBlob } from './blob-store.js';

/**
 * The blob store's half for uploads in progress (resumable uploads): bytes that arrive in parts,
 * over many requests, perhaps across restarts, until they are complete and become an original.
 * Unlike a blob, an upload in progress grows: it is created empty with its record, each part is
 * appended where the stored bytes end, and the complete bytes are handed to ingest once.
 *
 * An upload is named by its key, `blobKeys.upload(id)` (`uploads/<id>`); its record (declared
 * length, metadata) belongs to the same key. No path leaves an adapter except the staged file
 * `stageForIngest` hands to ingest, as the primary store's staging does.
 *
 * The store keeps bytes and records, nothing more: what the bytes must be (an image, within the
 * limits), their hash and the protocol they arrive by are the caller's (http/tus/). The
 * embedded adapter keeps files under the data dir (fs/fs-upload-parts.ts). A store shared by
 * several nodes (parts in a bucket, records in the database) is another adapter of this
 * interface. The store is not all such a cluster needs: two things above it are held in one
 * process today and must be shared then, tus's per-upload lock (which keeps two PATCHes from
 * appending at one offset) and the guard that ingests a complete upload once. A running hash
 * is not among them: it is an optimisation the caller rebuilds from `open`.
 */
export interface UploadPartStore {
  /** Creates an upload: no bytes yet, and its record. */
  create(key: string, record: UploadRecord): Promise<void>;

  /**
   * Appends the bytes of `source` at `offset`, which must be where the stored bytes end (the
   * protocol layer checked it under its lock), and resolves with the new end. If `source`
   * fails, its error is what rejects (a refusal raised while the bytes are judged stays that
   * refusal); the bytes that reached the store before stay, so the upload resumes from them.
   * A full disk rejects with the error the store saw (ENOSPC).
   */
  append(key: string, source: Readable, offset: number): Promise<number>;

  /** The record of an upload, or undefined when there is none. */
  readRecord(key: string): Promise<UploadRecord | undefined>;

  /** Replaces the record of an upload (its bytes stay as they are). */
  writeRecord(key: string, record: UploadRecord): Promise<void>;

  /** How many bytes are stored, or undefined without bytes. */
  stat(key: string): Promise<UploadPartStat | undefined>;

  /** Opens the stored bytes for reading (the head to judge, a hash to rebuild). BlobNotFoundError without bytes. */
  open(key: string): Promise<OpenedBlob>;

  /**
   * A staged local file with the complete upload's bytes, for ingest to adopt (ingest moves it
   * into the originals or removes it). The upload keeps its own bytes until `removeBytes`, so a
   * failed ingest can be tried again.
   */
  stageForIngest(key: string): Promise<string>;

  /** Drops the bytes of an upload and keeps its record (a completed upload answers late questions). */
  removeBytes(key: string): Promise<void>;

  /** Drops an upload's bytes and record, whatever state they are in; nothing there is not an error. */
  remove(key: string): Promise<void>;

  /** Every upload with a record, with when its bytes or record last changed, read lazily. */
  list(): AsyncIterable<{ key: string; touchedMs: number }>;
}

/** What is known of an upload besides its bytes. */
export interface UploadRecord {
  /** The declared length in bytes; undefined while the client has not said. */
  size?: number;
  /** The client's metadata and the server's own entries about the upload. */
  metadata: Record<string, string | null>;
  /** When the upload was created (ISO 8601). */
  createdAt?: string;
}

export interface UploadPartStat {
  /** Bytes stored so far: where the next part is appended. */
  bytes: number;
}
