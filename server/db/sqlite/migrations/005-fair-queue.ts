/**
 * Fair queueing: every job knows its customer, and jobs are claimed round-robin across customers
 * (jobs/runner.ts, db/jobs.repo.ts `claim`).
 *
 * `jobs` is rebuilt (SQLite cannot alter a CHECK constraint) to add `customer`, filled from the
 * image, and the `cancelled` status: a reprocess cancels the image's unfinished older processing.
 *
 * `job_queues` has one row per customer: how many of its jobs are queued (`waiting`, due or not)
 * and when it was last served (`served_seq`, a counter that grows with every claim). Triggers on
 * `jobs` keep both exact through every insert, claim, retry, cancel and cascading delete, so a
 * claim walks the customers with waiting jobs, least recently served first, and probes one index
 * entry per customer (`jobs_queued_by_customer`) until one has a job that is due: its cost grows
 * with the number of waiting customers, not with the number of waiting jobs. Rows stay when a
 * customer's queue empties, so a customer that just had its turn does not jump the line by
 * coming back.
 */
export const sql = /* sql */ `
CREATE TABLE jobs_new (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  kind         TEXT NOT NULL,
  image_id     TEXT NOT NULL REFERENCES images (id) ON DELETE CASCADE,
  customer     TEXT NOT NULL,
  generation   INTEGER NOT NULL,
  event_id     INTEGER NOT NULL,
  status       TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled')),
  attempts     INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL,
  run_at       INTEGER NOT NULL,
  lease_until  INTEGER,
  lease_token  TEXT,
  last_error   TEXT,
  created_at   INTEGER NOT NULL,
  finished_at  INTEGER,
  UNIQUE (event_id, kind)
);
INSERT INTO jobs_new (id, kind, image_id, customer, generation, event_id, status, attempts, max_attempts, run_at,
                      lease_until, lease_token, last_error, created_at, finished_at)
  SELECT j.id, j.kind, j.image_id, i.customer, j.generation, j.event_id, j.status, j.attempts, j.max_attempts, j.run_at,
         j.lease_until, j.lease_token, j.last_error, j.created_at, j.finished_at
  FROM jobs j JOIN images i ON i.id = j.image_id;
-- Job ids are never reused: the new table continues the old one's sequence.
DELETE FROM sqlite_sequence WHERE name = 'jobs_new';
INSERT INTO sqlite_sequence (name, seq) SELECT 'jobs_new', seq FROM sqlite_sequence WHERE name = 'jobs';
DROP TABLE jobs;
ALTER TABLE jobs_new RENAME TO jobs;

CREATE INDEX jobs_by_image ON jobs (image_id);
CREATE INDEX jobs_by_status ON jobs (status, run_at);
CREATE INDEX jobs_queued_by_customer ON jobs (customer, run_at, id) WHERE status = 'queued';

CREATE TABLE job_queues (
  customer   TEXT PRIMARY KEY,
  waiting    INTEGER NOT NULL DEFAULT 0,
  served_seq INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX job_queues_next ON job_queues (served_seq, customer) WHERE waiting > 0;
CREATE INDEX job_queues_by_served ON job_queues (served_seq);
INSERT INTO job_queues (customer, waiting)
  SELECT customer, count(*) FROM jobs WHERE status = 'queued' GROUP BY customer;

CREATE TRIGGER jobs_enqueued AFTER INSERT ON jobs WHEN NEW.status = 'queued'
BEGIN
  INSERT INTO job_queues (customer, waiting) VALUES (NEW.customer, 1)
    ON CONFLICT (customer) DO UPDATE SET waiting = waiting + 1;
END;

-- Claimed (running), cancelled or otherwise taken out of the queue. A claim also makes the
-- customer the most recently served.
CREATE TRIGGER jobs_dequeued AFTER UPDATE OF status ON jobs WHEN OLD.status = 'queued' AND NEW.status <> 'queued'
BEGIN
  UPDATE job_queues
     SET waiting = waiting - 1,
         served_seq = CASE WHEN NEW.status = 'running'
                           THEN (SELECT max(served_seq) FROM job_queues) + 1
                           ELSE served_seq END
   WHERE customer = NEW.customer;
END;

-- Back in the queue: a retry after backoff, or a job released at start-up.
CREATE TRIGGER jobs_requeued AFTER UPDATE OF status ON jobs WHEN OLD.status <> 'queued' AND NEW.status = 'queued'
BEGIN
  INSERT INTO job_queues (customer, waiting) VALUES (NEW.customer, 1)
    ON CONFLICT (customer) DO UPDATE SET waiting = waiting + 1;
END;

-- Also fires for the rows ON DELETE CASCADE removes with their image.
CREATE TRIGGER jobs_deleted AFTER DELETE ON jobs WHEN OLD.status = 'queued'
BEGIN
  UPDATE job_queues SET waiting = waiting - 1 WHERE customer = OLD.customer;
END;
`;
