/**
 * Business statistics: rollup rows per UTC day, changed in the same transaction as the event
 * they count, so reading them never scans images and never drifts from the truth.
 *
 * Each event updates four rows of a day: (customer, format), (customer, all formats),
 * (all customers, format) and (all, all), "all" being ''; `level` (3, 2, 1, 0 in that order)
 * leads the key, so each grouping reads one contiguous range. Any grouping then reads few rows:
 * by day alone, 1 row a day; by customer, 1 per customer a day; only customer × format
 * without day merges the detailed rows. `latency` is a fixed-bucket histogram of processing
 * latency (util/histogram.ts); p50_ms/p95_ms are its percentiles, kept up to date so
 * per-day groups need no histogram at read time, and group_json is the row as the API's group
 * object, kept up to date too, so a per-day report is one string concatenation in SQLite
 * (tens of thousands of groups in tens of milliseconds). `queued_at` on images is when the current
 * generation was queued: its latency starts there.
 */
export const sql = /* sql */ `
ALTER TABLE images ADD COLUMN queued_at INTEGER;
UPDATE images SET queued_at = created_at;

CREATE TABLE stats_daily (
  level     INTEGER NOT NULL,
  day       TEXT NOT NULL,
  customer  TEXT NOT NULL,
  format    TEXT NOT NULL,
  uploaded  INTEGER NOT NULL DEFAULT 0,
  processed INTEGER NOT NULL DEFAULT 0,
  failed    INTEGER NOT NULL DEFAULT 0,
  rejected  INTEGER NOT NULL DEFAULT 0,
  bytes_in  INTEGER NOT NULL DEFAULT 0,
  bytes_out INTEGER NOT NULL DEFAULT 0,
  latency   BLOB,
  p50_ms    INTEGER,
  p95_ms    INTEGER,
  group_json TEXT,
  PRIMARY KEY (level, day, customer, format)
) WITHOUT ROWID;
`;
