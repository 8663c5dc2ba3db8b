import type { Readable } from 'node:stream';
import { AppError } from '../errors.js';

/**
 * The blob store port: every byte Darkroom keeps (originals, processed files) is a blob named
 * by a key, never by a file path. The embedded adapter keeps blobs as files under the data dir
 * (fs/fs-blob-store.ts); a cluster keeps them in an S3 bucket. Use cases, routes and job
 * handlers speak only this interface, so adding a store is adding an adapter.
 *
 * Keys are slash-separated segments of [A-Za-z0-9._-], under one of the known top-level
 * prefixes (see `blobKeys`). A key is validated by every adapter before it is used (`parseBlobKey`):
 * a key built from a request (an image id, a variant name) can never reach outside the store.
 *
 * The port has two levels:
 *
 * - `BlobStore`, **blobs by key**, what every store offers (the fs store, the S3 bucket a
 *   replica lives in): `put`, `open`, `stat`, `delete`, `list`, `localCopy`.
 * - `PrimaryBlobStore`, the store the use cases write to, adds a local **staging area** (a
 *   writer thread and sharp need paths) and the way staged files become blobs. It comes in two
 *   kinds, told apart by `placement`, because the two cannot honestly share one contract:
 *
 *   - `LocalPrimaryStore` (`placement: 'local'`, the data dir): staged files are sealed off the
 *     main thread, then renamed into place and removed in **synchronous stretches** inside the
 *     database's unit of work (`…Sync`), so "is this original still used? then delete it" is
 *     decided and done in one tick that no other request can interleave with.
 *   - `RemotePrimaryStore` (`placement: 'remote'`, an S3 bucket): the slow part (`upload`) is
 *     done before the unit of work, and deletes cannot be done inside one at all: a unit of
 *     work records them in the database, and they are carried out after its commit. The rules
 *     that keep that right across crashes and nodes are services/blob-placement.ts's.
 *
 * Use cases do not branch on the kind themselves: services/blob-placement.ts does, once.
 */
export interface BlobStore {
  /**
   * Stores the bytes of `source` under `key`, replacing any blob there, durably before it
   * resolves. Returns what was stored: its size and hex sha256, computed on the way. With
   * `sha256`, refuses (BlobIntegrityError, nothing stored) bytes whose hash differs.
   */
  put(key: string, source: Readable | AsyncIterable<Uint8Array>, options?: { sha256?: string; signal?: AbortSignal }): Promise<PutResult>;

  /**
   * Opens a blob for reading. What is opened stays whole until it is closed, whatever happens
   * to the key meanwhile (a purge, a reprocess): a download decided on it is never cut short.
   * Throws BlobNotFoundError when the key holds nothing.
   */
  open(key: string): Promise<OpenedBlob>;

  /** Size and modification time of a blob, or undefined when the key holds nothing. */
  stat(key: string): Promise<BlobStat | undefined>;

  /** Removes a blob; removing one that is not there is not an error. */
  delete(key: string, signal?: AbortSignal): Promise<void>;

  /** Every key that starts with `prefix`, in no promised order, read lazily (a store may page). */
  list(prefix: string, signal?: AbortSignal): AsyncIterable<string>;

  /**
   * A local file with the blob's bytes, for the few readers that need a path (sharp, ExifTool).
   * Free on the fs store (the file itself, which the caller must only read); a remote store
   * downloads to a staged file. Call `release` when done. Throws BlobNotFoundError.
   */
  localCopy(key: string, signal?: AbortSignal): Promise<LocalCopy>;
}

/** What both kinds of primary store offer: blobs by key, and a local staging area. */
interface StagingBlobStore extends BlobStore {
  /**
   * Whether blobs are on stable storage before they are recorded: `--fsync` for the data dir;
   * always for a bucket (an object is durable when its PUT is answered).
   */
  readonly durable: boolean;

  /**
   * A fresh local path for a file to be written and then placed in the store (an upload by the
   * writer thread, a worker's output). On the store's own filesystem where it has one, so
   * placing it is an atomic rename. Nothing staged survives a restart.
   */
  stagingPath(suffix?: string): string;

  /** Free bytes where staged (and, for the data dir, stored) files are kept, for the 507 check. */
  freeBytes(): Promise<number>;
}

/** The data dir: staged files are renamed into place, and blobs removed, in synchronous stretches. */
export interface LocalPrimaryStore extends StagingBlobStore {
  readonly placement: 'local';

  /** Makes a finished staged file's bytes durable, off the main thread, before it is placed. */
  sealStaged(file: string): Promise<void>;

  /**
   * Places a sealed staged file as `originals/<sha256>`. Identical bytes already stored are
   * kept and the staged file dropped. With `batch`, the entry is made durable later, once for
   * many files, by `commitBatchSync`; without, before this returns.
   */
  adoptOriginalSync(stagedFile: string, sha256: string, batch?: DurableBatch): void;

