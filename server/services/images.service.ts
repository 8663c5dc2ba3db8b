import type { ImageMetadata, InputFormat } from '../api/index.js';
import type { ExtractedMetadata } from '../../workers/types.js';
import type { ImageRow, ImageStatus, ImagesRepo } from '../db/images.repo.js';
import type { JobsRepo } from '../db/jobs.repo.js';
import type { DatabasePort } from '../db/port.js';
import type { BlobPlacement } from './blob-placement.js';
import { blobKeys, isBlobNotFound, type PrimaryBlobStore, type OpenedBlob } from '../storage/blob-store.js';
import type { Clock } from '../util/clock.js';
import { AppError } from '../errors.js';
import { assertQueueHasRoom } from '../jobs/admission.js';
import { MIME_TYPES, originalDownloadName, type OutputFormat } from '../media/formats.js';
import type { Principal } from './keys.service.js';
import type { WebhookMessages } from './webhooks/messages.js';
import { effectiveVariantStatus, originalMediaType, rawMetadataFields, toImageRecord, variantFilename } from './image-record.js';

export interface ImagesDeps {
  database: Pick<DatabasePort, 'unitOfWork'>;
  images: ImagesRepo;
  jobs: JobsRepo;
  store: PrimaryBlobStore;
  /** How an image's blobs go when it is deleted (blob-placement.ts). */
  placement: BlobPlacement;
  clock: Clock;
  onChanged: () => void;
  /** --max-queued-jobs: a reprocess is refused like an upload while the queue is full. */
  maxQueuedJobs: number;
  /** These jobs' rows were cancelled or deleted: stop them where they run (jobs/runner.ts `cancel`). */
  onJobsCancelled: (jobIds: number[]) => void;
  /** Removes an expired variant's file and marks it (retention.service). */
  expireVariant: (imageId: string, name: string) => Promise<void>;
  /** The customer's webhooks: `image.deleted`, written in the unit of work of the delete. */
  webhooks?: WebhookMessages;
}

export interface Download {
  /**
   * The blob, already open: whatever a purge or a reprocess does to its key from now on, these
   * are whole bytes of what was decided here. Undefined for an original that is not in the
   * primary store (kept in the S3 bucket only). The caller closes it.
   */
  blob: OpenedBlob | undefined;
  size: number;
  contentType: string;
  filename: string;
  etag: string;
  expiresAt: number | null;
  immutable: boolean;
  /** Set for originals: which bytes these are (they may be served from the S3 bucket). */
  sha256?: string;
}

const ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Cursors are opaque to clients: base64url of the last item's sort key. */
export function encodeCursor(row: Pick<ImageRow, 'created_at' | 'id'>): string {
  return Buffer.from(JSON.stringify([row.created_at, row.id])).toString('base64url');
}

