import { EventEmitter } from 'node:events';
import type { ImageStatus, ImagesRepo } from '../db/images.repo.js';
import type { ImageJobRow } from '../db/jobs.repo.js';
import type { Repositories } from '../db/repositories.js';
import type { Clock } from '../util/clock.js';
import type { ImageStatusSignal } from '../cluster/signals.js';
import { statsFormat } from '../../workers/raw-formats.js';
import type { WebhookMessages } from './webhooks/messages.js';

/** A status change of an image of this node's making; the composition root publishes each as a cluster signal. */
export type ImageStatusEvent = ImageStatusSignal;

/**
 * An image's status follows its jobs: queued until one starts, processing while any of the
 * current generation runs, then done, or failed when processing failed for good. Every change
 * is announced on `events` (server-sent events listen there).
 */
export function createLifecycle(deps: { images: ImagesRepo; clock: Clock; webhooks?: WebhookMessages }) {
  const { images, clock } = deps;
  const events = new EventEmitter<{ status: [ImageStatusEvent] }>();
  events.setMaxListeners(0);

  const announce = async (id: string, status: ImageStatus) => {
    const row = await images.findById(id);
    if (row) events.emit('status', { id, customer: row.customer, status });
  };
  /** An announcement is a notification: one that cannot read its row is dropped, not thrown at whoever settled. */
  const announceLater = (id: string, status: ImageStatus) => void announce(id, status).catch(() => {});

  return {
    events,
    announce,

    /** One statement, so two of the image's jobs starting together announce it once. */
    async markProcessing(imageId: string): Promise<void> {
      if (await images.startProcessing(imageId)) await announce(imageId, 'processing');
    },

    /**
     * Call inside the unit of work that finished one of the image's jobs (`job`), with its
     * repositories (`repos`). Settles the
     * image once per generation: not for a job of an older generation (the metadata extraction
     * of the original upload, which a reprocess leaves running, may finish after the new
     * generation settled, or before its jobs even exist), and not again once settled.
     */
    async settle(job: Pick<ImageJobRow, 'image_id' | 'generation'>, repos: Pick<Repositories, 'images' | 'jobs' | 'stats' | 'webhooks'>): Promise<void> {
      const imageId = job.image_id;
      const row = await repos.images.findById(imageId);
      if (!row || row.generation !== job.generation) return;
      // Settled already: counting again would count one processing run twice.
      if (row.status === 'done' || row.status === 'failed') return;
      const current = await repos.jobs.jobsOfCurrentGeneration(imageId);
      if (current.some((j) => j.status === 'queued' || j.status === 'running')) return;
      const failed = current.some((j) => j.kind === 'process_image' && j.status === 'failed');
      const now = clock.now();
      await repos.images.finish(imageId, failed ? 'failed' : 'done', now);
      // Counted here, in the transaction that settles this generation: exactly once per
      // processing run, however often its jobs were retried or the process restarted.
      const format = statsFormat(row.format, row.raw_format);
      if (failed) await repos.stats.add(now, row.customer, format, { failed: 1 });
      else await repos.stats.add(now, row.customer, format, { processed: 1, bytesOut: await repos.images.doneVariantBytes(imageId) }, now - row.queued_at);
      await repos.jobs.appendEvent(failed ? 'image.failed' : 'image.processed', imageId, { customer: row.customer, format: row.format }, now);
      // The customer's webhooks, in this same unit of work (CONTRACT §11).
      await deps.webhooks?.recordImage(repos, failed ? 'image.failed' : 'image.processed', imageId, now);
      // Emitted after the caller's commit would be more exact; listeners only forward it, and
      // a rolled-back settle is followed by a retry that announces again.
      queueMicrotask(() => announceLater(imageId, failed ? 'failed' : 'done'));
    },
  };
}

export type Lifecycle = ReturnType<typeof createLifecycle>;
