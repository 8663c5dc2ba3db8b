import type { IncomingMessage } from 'node:http';
import { Metadata, Server } from '@tus/server';
import type { Logger } from 'pino';
import { AppError } from '../../errors.js';
import { SNIFF_BYTES, sniffFormat } from '../../media/sniff.js';
import type { IngestPipeline } from '../../services/ingest/pipeline.js';
import type { Principal } from '../../services/keys.service.js';
import { tooLarge, type ReceiveLimits } from '../../services/receive.js';
import { parseVariants, type PresetLookup, type VariantLimits } from '../../services/variants.js';
import { UPLOAD_ID, blobKeys, parseUploadKey } from '../../storage/blob-store.js';
import type { UploadPartStore, UploadRecord } from '../../storage/upload-parts.js';
import type { Clock } from '../../util/clock.js';
import { IMAGE_ID_KEY, UploadPartsDataStore } from './upload-parts-data-store.js';
import type { UploadLeases } from './upload-leases.js';

/** Where the tus protocol lives (CONTRACT §3); the Location of an upload is under it. */
export const UPLOADS_PATH = '/v1/uploads';

/** Metadata keys the server adds to an upload's record; clients cannot set them. */
const CUSTOMER = 'darkroom-customer';
const IMAGE_ID = IMAGE_ID_KEY;

const HOUR = 3_600_000;

/** Failures of finishing an upload that say "not now": the complete upload is kept for another try. */
const RETRY_LATER = new Set(['unavailable', 'insufficient_storage', 'too_many_requests']);

/**
 * The database's answer to "which image did this upload become" (db/finished-uploads.repo.ts,
 * composed by main.ts). The row is written with the image, in its unit of work.
 */
export interface FinishedUploads {
  imageOf(uploadId: string): Promise<string | undefined>;
  forgetBefore(before: number): Promise<number>;
}

/** Thrown inside the accepting unit of work when the upload became an image already (its row is rolled back). */
class AlreadyIngested extends AppError {
  constructor(readonly imageId: string) {
    super('conflict', 'this upload was finished already');
  }
}
/** Not an outcome of the upload's own: the request that ingested it counted it. */
const NOT_AN_OUTCOME = new Set(['conflict']);

/** What the store can refuse an upload with while its bytes arrive. */
const REFUSALS = new Set(['unsupported_media_type', 'pixel_limit_exceeded', 'insufficient_storage', 'payload_too_large']);

export interface ResumableUploadsDeps {
  /** Where uploads in progress are kept (the upload-parts half of the blob store). */
  parts: UploadPartStore;
  /** Which image each finished upload became: the answer every node shares. */
  finished: FinishedUploads;
  ingest: IngestPipeline;
  limits: ReceiveLimits & VariantLimits;
  /** Presets named as variants: resolved when the upload is created, and the upload keeps what they resolved to. */
  presets: PresetLookup;
  clock: Clock;
  logger: Logger;
  /** Turns a failure of something underneath (a busy database, a full disk) into the API's error. */
  translateError?: (err: unknown) => AppError | undefined;
  /**
   * The uploads' locks across nodes (upload-leases.ts), where several nodes share the database;
   * without, a lock of this process (one node: the data-dir lock says so) is enough.
   */
  leases?: UploadLeases;
  /** Unfinished uploads untouched for this long are removed (default one day). */
  abandonAfterMs?: number;
}

export interface CompletedUpload {
  size: number;
  imageId: string;
}

/**
 * Resumable uploads (tus 1.0 via @tus/server): the bytes stream to the upload-parts store (by
 * key, `uploads/<id>`), are judged and hashed on the way like any upload
 * (upload-parts-data-store.ts), and once the last byte is in, the upload is ingested exactly
 * like `POST /v1/image`. This is the tus adapter: it speaks the protocol
 * (@tus/server, its hooks, the Upload-* headers) and hands complete uploads to the ingest use
 * case, which knows nothing of tus. The answer that completes an upload carries
 * `Darkroom-Image-Id`; asking about a completed upload later (a client that lost that answer
 * when the connection dropped) gets the same id, and never ingests the bytes twice.
 */