export function decodeCursor(cursor: string): { createdAt: number; id: string } {
  try {
    const [createdAt, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [unknown, unknown];
    if (typeof createdAt === 'number' && typeof id === 'string') return { createdAt, id };
  } catch {
    // fall through
  }
  throw new AppError('invalid_request', 'cursor: not a cursor this server issued');
}

/** The file opened for reading, or undefined when it is not there. */
async function openIfPresent(store: PrimaryBlobStore, key: string): Promise<OpenedBlob | undefined> {
  try {
    return await store.open(key);
  } catch (err) {
    if (isBlobNotFound(err)) return undefined;
    throw err;
  }
}

export function createImagesService(deps: ImagesDeps) {
  const { database, images, jobs, store, placement, clock } = deps;

  /** The image if this principal may see it; another customer's image is exactly like a missing one. */
  async function visible(principal: Principal, id: string): Promise<ImageRow> {
    const row = ID_PATTERN.test(id) ? await images.findById(id) : undefined;
    if (!row || (principal.role !== 'admin' && row.customer !== principal.customer)) {
      throw new AppError('not_found', `no image ${id}`);
    }
    return row;
  }

  const record = async (row: ImageRow) => toImageRecord(row, await images.variantsOf(row.id), clock.now());

  return {
    visible,
    get: async (principal: Principal, id: string) => record(await visible(principal, id)),

    async list(principal: Principal, query: { status?: ImageStatus; limit: number; cursor?: string; customer?: string }) {
      // Admins see every customer unless they ask for one; everyone else sees their own.
      const customer = principal.role === 'admin' ? query.customer : principal.customer;
      const rows = await images.list({
        customer,
        status: query.status,
        limit: query.limit + 1,
        before: query.cursor ? decodeCursor(query.cursor) : undefined,
      });
      const page = rows.slice(0, query.limit);
      return {
        items: await Promise.all(page.map(record)),
        nextCursor: rows.length > query.limit ? encodeCursor(page[page.length - 1]!) : null,
      };
    },

    async metadata(principal: Principal, id: string): Promise<ImageMetadata> {
      const row = await visible(principal, id);
      const extracted = (await images.metadata(id)) as Partial<ExtractedMetadata> | undefined;
      return {
        id: row.id,
        format: row.format as InputFormat,
        mimeType: originalMediaType(row),
        ...rawMetadataFields(row, extracted),
        bytes: row.bytes,
        sha256: row.sha256,
        width: row.width,
        height: row.height,
        orientation: extracted?.orientation ?? null,
        space: extracted?.space ?? null,
        channels: extracted?.channels ?? null,
        depth: extracted?.depth ?? null,
        density: extracted?.density ?? null,
        hasAlpha: extracted?.hasAlpha ?? null,
        pages: row.pages,
        iccDescription: extracted?.iccDescription ?? null,
        exif: extracted?.exif ?? null,
        gps: extracted?.gps ?? null,
        dominantColor: row.dominant_color,
        thumbhash: row.thumbhash,
        extracted: extracted !== undefined,
      };
    },

    async delete(principal: Principal, id: string) {
      const row = await visible(principal, id);
      // The rows go in a durable unit of work: the commit is on stable storage before the files
      // go (with --fsync). After a power cut, a delete whose commit was lost would otherwise
      // bring the image back, `done`, its files gone. A file left behind by a commit that was
      // kept is only an orphan (reconcile.ts).
      const unfinished = await database.unitOfWork(
        async (repos) => {
          // Its jobs go with it (ON DELETE CASCADE); a running one is stopped below.
          const jobIds = await repos.jobs.unfinishedOf(id);
          await repos.images.delete(id);
          const now = clock.now();
          await repos.jobs.appendEvent('image.deleted', id, { customer: row.customer, sha256: row.sha256 }, now);
          await deps.webhooks?.record(repos, row.customer, 'image.deleted', { id }, now);
          // A bucket's deletes are journalled here, with the rows (none on the data dir: below).
          await placement.imageDeleted(id, row.sha256, repos);
          return jobIds;
        },
        { durable: true },
      );
      // Then the files: on the data dir in a unit of work of their own, where "is this original
      // still used" is answered and acted on while no upload can record the same bytes; from a
      // bucket by the janitor, which checks the same under its claim.
      await placement.afterImageDeleted(id, row.sha256, database);
      deps.onJobsCancelled(unfinished);
      deps.onChanged();
    },

    /**
     * A new generation of the image's variants. Counted against the queue like an upload, and
     * superseding: the image's unfinished processing of older generations is cancelled (queued
     * jobs never run, a running one is stopped), so repeated calls leave one job, not one each.
     * Metadata extraction is not processing and carries on.
     */
    async reprocess(principal: Principal, id: string) {
      await visible(principal, id);
      await assertQueueHasRoom(jobs, deps.maxQueuedJobs);
      const cancelled = await database.unitOfWork(async (repos) => {
        const now = clock.now();
        const generation = await repos.images.startGeneration(id, now);
        await repos.jobs.appendEvent('image.reprocess_requested', id, { generation }, now);
        // Its stored renders go too (a render claimed meanwhile finds its claim gone and keeps nothing).
        for (const path of await repos.renders.removeOfImage(id)) await placement.remove(path, repos);
        return repos.jobs.cancelOlder(id, 'process_image', generation, now);
      });
      placement.afterCommit();
      deps.onJobsCancelled(cancelled);
      deps.onChanged();
      return record((await images.findById(id))!);
    },

    async download(principal: Principal, id: string, variantName: string): Promise<Download> {
      const row = await visible(principal, id);
      if (variantName === 'original') {
        const blob = await openIfPresent(store, blobKeys.original(row.sha256));
        return {
          blob,
          size: blob ? blob.size : row.bytes,
          contentType: originalMediaType(row),
          filename: originalDownloadName(row.filename, row.format, row.raw_format),
          etag: `"${row.sha256}"`,
          expiresAt: null,
          immutable: true,
          sha256: row.sha256,
        };
      }
      const variant = await images.findVariant(id, variantName);
      if (!variant) throw new AppError('not_found', `image ${id} has no variant "${variantName}"`);
      const status = effectiveVariantStatus(variant, clock.now());
      if (status === 'expired') {
        if (variant.status === 'done') await deps.expireVariant(id, variantName);
        throw new AppError('expired', `variant "${variantName}" expired; POST /v1/image/${id}/reprocess brings it back`);
      }
      if (status === 'failed') throw new AppError('not_ready', `variant "${variantName}" failed: ${row.error_message ?? 'processing failed'}`);
      if (status !== 'done' || !variant.path) throw new AppError('not_ready', `variant "${variantName}" is not processed yet`);
      // Opening is the check: a purge that removed the file since the row was read (or an
      // interrupted one) makes this 410, and once open the file is served whole whatever the
      // purge does next (CONTRACT §14: never 404, never a truncated body).
      const blob = await openIfPresent(store, blobKeys.recordedVariant(id, variant.path));
      if (!blob) {
        await deps.expireVariant(id, variantName);
        throw new AppError('expired', `variant "${variantName}" expired; POST /v1/image/${id}/reprocess brings it back`);
      }
      return {
        blob,
        size: blob.size,
        contentType: MIME_TYPES[variant.format as OutputFormat],
        filename: variantFilename(row.filename, variantName, variant.format as OutputFormat),
        etag: `"${variant.etag}"`,
        expiresAt: variant.expires_at,
        immutable: false,
      };
    },
  };
}

export type ImagesService = ReturnType<typeof createImagesService>;
