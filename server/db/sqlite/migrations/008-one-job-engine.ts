/**
 * One job engine: processing, metadata, S3 sync operations, watch-folder ingests and the purge
 * are all rows of `jobs` (jobs/kinds.ts, jobs/runner.ts).
 *
 * `jobs` is rebuilt (SQLite cannot drop a NOT NULL) so that a job need not belong to an image:
 *
 * - `queue` says which slots a job takes (jobs/kinds.ts `QUEUE_OF`); `jobs_due_by_queue` serves
 *   the claim of every queue but `image`.
 * - `image_id`, `customer`, `generation`, `event_id` are set exactly for image jobs (the CHECK).
 *   Only they are claimed round-robin by customer; the `job_queues` triggers count only them, so
 *   `--max-queued-jobs` still counts image work alone.
 * - `lane`: jobs of one lane run one at a time, in the order they were queued (an S3 object: a
 *   delete never overtakes the upload before it; a watched file).
 * - `payload`: what else a kind needs (the object key, the file path), as JSON.
 *
 * The queued, running and failed operations of `s3_sync_jobs` move over with their attempts,
 * and their multipart parts with them (ids shifted past the jobs' own, so `s3_sync_parts` keeps
 * pointing at them): an upload interrupted before the upgrade resumes after it. Running ones are
 * found running at start, as after any crash. The sync queue's table is dropped.
 */
export const sql = /* sql */ `
CREATE TABLE jobs_new (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  kind          TEXT NOT NULL,
  queue         TEXT NOT NULL,
  image_id      TEXT REFERENCES images (id) ON DELETE CASCADE,
  customer      TEXT,
  generation    INTEGER,
  event_id      INTEGER,
  lane          TEXT,
  payload       TEXT NOT NULL DEFAULT '{}',
  status        TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled')),
  attempts      INTEGER NOT NULL DEFAULT 0,
  max_attempts  INTEGER NOT NULL,
  interruptions INTEGER NOT NULL DEFAULT 0,
  run_at        INTEGER NOT NULL,
  lease_until   INTEGER,
  lease_token   TEXT,
  last_error    TEXT,
  created_at    INTEGER NOT NULL,
  finished_at   INTEGER,
  UNIQUE (event_id, kind),
  CHECK ((queue = 'image') = (image_id IS NOT NULL AND customer IS NOT NULL AND generation IS NOT NULL AND event_id IS NOT NULL))
);
INSERT INTO jobs_new (id, kind, queue, image_id, customer, generation, event_id, status, attempts, max_attempts, interruptions,
                      run_at, lease_until, lease_token, last_error, created_at, finished_at)
  SELECT id, kind, 'image', image_id, customer, generation, event_id, status, attempts, max_attempts, interruptions,
         run_at, lease_until, lease_token, last_error, created_at, finished_at
  FROM jobs;

-- The sync's operations, after every job id there ever was. Their attempts are kept; the
-- attempt limit was the server's option, not the row's: its default, 5, is what they get.
CREATE TEMP TABLE sync_id_shift AS SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'jobs'), 0) AS shift;
INSERT INTO jobs_new (id, kind, queue, lane, payload, status, attempts, max_attempts, run_at, lease_token, last_error,
                      created_at, finished_at)
  SELECT s.id + (SELECT shift FROM sync_id_shift), 'sync_' || s.op, 'sync', s.lane,
         json_object('key', s.key, 'imageId', s.image_id, 'sha256', s.sha256, 'variant', s.variant, 'bytes', s.bytes,
                     'eventId', s.event_id, 'uploadId', s.upload_id, 'partSize', s.part_size),
         s.status, s.attempts, 5, s.run_at, s.lease_token, s.last_error, s.created_at, s.failed_at
  FROM s3_sync_jobs s;

-- The parts of multipart uploads in progress, kept aside while the tables change.
CREATE TEMP TABLE sync_parts_kept AS
  SELECT job_id + (SELECT shift FROM sync_id_shift) AS job_id, upload_id, part_number, etag, crc32, bytes FROM s3_sync_parts;
DROP TABLE s3_sync_parts;
DROP TABLE s3_sync_jobs;

-- Job ids are never reused: the new table continues after the highest id the old one gave.
DELETE FROM sqlite_sequence WHERE name IN ('jobs_new', 's3_sync_jobs');
INSERT INTO sqlite_sequence (name, seq)
  SELECT 'jobs_new', max(coalesce((SELECT max(id) FROM jobs_new), 0), (SELECT shift FROM sync_id_shift));
DROP TABLE jobs;
ALTER TABLE jobs_new RENAME TO jobs;

CREATE TABLE s3_sync_parts (
  job_id      INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  upload_id   TEXT NOT NULL,
  part_number INTEGER NOT NULL,
  etag        TEXT NOT NULL,
  crc32       TEXT NOT NULL,
  bytes       INTEGER NOT NULL,
  PRIMARY KEY (job_id, part_number)
) WITHOUT ROWID;
INSERT INTO s3_sync_parts SELECT job_id, upload_id, part_number, etag, crc32, bytes FROM sync_parts_kept;
DROP TABLE sync_parts_kept;
DROP TABLE sync_id_shift;

CREATE INDEX jobs_by_image ON jobs (image_id) WHERE image_id IS NOT NULL;
CREATE INDEX jobs_by_status ON jobs (status, run_at);
CREATE INDEX jobs_queued_by_customer ON jobs (customer, run_at, id) WHERE status = 'queued';
CREATE INDEX jobs_due_by_queue ON jobs (queue, run_at, id) WHERE status = 'queued';
CREATE INDEX jobs_by_lane ON jobs (lane, id) WHERE lane IS NOT NULL;

-- The fair queue's bookkeeping (migration 005), for image jobs only.
CREATE TRIGGER jobs_enqueued AFTER INSERT ON jobs WHEN NEW.status = 'queued' AND NEW.customer IS NOT NULL
BEGIN
  INSERT INTO job_queues (customer, waiting) VALUES (NEW.customer, 1)
    ON CONFLICT (customer) DO UPDATE SET waiting = waiting + 1;
END;

CREATE TRIGGER jobs_dequeued AFTER UPDATE OF status ON jobs
  WHEN OLD.status = 'queued' AND NEW.status <> 'queued' AND NEW.customer IS NOT NULL
BEGIN
  UPDATE job_queues
     SET waiting = waiting - 1,
         served_seq = CASE WHEN NEW.status = 'running'
                           THEN (SELECT max(served_seq) FROM job_queues) + 1
                           ELSE served_seq END
   WHERE customer = NEW.customer;
END;

CREATE TRIGGER jobs_requeued AFTER UPDATE OF status ON jobs
  WHEN OLD.status <> 'queued' AND NEW.status = 'queued' AND NEW.customer IS NOT NULL
BEGIN
  INSERT INTO job_queues (customer, waiting) VALUES (NEW.customer, 1)
    ON CONFLICT (customer) DO UPDATE SET waiting = waiting + 1;
END;

CREATE TRIGGER jobs_deleted AFTER DELETE ON jobs WHEN OLD.status = 'queued' AND OLD.customer IS NOT NULL
BEGIN
  UPDATE job_queues SET waiting = waiting - 1 WHERE customer = OLD.customer;
END;
`;
