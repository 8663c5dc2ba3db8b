// Times are milliseconds since the epoch (UTC), from the injected clock.
export const sql = /* sql */ `
CREATE TABLE api_keys (
  id           TEXT PRIMARY KEY,
  key_hash     TEXT NOT NULL UNIQUE,
  key_prefix   TEXT NOT NULL,
  customer     TEXT NOT NULL,
  role         TEXT NOT NULL CHECK (role IN ('user', 'business', 'admin')),
  name         TEXT,
  created_at   INTEGER NOT NULL,
  last_used_at INTEGER,
  revoked_at   INTEGER
);

CREATE TABLE images (
  id            TEXT PRIMARY KEY,
  customer      TEXT NOT NULL,
  status        TEXT NOT NULL CHECK (status IN ('queued', 'processing', 'done', 'failed')),
  filename      TEXT NOT NULL,
  bytes         INTEGER NOT NULL,
  sha256        TEXT NOT NULL,
  format        TEXT NOT NULL,
  width         INTEGER NOT NULL,
  height        INTEGER NOT NULL,
  pages         INTEGER NOT NULL DEFAULT 1,
  source        TEXT NOT NULL,
  generation    INTEGER NOT NULL DEFAULT 1,
  created_at    INTEGER NOT NULL,
  processed_at  INTEGER,
  error_code    TEXT,
  error_message TEXT,
  thumbhash     TEXT,
  dominant_color TEXT
);
CREATE INDEX images_by_customer ON images (customer, created_at DESC, id DESC);
CREATE INDEX images_by_created ON images (created_at DESC, id DESC);
CREATE INDEX images_by_sha256 ON images (sha256);

CREATE TABLE variants (
  image_id   TEXT NOT NULL REFERENCES images (id) ON DELETE CASCADE,
  name       TEXT NOT NULL,
  spec       TEXT NOT NULL,
  status     TEXT NOT NULL CHECK (status IN ('pending', 'done', 'failed', 'expired')),
  format     TEXT NOT NULL,
  width      INTEGER,
  height     INTEGER,
  bytes      INTEGER,
  path       TEXT,
  etag       TEXT,
  written_at INTEGER,
  expires_at INTEGER,
  PRIMARY KEY (image_id, name)
);
CREATE INDEX variants_by_expiry ON variants (expires_at) WHERE status = 'done';

CREATE TABLE image_metadata (
  image_id     TEXT PRIMARY KEY REFERENCES images (id) ON DELETE CASCADE,
  data         TEXT NOT NULL,
  extracted_at INTEGER NOT NULL
);

-- The outbox: every state change other parts react to is written here in the same
-- transaction as the change itself. No foreign key: events outlive deleted images.
CREATE TABLE outbox (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  type          TEXT NOT NULL,
  image_id      TEXT,
  payload       TEXT NOT NULL,
  created_at    INTEGER NOT NULL,
  dispatched_at INTEGER
);
CREATE INDEX outbox_pending ON outbox (id) WHERE dispatched_at IS NULL;

CREATE TABLE jobs (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  kind         TEXT NOT NULL,
  image_id     TEXT NOT NULL REFERENCES images (id) ON DELETE CASCADE,
  generation   INTEGER NOT NULL,
  event_id     INTEGER NOT NULL,
  status       TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
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
CREATE INDEX jobs_ready ON jobs (status, run_at);
CREATE INDEX jobs_by_image ON jobs (image_id);
`;
