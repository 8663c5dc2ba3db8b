/**
 * S3 sync: a queue of its own, the originals the capacity tier knows about, and the feeder's
 * place in the outbox.
 *
 * Why not rows in `jobs`: a job there belongs to an image (foreign key, ON DELETE CASCADE) and
 * is created from EVENT_JOBS by the dispatcher, which marks each event dispatched once. Sync work
 * has to outlive its image (deleting an image is exactly when its objects must go), and it is
 * keyed by object rather than by image (identical uploads share one original). So the sync keeps
 * its own queue, `s3_sync_jobs`, with the same discipline (attempts, backoff, leases), and reads
 * the same outbox with a cursor of its own (`s3_sync_state.outbox_cursor`) advanced in the
 * transaction that enqueues, so nothing is lost or doubled across a crash, and the processing
 * dispatcher is untouched.
 *
 * `lane` orders work on the same objects: a job starts only when no earlier job of its lane is
 * waiting or running. Lanes are `originals/<sha256>` and `processed/<image id>`, so a delete never
 * overtakes the upload it follows, while different images sync in parallel.
 *
 * A multipart upload in progress keeps its upload id on the job and each finished part in
 * `s3_sync_parts`, so after a crash or restart it continues with the next part.
 *
 * `s3_originals` tracks every original: whether a verified copy is in the bucket (`synced_at`),
 * whether one is on local disk (`local`), and when it was last used, for least-recently-used
 * eviction. Triggers keep `s3_sync_state.local_bytes` equal to the sum of local originals, so the
 * capacity check never scans the table.
 */
export const sql = /* sql */ `
CREATE TABLE s3_sync_jobs (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  op           TEXT NOT NULL CHECK (op IN ('put_original', 'put_processed', 'delete_original', 'delete_processed', 'delete_image')),
  lane         TEXT NOT NULL,
  key          TEXT NOT NULL,
  image_id     TEXT,
  sha256       TEXT,
  variant      TEXT,
  bytes        INTEGER NOT NULL DEFAULT 0,
  event_id     INTEGER,
  status       TEXT NOT NULL CHECK (status IN ('queued', 'running', 'failed')),
  attempts     INTEGER NOT NULL DEFAULT 0,
  run_at       INTEGER NOT NULL,
  lease_token  TEXT,
  started_at   INTEGER,
  last_error   TEXT,
  failed_at    INTEGER,
  created_at   INTEGER NOT NULL,
  upload_id    TEXT,
  part_size    INTEGER
);
CREATE INDEX s3_sync_ready ON s3_sync_jobs (status, run_at, id);
CREATE INDEX s3_sync_lane ON s3_sync_jobs (lane, id);

CREATE TABLE s3_sync_parts (
  job_id      INTEGER NOT NULL REFERENCES s3_sync_jobs (id) ON DELETE CASCADE,
  upload_id   TEXT NOT NULL,
  part_number INTEGER NOT NULL,
  etag        TEXT NOT NULL,
  crc32       TEXT NOT NULL,
  bytes       INTEGER NOT NULL,
  PRIMARY KEY (job_id, part_number)
) WITHOUT ROWID;

CREATE TABLE s3_originals (
  sha256       TEXT PRIMARY KEY,
  bytes        INTEGER NOT NULL,
  local        INTEGER NOT NULL CHECK (local IN (0, 1)),
  synced_at    INTEGER,
  last_used_at INTEGER NOT NULL
);
CREATE INDEX s3_originals_lru ON s3_originals (last_used_at) WHERE local = 1 AND synced_at IS NOT NULL;

CREATE TABLE s3_sync_state (
  id                INTEGER PRIMARY KEY CHECK (id = 1),
  target            TEXT,
  outbox_cursor     INTEGER NOT NULL DEFAULT 0,
  synced_objects    INTEGER NOT NULL DEFAULT 0,
  synced_bytes      INTEGER NOT NULL DEFAULT 0,
  deleted_objects   INTEGER NOT NULL DEFAULT 0,
  evicted_originals INTEGER NOT NULL DEFAULT 0,
  evicted_bytes     INTEGER NOT NULL DEFAULT 0,
  local_bytes       INTEGER NOT NULL DEFAULT 0
);
INSERT INTO s3_sync_state (id) VALUES (1);

CREATE TRIGGER s3_originals_local_insert AFTER INSERT ON s3_originals WHEN NEW.local = 1
BEGIN
  UPDATE s3_sync_state SET local_bytes = local_bytes + NEW.bytes WHERE id = 1;
END;
CREATE TRIGGER s3_originals_local_delete AFTER DELETE ON s3_originals WHEN OLD.local = 1
BEGIN
  UPDATE s3_sync_state SET local_bytes = local_bytes - OLD.bytes WHERE id = 1;
END;
CREATE TRIGGER s3_originals_local_update AFTER UPDATE OF local, bytes ON s3_originals
BEGIN
  UPDATE s3_sync_state SET local_bytes = local_bytes - OLD.local * OLD.bytes + NEW.local * NEW.bytes WHERE id = 1;
END;
`;