export function createResumableUploads(deps: ResumableUploadsDeps) {
  const { ingest, limits, clock, logger } = deps;
  const { parts } = deps;
  const store = new UploadPartsDataStore({ parts, maxInputPixels: limits.maxInputPixels });
  const abandonAfterMs = deps.abandonAfterMs ?? 24 * HOUR;
  /** The principal of each request handed to tus, for its hooks. */
  const principals = new WeakMap<IncomingMessage, Principal>();
  /** One finalisation per upload at a time: a retried request waits for the first. */
  const finalising = new Map<string, Promise<CompletedUpload>>();
  /** Headers a refusal answers with (Retry-After), by request, for the route to send. */
  const answerHeaders = new WeakMap<IncomingMessage, Record<string, string>>();

  const tus = new Server({
    path: UPLOADS_PATH,
    datastore: store,
    relativeLocation: true,
    // Every PATCH holds the upload's lock while it appends and, with the last byte, ingests.
    ...(deps.leases ? { locker: deps.leases.locker() } : {}),
    maxSize: limits.maxBytes,
    // Same origin only, like the rest of the API.
    allowedOrigins: () => false,
    exposedHeaders: ['Darkroom-Image-Id'],
    async onUploadCreate(req, upload) {
      const principal = principalOf(req);
      // Variants are fixed when the upload is created (admitCreation checked them): a preset
      // named in them is kept as what it resolves to now, so a preset changed or deleted before
      // the last byte arrives does not change or fail the upload.
      const given = upload.metadata?.variants ?? undefined;
      const metadata: Record<string, string | null> = { ...upload.metadata, [CUSTOMER]: principal.customer, [IMAGE_ID]: null };
      if (given !== undefined) metadata.variants = JSON.stringify(await parseVariants(given, limits, deps.presets));
      return { metadata };
    },
    async onUploadFinish(req, upload) {
      // tus calls this after it let go of the upload's lock: the ingest takes it again.
      const done = await finaliseLocked(principalOf(req), upload.id);
      return { headers: { 'Darkroom-Image-Id': done.imageId } };
    },
    onResponseError(req, thrown) {
      // tus's own protocol errors carry their answer; they are put in the API's form by the route.
      if (isTusProtocolError(thrown)) return undefined;
      const err = thrown instanceof AppError ? thrown : deps.translateError?.(thrown);
      if (!err) {
        // A bug or an unexpected failure: logged here, and never described to the client (its
        // message may name files on this machine).
        logger.error({ err: thrown, requestId: nodeRequestOf(req)?.id }, 'resumable upload request failed');
        return { status_code: 500, body: JSON.stringify({ error: { code: 'internal_error', message: 'internal error; the server log has the details' } }) };
      }
      // Retry-After and the like go out with the answer (the route adds them; tus cannot).
      const node = nodeRequestOf(req);
      if (node && Object.keys(err.headers).length) answerHeaders.set(node, err.headers);
      // The store refused the bytes as they arrived (415, 422, a full disk): a rejected upload,
      // counted like one refused by POST /v1/image (once: a refusal of finishing is counted already).
      if (REFUSALS.has(err.code)) ingest.refused(principalOf(req), err);
      // The API's error form; the route adds the request id (tus-errors.ts).
      return { status_code: err.status, body: JSON.stringify({ error: { code: err.code, message: err.message } }) };
    },
  });

  function principalOf(req: unknown): Principal {
    const node = nodeRequestOf(req);
    const principal = node && principals.get(node);
    if (!principal) throw new AppError('unauthorized', 'not authenticated');
    return principal;
  }

  /** Turns a complete upload into an image, once. */
  function finalise(principal: Principal, id: string): Promise<CompletedUpload> {
    let running = finalising.get(id);
    if (!running) {
      running = ingestUpload(principal, id).finally(() => finalising.delete(id));
      finalising.set(id, running);
    }
    return running;
  }

  async function ingestUpload(principal: Principal, id: string): Promise<CompletedUpload> {
    const key = blobKeys.upload(id);
    const info = await parts.readRecord(key);
    if (!info || info.size === undefined) throw new AppError('not_found', `no upload ${id}`);
    // The record says so once it is written; the database says so from the image's commit on
    // (a node that died in between, or another node that finished it meanwhile).
    const recorded = info.metadata[IMAGE_ID];
    if (recorded) return { size: info.size, imageId: recorded };
    const known = await deps.finished.imageOf(id);
    if (known) return rememberImage(id, info, known);
    const filename = info.metadata.filename ?? '';
    // The image belongs to the customer who uploaded it, whoever (an admin) asks to finish it.
    const owner: Principal = { ...principal, customer: info.metadata[CUSTOMER] ?? principal.customer };
    try {
      const variants = await parseVariants(info.metadata.variants ?? undefined, limits, deps.presets);
      const sha256 = await store.sha256(id, info.size);
      const sniffedFormat = await sniffFormat(await readHead(parts, key));
      if (!sniffedFormat) throw new AppError('unsupported_media_type', `"${filename}" is not an image format Darkroom can read`);
      // A second name for ingest, which moves what it is given into the originals or removes it
      // when it fails: the upload keeps its own bytes until it has become an image.
      const staged = await parts.stageForIngest(key);
      const [record] = await ingest.accept(
        owner,
        [{ tmpPath: staged, bytes: info.size, sha256, filename, sniffedFormat }],
        { source: 'tus', variants, retriedOn: NOT_AN_OUTCOME },
        {
          // Checked and written under the unit of work's lock (cluster-wide on PostgreSQL): of
          // two nodes finishing the upload at once, the second rolls its image back here.
          inTransaction: async ([image], repos) => {
            const earlier = await repos.finishedUploads.imageOf(id);
            if (earlier) throw new AlreadyIngested(earlier);
            await repos.finishedUploads.record(id, image!.id, clock.now());
          },
        },
      );
      return rememberImage(id, info, record!.id);
    } catch (err) {
      if (err instanceof AlreadyIngested) return rememberImage(id, info, err.imageId);
      ingest.refused(owner, err);
      // Refused for good: nothing of it stays behind. A failure worth
      // retrying (a busy database, a full disk, a bug) keeps the upload, complete, to be finished
      // by the client's next HEAD or PATCH.
      if (err instanceof AppError && !RETRY_LATER.has(err.code)) await store.discard(id);
      throw err;
    }
  }

  /**
   * Writes the image id into the upload's record (for late questions, without the database) and
   * drops its bytes, which now belong to the image. Both are tidying: the database already says
   * which image the upload became, so a failure here loses nothing (the sweep removes the rest).
   */
  async function rememberImage(id: string, info: UploadRecord, imageId: string): Promise<CompletedUpload> {
    const key = blobKeys.upload(id);
    const size = info.size!;
    try {
      await parts.writeRecord(key, { ...info, metadata: { ...info.metadata, [IMAGE_ID]: imageId } });
      await parts.removeBytes(key);
    } catch (err) {
      logger.warn({ err, upload: id, image: imageId }, 'could not tidy a finished resumable upload; the sweep will');
    }
    return { size, imageId };
  }

  /**
   * Everything that can refuse a new upload before a byte of it is sent: its declared length
   * (413), its variants (400), a full queue (429) or disk (507).
   */
  async function admitCreation(principal: Principal, headers: IncomingMessage['headers']): Promise<void> {
    if (headers['upload-defer-length'] !== undefined) {
      throw new AppError('invalid_request', 'Upload-Length is required; uploads of unknown length are not supported');
    }
    const declared = String(headers['upload-length'] ?? '');
    if (!/^\d{1,16}$/.test(declared)) throw new AppError('invalid_request', 'Upload-Length must be the size of the file in bytes');
    const length = Number(declared);
    if (length === 0) throw new AppError('invalid_request', 'the file is empty');
    if (length > limits.maxBytes) throw ingest.refused(principal, tooLarge(limits.maxBytes));
    let metadata: Record<string, string | null> = {};
    const raw = headers['upload-metadata'];
    if (typeof raw === 'string' && raw.trim()) {
      try {
        metadata = Metadata.parse(raw);
      } catch {
        throw new AppError('invalid_request', 'Upload-Metadata: not valid tus metadata (comma-separated "key base64value" pairs)');
      }
    }
    await parseVariants(metadata.variants ?? undefined, limits, deps.presets);
    await ingest.admit(principal, length);
  }

  /** The upload's record if this principal may touch it; another customer's upload is missing. */
  async function ownedUpload(principal: Principal, id: string): Promise<UploadRecord> {
    const info = UPLOAD_ID.test(id) ? await parts.readRecord(blobKeys.upload(id)) : undefined;
    const owner = info?.metadata[CUSTOMER];
    if (!info || (principal.role !== 'admin' && owner !== principal.customer)) throw new AppError('not_found', `no upload ${id}`);
    return info;
  }

  /**
   * An upload whose bytes are all in: its image id, ingesting it first if that has not happened
   * (the answer to the last part was lost, or the server stopped in between). Undefined while
   * bytes are still missing.
   */
  async function completed(principal: Principal, id: string): Promise<CompletedUpload | undefined> {
    const info = await ownedUpload(principal, id);
    if (info.size === undefined) return undefined;
    const imageId = info.metadata[IMAGE_ID];
    if (imageId) return { size: info.size, imageId };
    const stored = await parts.stat(blobKeys.upload(id));
    if (!stored || stored.bytes !== info.size) return undefined;
    return finaliseLocked(principal, id);
  }

  /**
   * Turns a complete upload into an image holding its lock across nodes: another node may be
   * finishing it right now (the PATCH with its last byte, or a HEAD), and it must not stage the
   * bytes that node is about to remove. Under the lock the record and the database are read
   * again (ingestUpload), so the second finds the first one's image.
   */
  async function finaliseLocked(principal: Principal, id: string): Promise<CompletedUpload> {
    if (!deps.leases) return finalise(principal, id);
    const lease = await deps.leases.hold(id);
    try {
      return await finalise(principal, id);
    } finally {
      await lease.release();
    }
  }

  /** Drops the record of a completed upload (the image stays); false if it is not complete. */
  async function forgetCompleted(principal: Principal, id: string): Promise<boolean> {
    const info = await ownedUpload(principal, id);
    if (!info.metadata[IMAGE_ID]) return false;
    await store.discard(id);
    return true;
  }

  /** Hands a request to the tus server on behalf of an authenticated principal. */
  function handle(principal: Principal, request: Request, req: IncomingMessage): Promise<Response> {
    principals.set(req, principal);
    return tus.handleWeb(request);
  }

  /** Removes unfinished uploads nobody has touched for a day, and old completion records. */
  async function sweep(): Promise<number> {
    let removed = 0;
    await deps.finished.forgetBefore(clock.now() - abandonAfterMs);
    for await (const { key, touchedMs } of parts.list()) {
      const id = parseUploadKey(key);
      if (clock.now() - touchedMs < abandonAfterMs) continue;
      // A record that cannot be read is swept like one that is not there; it stops nothing else.
      const info = await parts.readRecord(key).catch((err: unknown) => {
        logger.warn({ err, upload: id }, 'could not read a resumable upload record; sweeping it');
        return undefined;
      });
      // Looked at after the await, right before the removal: a client asking about the upload
      // meanwhile may have started ingesting it.
      if (finalising.has(id)) continue;
      if (!info?.metadata[IMAGE_ID]) logger.info({ upload: id }, 'removing an abandoned resumable upload');
      await store.discard(id);
      removed++;
    }
    return removed;
  }

  const timer = setInterval(() => {
    sweep().catch((err: unknown) => logger.error({ err }, 'sweeping resumable uploads failed'));
  }, HOUR);
  timer.unref();

  return {
    admitCreation,
    completed,
    forgetCompleted,
    handle,
    /** Headers the answer to this request must carry besides tus's own (Retry-After of a 503). */
    answerHeadersFor: (req: IncomingMessage) => answerHeaders.get(req) ?? {},
    sweep,
    close: () => clearInterval(timer),
  };
}

export type ResumableUploads = ReturnType<typeof createResumableUploads>;

/** The Node request under the web Request that @tus/server hands to its hooks. */
function nodeRequestOf(req: unknown): (IncomingMessage & { id?: unknown }) | undefined {
  return (req as { runtime?: { node?: { req?: IncomingMessage } } })?.runtime?.node?.req;
}

/** tus's own errors ({status_code, body}, from @tus/utils ERRORS): answers, not failures. */
function isTusProtocolError(err: unknown): boolean {
  const e = err as { status_code?: unknown; body?: unknown };
  return typeof e?.status_code === 'number' && typeof e?.body === 'string';
}

/** The first bytes of an upload, enough to tell its format. */
async function readHead(parts: UploadPartStore, key: string): Promise<Buffer> {
  const blob = await parts.open(key);
  try {
    const buf = Buffer.alloc(SNIFF_BYTES);
    const { bytesRead } = await blob.read(buf, 0, buf.length, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await blob.close();
  }
}