  /** Makes everything placed with `batch` durable; call before the commit that records it. */
  commitBatchSync(batch: DurableBatch): void;

  /** Puts a verified, sealed copy in place of a missing or damaged original. */
  replaceOriginalSync(stagedFile: string, sha256: string): void;

  /**
   * Atomically places sealed staged files under their keys, durable before it returns (unless
   * `durable` is false: a cache's files, which a power cut may lose).
   */
  placeStagedSync(moves: Array<{ from: string; key: string }>, options?: { durable?: boolean }): void;

  /**
   * Whether a blob is there, for the synchronous stretches of a use case (the capacity tier's
   * bookkeeping decides and records in one tick).
   */
  existsSync(key: string): boolean;

  /** `delete` for the synchronous stretches of a use case. */
  deleteSync(key: string): void;

  /** Removes every blob under `prefix` (an image's processed files), synchronously. */
  deletePrefixSync(prefix: string): void;
}

/**
 * A bucket as the primary store: a staged file becomes a blob by being uploaded under its key,
 * before the unit of work that records it; nothing is synchronous. Deletes are `delete` and
 * `deletePrefix`, carried out after the commit that decided them (services/blob-placement.ts).
 */
export interface RemotePrimaryStore extends StagingBlobStore {
  readonly placement: 'remote';

  /**
   * Uploads a finished staged file under `key` (in parts for a large one, memory bounded by
   * one part), refusing it (BlobIntegrityError, nothing stored) when `sha256` is given and the
   * bytes hash otherwise. With `reuse`, bytes already stored under the key with the same size
   * are kept and nothing is sent (identical uploads of an original). The staged file stays,
   * for the caller to remove.
   */
  upload(stagedFile: string, key: string, options?: { sha256?: string; reuse?: boolean; signal?: AbortSignal }): Promise<void>;

  /** Removes every blob under `prefix` (an image's processed files). */
  deletePrefix(prefix: string, signal?: AbortSignal): Promise<void>;

  /** Whether the store answers now (for /readyz). */
  isReachable(): Promise<boolean>;
}

export type PrimaryBlobStore = LocalPrimaryStore | RemotePrimaryStore;

export interface PutResult {
  bytes: number;
  /** Hex sha256 of the bytes stored. */
  sha256: string;
}

export interface BlobStat {
  size: number;
  modifiedMs: number;
}

/** An inclusive byte range, as HTTP `Range` gives it. */
export interface ByteRange {
  start: number;
  end: number;
}

export interface OpenedBlob extends BlobStat {
  key: string;
  /**
   * The bytes, or the inclusive range of them, as opened: never other bytes (a store that
   * cannot keep them whole fails with BlobChangedError instead). Resolves once the bytes are on
   * their way, so a failure to start (gone, unreachable) rejects here, before a caller has
   * answered anything. Reading to the end or failing closes the blob.
   */
  stream(range?: ByteRange, signal?: AbortSignal): Promise<Readable>;
  /**
   * Reads up to `length` bytes at `position` into `buffer` at `offset`, as FileHandle.read
   * does (a multipart upload reads its parts this way, in any order when it resumes).
   */
  read(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
  /** Closes the blob; safe to call more than once and after `stream` ended. */
  close(): Promise<void>;
}

export interface LocalCopy {
  path: string;
  release(): Promise<void>;
}

/** The folders (or other units) a batch of adoptions must make durable together. */
export type DurableBatch = Set<string>;

export const createDurableBatch = (): DurableBatch => new Set<string>();

// --- keys ------------------------------------------------------------------------------------

const SHA256 = /^[0-9a-f]{64}$/;
const SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;
const MAX_KEY_CHARS = 1024;

/** The keys Darkroom stores blobs under; the only way keys are built. */
export const blobKeys = {
  original(sha256: string): string {
    if (!SHA256.test(sha256)) throw new InvalidBlobKeyError(`not a sha256: ${JSON.stringify(sha256)}`);
    return `originals/${sha256}`;
  },
  /** Every processed file of one image lives under this prefix. */
  processedPrefix(imageId: string): string {
    return `processed/${segment(imageId)}/`;
  },
  processed(imageId: string, variant: string, ext: string): string {
    return `processed/${segment(imageId)}/${segment(`${variant}.${ext}`)}`;
  },
  /**
   * The key of a processed file as a variant row records it. Rows record the key; rows written
   * before keys existed record the file's path in the data dir, which ends in the image id's
   * folder and the file name, the same two segments the key has.
   */
  recordedVariant(imageId: string, recorded: string): string {
    if (recorded.startsWith('processed/')) return (parseBlobKey(recorded), recorded);
    const file = recorded.split(/[\\/]/).pop() ?? '';
    return `processed/${segment(imageId)}/${segment(file, recorded)}`;
  },
  /** The bytes and record of an upload in progress (upload-parts.ts), by its tus upload id. */
  upload(uploadId: string): string {
    if (!UPLOAD_ID.test(uploadId)) throw new InvalidBlobKeyError(`not an upload id: ${JSON.stringify(uploadId)}`);
    return `uploads/${uploadId}`;
  },
} as const;

/** Upload ids as the tus layer names them: 32 hex digits. Anything else is not ours. */
export const UPLOAD_ID = /^[0-9a-f]{32}$/;

/** The upload id in an upload key (`uploads/<id>`); throws InvalidBlobKeyError for anything else. */
export function parseUploadKey(key: string): string {
  const [kind, uploadId, ...rest] = typeof key === 'string' ? key.split('/') : [];
  if (kind !== 'uploads' || rest.length || !UPLOAD_ID.test(uploadId ?? '')) throw new InvalidBlobKeyError(`not an upload key: ${JSON.stringify(key)}`);
  return uploadId!;
}

export type BlobKind = 'originals' | 'processed';

export interface ParsedBlobKey {
  kind: BlobKind;
  /** The segments after the kind: [sha256] or [image id, file name]. */
  rest: string[];
}

/**
 * Checks a key and splits it: a known kind and the right number of plain segments (no "..",
 * no empty segment, no leading "/"). Adapters call this before touching anything, so a key is
 * safe to map to a path or an object name.
 */
export function parseBlobKey(key: string): ParsedBlobKey {
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_CHARS) throw new InvalidBlobKeyError(`not a blob key: ${JSON.stringify(key)}`);
  const [kind, ...rest] = key.split('/');
  for (const s of rest) segment(s, key);
  if (kind === 'originals' && rest.length === 1 && SHA256.test(rest[0]!)) return { kind, rest };
  if (kind === 'processed' && rest.length === 2) return { kind, rest };
  throw new InvalidBlobKeyError(`not a blob key: ${JSON.stringify(key)}`);
}

