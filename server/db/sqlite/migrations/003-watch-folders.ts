// Watch folders (CONTRACT §6). Numbered 3: 2 is taken by the statistics tables.
export const sql = /* sql */ `
-- Folders added from the app's settings (or POST /v1/watch). Folders given with --watch are
-- configuration, not state, and are not stored here.
CREATE TABLE watch_folders (
  path     TEXT PRIMARY KEY,
  poll     INTEGER NOT NULL DEFAULT 0,
  added_at INTEGER NOT NULL
);

-- What each watch folder already ingested (or refused), so a file is taken once across
-- restarts. size and mtime_ms let a restart skip an unchanged file without reading it; sha256
-- recognises the same bytes under a new name (a renamed or moved file). No foreign key to
-- images: deleting an image from the library must not make the file come back.
CREATE TABLE watch_files (
  path       TEXT PRIMARY KEY,
  folder     TEXT NOT NULL,
  size       INTEGER NOT NULL,
  mtime_ms   INTEGER NOT NULL,
  sha256     TEXT,
  outcome    TEXT NOT NULL CHECK (outcome IN ('ingested', 'rejected')),
  image_id   TEXT,
  error_code TEXT,
  seen_at    INTEGER NOT NULL
);
CREATE INDEX watch_files_by_folder ON watch_files (folder, outcome);
CREATE INDEX watch_files_by_sha256 ON watch_files (folder, sha256);
`;
