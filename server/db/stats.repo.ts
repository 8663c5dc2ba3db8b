import type { Statement } from 'better-sqlite3';
import type { Db } from './connection.js';
import { bucketOf, decodeHistogram, encodeHistogram, percentile } from '../util/histogram.js';

export interface StatsDelta {
  uploaded?: number;
  processed?: number;
  failed?: number;
  rejected?: number;
  bytesIn?: number;
  bytesOut?: number;
}

/** "2026-03-01" for a time in ms: statistics days are UTC days. */
export const utcDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** The marker for "all customers" / "all formats" in a rollup row. */
export const ALL = '';

/** Which rollup rows hold a grouping (see migrations/002-stats.ts). */
export type Level = 'customer_format' | 'customer' | 'format' | 'all';

/** The `level` column: which of a day's rollup rows this is (leads the primary key). */
const LEVEL_NUMBER: Record<Level, number> = { all: 0, format: 1, customer: 2, customer_format: 3 };
/** The level of a row for this customer and format (ALL for either means "all"). */
export const levelNumber = (customer: string, format: string) => (customer !== ALL ? 2 : 0) + (format !== ALL ? 1 : 0);
const LEVELS = Object.keys(LEVEL_NUMBER) as Level[];

/** [day, customer, format, uploaded, processed, failed, rejected, bytes_in, bytes_out, latency] */
export type RawStatsRow = [string, string, string, number, number, number, number, number, number, Buffer | null];

const COUNTER_COLUMNS = ['uploaded', 'processed', 'failed', 'rejected', 'bytes_in', 'bytes_out'] as const;

export function createStatsRepo(db: Db) {
  const add = db.prepare<[number, string, string, string, number, number, number, number, number, number]>(
    `INSERT INTO stats_daily (level, day, customer, format, uploaded, processed, failed, rejected, bytes_in, bytes_out)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (level, day, customer, format) DO UPDATE SET
       uploaded = uploaded + excluded.uploaded,
       processed = processed + excluded.processed,
       failed = failed + excluded.failed,
       rejected = rejected + excluded.rejected,
       bytes_in = bytes_in + excluded.bytes_in,
       bytes_out = bytes_out + excluded.bytes_out`,
  );
  const ROW = `level = ? AND day = ? AND customer = ? AND format = ?`;
  const latencyOf = db.prepare<[number, string, string, string], { latency: Buffer | null }>(
    `SELECT latency FROM stats_daily WHERE ${ROW}`,
  );
  const setLatency = db.prepare<[Buffer, number | null, number | null, number, string, string, string]>(
    `UPDATE stats_daily SET latency = ?, p50_ms = ?, p95_ms = ? WHERE ${ROW}`,
  );
  // The API's group object for a row; which keys it has follows from the row's level.
  const metrics = `'uploaded', uploaded, 'processed', processed, 'failed', failed, 'rejected', rejected,
     'bytesIn', bytes_in, 'bytesOut', bytes_out, 'p50Ms', p50_ms, 'p95Ms', p95_ms`;
  const GROUP_KEYS: Record<Level, string> = {
    customer_format: `'customer', customer, 'format', format, 'day', day`,
    customer: `'customer', customer, 'day', day`,
    format: `'format', format, 'day', day`,
    all: `'day', day`,
  };
  // A camera RAW's format is kept as `raw/<rawFormat>` (workers/raw-formats.ts statsFormat): its
  // group says `format: "raw"` and `rawFormat` beside it.
  const rawSplit = `CASE WHEN instr(format, '/') > 0 THEN json_object('format', substr(format, 1, instr(format, '/') - 1),
     'rawFormat', substr(format, instr(format, '/') + 1)) ELSE '{}' END`;
  const groupJson = (level: Level) =>
    level === 'customer_format' || level === 'format'
      ? `json_patch(json_object(${GROUP_KEYS[level]}, ${metrics}), ${rawSplit})`
      : `json_object(${GROUP_KEYS[level]}, ${metrics})`;
  const refresh = Object.fromEntries(
    LEVELS.map((level) => [
      level,
      db.prepare<[number, string, string, string]>(`UPDATE stats_daily SET group_json = ${groupJson(level)} WHERE ${ROW}`),
    ]),
  ) as Record<Level, Statement<[number, string, string, string]>>;
  const refreshAll = db.prepare(
    `UPDATE stats_daily SET group_json = CASE level ${LEVELS.map((level) => `WHEN ${LEVEL_NUMBER[level]} THEN ${groupJson(level)}`).join(' ')} END`,
  );
  const RANGE = `level = ? AND day >= ? AND day <= ?`;
  const levelRows = db
    .prepare<[number, string, string], RawStatsRow>(
      `SELECT day, customer, format, ${COUNTER_COLUMNS.join(', ')}, latency FROM stats_daily
       WHERE ${RANGE} ORDER BY day, customer, format`,
    )
    .raw();
  // Scanning the primary key (level, day, customer, format) yields rows in that order, which
  // group_concat keeps; an ORDER BY inside the aggregate would sort again for nothing.
  const levelJson = db
    .prepare<[number, string, string], string>(
      `SELECT '[' || coalesce(group_concat(group_json, ','), '') || ']' FROM stats_daily WHERE ${RANGE}`,
    )
    .pluck();

  return {
    /**
     * Adds to the counters of a day for one customer and format, and to the "all" rows above
     * them. Call inside the transaction of the event being counted.
     */
    add(at: number, customer: string, format: string, delta: StatsDelta, latencyMs?: number) {
      const day = utcDay(at);
      for (const [c, f, level] of [
        [customer, format, 'customer_format'],
        [customer, ALL, 'customer'],
        [ALL, format, 'format'],
        [ALL, ALL, 'all'],
      ] as const) {
        const n = LEVEL_NUMBER[level];
        add.run(n, day, c, f, delta.uploaded ?? 0, delta.processed ?? 0, delta.failed ?? 0, delta.rejected ?? 0, delta.bytesIn ?? 0, delta.bytesOut ?? 0);
        if (latencyMs !== undefined) {
          const histogram = decodeHistogram(latencyOf.get(n, day, c, f)?.latency);
          histogram[bucketOf(latencyMs)]! += 1;
          setLatency.run(encodeHistogram(histogram), percentile(histogram, 0.5), percentile(histogram, 0.95), n, day, c, f);
        }
        refresh[level].run(n, day, c, f);
      }
    },

    /** Rebuilds every stored group object (after rows were written by other means, as a bulk load). */
    refreshAllGroupJson: () => void refreshAll.run(),

    /** Rows of one level with their histograms, for groupings that merge days. */
    levelRows: (level: Level, from: string, to: string) => levelRows.all(LEVEL_NUMBER[level], from, to),

    /**
     * The rows of one level as a JSON array of the API's group objects, concatenated by SQLite
     * from the stored group_json: for per-day groupings, where rows and groups are one to one.
     */
    levelJson: (level: Level, from: string, to: string) => levelJson.get(LEVEL_NUMBER[level], from, to)!,
  };
}

export type StatsRepo = ReturnType<typeof createStatsRepo>;