/**
 * Checks a listing prefix: a kind, optionally followed by whole or partial plain segments
 * (`processed/`, `processed/<id>/`, `originals/ab`).
 */
export function parseBlobPrefix(prefix: string): { kind: BlobKind; rest: string[] } {
  const [kind, ...rest] = prefix.split('/');
  if (kind !== 'originals' && kind !== 'processed') throw new InvalidBlobKeyError(`not a blob key prefix: ${JSON.stringify(prefix)}`);
  // A trailing slash leaves one empty segment: "whatever is under this folder".
  const parts = rest.at(-1) === '' ? rest.slice(0, -1) : rest;
  for (const s of parts) segment(s, prefix);
  return { kind, rest };
}

function segment(value: string, whole = value): string {
  if (!SEGMENT.test(value) || value === '.' || value === '..') throw new InvalidBlobKeyError(`not a blob key: ${JSON.stringify(whole)}`);
  return value;
}

// --- errors ----------------------------------------------------------------------------------

/** A key (or prefix) that is not one of ours: a caller's bug, or a request trying to escape. */
export class InvalidBlobKeyError extends AppError {
  constructor(message: string) {
    super('invalid_request', message);
    this.name = 'InvalidBlobKeyError';
  }
}

/** Nothing is stored under the key. */
export class BlobNotFoundError extends Error {
  readonly code = 'blob_not_found';
  constructor(readonly key: string) {
    super(`no blob at ${key}`);
    this.name = 'BlobNotFoundError';
  }
}

export const isBlobNotFound = (err: unknown): err is BlobNotFoundError => err instanceof BlobNotFoundError;

/** An opened blob was replaced or removed, and this store cannot read the old bytes any more. */
export class BlobChangedError extends Error {
  constructor(readonly key: string) {
    super(`${key} changed while it was being read`);
    this.name = 'BlobChangedError';
  }
}

/**
 * The store cannot be reached now (an outage, throttling): a 503 with Retry-After for a
 * request, a retry later for a job. `detail` says what the store answered.
 */
export class BlobStoreUnavailableError extends AppError {
  constructor(
    readonly detail: string,
    options: { cause?: unknown } = {},
  ) {
    super('unavailable', `the blob store cannot be reached now (${detail})`, { 'Retry-After': '30' });
    this.name = 'BlobStoreUnavailableError';
    if (options.cause !== undefined) this.cause = options.cause;
  }
}

/** Bytes that did not hash to what the caller said they are; nothing was stored. */
export class BlobIntegrityError extends Error {
  constructor(
    readonly key: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`the bytes for ${key} hash to ${actual}, not ${expected}`);
    this.name = 'BlobIntegrityError';
  }
}
