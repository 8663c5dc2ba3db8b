import type { Db } from '../../server/db/sqlite/connection.js';

/** An image id that sorts and reads well: 00000000-0000-7000-8000-<n>. */
export const seededImageId = (n: number) => `00000000-0000-7000-8000-${String(n).padStart(12, '0')}`;

/**
 * Seeds `jobs` queued process_image jobs (each with its image), spread over customers by
 * `customerOf(n)`, straight into SQLite in one transaction: what a busy server's queue holds.
 * Jobs are inserted through the ordinary columns, so the queue triggers keep `job_queues` as
 * they do in service. Returns the number of the next free image.
 */
export function seedQueuedJobs(
  db: Db,
  options: { jobs: number; customerOf: (n: number) => string; runAt?: (n: number) => number; from?: number },
): number {
  const from = options.from ?? 0;
  const image = db.prepare(
    `INSERT INTO images (id, customer, status, filename, bytes, sha256, format, width, height, pages, source, created_at, queued_at)
     VALUES (?, ?, 'queued', 'x.png', 1, ?, 'png', 1, 1, 1, 'upload', 0, 0)`,
  );
  const event = db.prepare(`INSERT INTO outbox (type, image_id, payload, created_at, dispatched_at) VALUES ('image.uploaded', ?, '{}', 0, 0)`);
  const job = db.prepare(
    `INSERT INTO jobs (kind, queue, image_id, customer, generation, event_id, status, max_attempts, run_at, created_at)
     VALUES ('process_image', 'image', ?, ?, 1, ?, 'queued', 3, ?, 0)`,
  );
  const sha = 'ab'.repeat(32);
  db.transaction(() => {
    for (let n = from; n < from + options.jobs; n++) {
      const id = seededImageId(n);
      const customer = options.customerOf(n);
      image.run(id, customer, sha);
      const eventId = Number(event.run(id).lastInsertRowid);
      job.run(id, customer, eventId, options.runAt?.(n) ?? 0);
    }
  })();
  return from + options.jobs;
}
