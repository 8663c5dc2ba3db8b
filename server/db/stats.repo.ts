import type { Expression } from 'kysely';
import { bucketOf, decodeHistogram, encodeHistogram, percentile } from '../util/histogram.js';
import { params, type SqlExecutor } from './sql-executor.js';
import { splitStatsFormat } from '../../workers/raw-formats.js';

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
const LEVEL_OF_NUMBER = Object.fromEntries(LEVELS.map((level) => [LEVEL_NUMBER[level], level])) as Record<number, Level>;

/** [day, customer, format, uploaded, processed, failed, rejected, bytes_in, bytes_out, latency] */
export type RawStatsRow = [string, string, string, number, number, number, number, number, number, Buffer | null];

export interface StatsRepo {
  /**
   * Adds to the counters of a day for one customer and format, and to the "all" rows above
   * them. Call inside the unit of work of the event being counted.
   */
  add(at: number, customer: string, format: string, delta: StatsDelta, latencyMs?: number): Promise<void>;
  /** Rebuilds every stored group object (after rows were written by other means, as a bulk load). */
  refreshAllGroupJson(): Promise<void>;
  /** Rows of one level with their histograms, for groupings that merge days. */
  levelRows(level: Level, from: string, to: string): Promise<RawStatsRow[]>;
  /**
   * The rows of one level as a JSON array of the API's group objects, concatenated by the
   * database from the stored group_json: for per-day groupings, where rows and groups are one to one.
   */
  levelJson(level: Level, from: string, to: string): Promise<string>;
}

/** One rollup row's key. */
interface RowKey {
  level: number;
  day: string;
  customer: string;
  format: string;
}

/** A row's group object's keys, as the API names them (a camera RAW's format split in two). */
interface GroupKeys extends RowKey {
  groupFormat: string;
  rawFormat: string;
}

type Counters = Record<'uploaded' | 'processed' | 'failed' | 'rejected' | 'bytes_in' | 'bytes_out', number>;

export function createStatsRepo(sql: SqlExecutor): StatsRepo {
  const added = params<RowKey & Counters>();
  const add = sql.prepare(added, (db) =>
    db
      .insertInto('stats_daily')
      .values({
        level: added.level,
        day: added.day,
        customer: added.customer,
        format: added.format,
        uploaded: added.uploaded,
        processed: added.processed,
        failed: added.failed,
        rejected: added.rejected,
        bytes_in: added.bytes_in,
        bytes_out: added.bytes_out,
      })
      .onConflict((oc) =>
        oc.columns(['level', 'day', 'customer', 'format']).doUpdateSet((eb) => ({
          uploaded: eb('stats_daily.uploaded', '+', eb.ref('excluded.uploaded')),
          processed: eb('stats_daily.processed', '+', eb.ref('excluded.processed')),
          failed: eb('stats_daily.failed', '+', eb.ref('excluded.failed')),
          rejected: eb('stats_daily.rejected', '+', eb.ref('excluded.rejected')),
          bytes_in: eb('stats_daily.bytes_in', '+', eb.ref('excluded.bytes_in')),
          bytes_out: eb('stats_daily.bytes_out', '+', eb.ref('excluded.bytes_out')),
        })),
      ),
  );

  const key = params<RowKey>();
  const latencyOf = sql.prepare(key, (db) =>
    db
      .selectFrom('stats_daily')
      .select('latency')
      .where('level', '=', key.level)
      .where('day', '=', key.day)
      .where('customer', '=', key.customer)
      .where('format', '=', key.format),
  );
  const latency = params<RowKey & { latency: Buffer; p50: number | null; p95: number | null }>();
  const setLatency = sql.prepare(latency, (db) =>
    db
      .updateTable('stats_daily')
      .set({ latency: latency.latency, p50_ms: latency.p50, p95_ms: latency.p95 })
      .where('level', '=', latency.level)
      .where('day', '=', latency.day)
      .where('customer', '=', latency.customer)
      .where('format', '=', latency.format),
  );

  // The API's group object of a row, stored beside it so a per-day report is the rows' objects
  // concatenated. Which keys it has follows from the row's level; a camera RAW's format, kept as
  // `raw/<rawFormat>` (workers/raw-formats.ts statsFormat), shows as `format: "raw"` with
  // `rawFormat` last. The keys' values come from the caller (it knows them), the metrics from
  // the row as it now stands.
  const group = params<GroupKeys>();
  const refreshQuery = (level: Level, raw: boolean) =>
    sql.prepare(group, (db, fns) =>
      db
        .updateTable('stats_daily')
        .set((eb) => {
          const keys: Array<[string, Expression<unknown>]> = [];
          if (level === 'customer_format' || level === 'customer') keys.push(['customer', eb.val(group.customer)]);
          if (level === 'customer_format' || level === 'format') keys.push(['format', eb.val(group.groupFormat)]);
          keys.push(['day', eb.val(group.day)]);
          const metrics: Array<[string, Expression<unknown>]> = [
            ['uploaded', eb.ref('uploaded')],
            ['processed', eb.ref('processed')],
            ['failed', eb.ref('failed')],
            ['rejected', eb.ref('rejected')],
            ['bytesIn', eb.ref('bytes_in')],
            ['bytesOut', eb.ref('bytes_out')],
            ['p50Ms', eb.ref('p50_ms')],
            ['p95Ms', eb.ref('p95_ms')],
          ];
          const rawFormat: Array<[string, Expression<unknown>]> = raw ? [['rawFormat', eb.val(group.rawFormat)]] : [];
          return { group_json: fns.jsonObject([...keys, ...metrics, ...rawFormat]) };
        })
        .where('level', '=', group.level)
        .where('day', '=', group.day)
        .where('customer', '=', group.customer)
        .where('format', '=', group.format),
    );
  const refresh = Object.fromEntries(
    LEVELS.map((level) => [level, { plain: refreshQuery(level, false), raw: refreshQuery(level, true) }]),
  ) as Record<Level, { plain: ReturnType<typeof refreshQuery>; raw: ReturnType<typeof refreshQuery> }>;

  async function refreshRow(level: Level, day: string, customer: string, format: string) {
    const split = format === ALL ? undefined : splitStatsFormat(format);
    const keys = { level: LEVEL_NUMBER[level], day, customer, format, groupFormat: split?.format ?? format, rawFormat: split?.rawFormat ?? '' };
    await (split?.rawFormat !== undefined ? refresh[level].raw : refresh[level].plain).run(keys);
  }

  const everyRow = sql.prepare(params(), (db) => db.selectFrom('stats_daily').select(['level', 'day', 'customer', 'format']));

  const range = params<{ level: number; from: string; to: string }>();
  const levelRows = sql.prepare(range, (db) =>
    db
      .selectFrom('stats_daily')
      .select(['day', 'customer', 'format', 'uploaded', 'processed', 'failed', 'rejected', 'bytes_in', 'bytes_out', 'latency'])
      .where('level', '=', range.level)
      .where('day', '>=', range.from)
      .where('day', '<=', range.to)
      .orderBy('day')
      .orderBy('customer')
      .orderBy('format'),
  );
  // Scanning the primary key (level, day, customer, format) yields rows in that order, which
  // the aggregate keeps; an ORDER BY inside it would sort again for nothing.
  const levelJson = sql.prepare(range, (db, fns) =>
    db
      .selectFrom('stats_daily')
      .select(fns.jsonArrayOfTexts('group_json', ['day', 'customer', 'format']).as('json'))
      .where('level', '=', range.level)
      .where('day', '>=', range.from)
      .where('day', '<=', range.to),
  );

  return {
    async add(at, customer, format, delta, latencyMs) {
      const day = utcDay(at);
      const counters: Counters = {
        uploaded: delta.uploaded ?? 0,
        processed: delta.processed ?? 0,
        failed: delta.failed ?? 0,
        rejected: delta.rejected ?? 0,
        bytes_in: delta.bytesIn ?? 0,
        bytes_out: delta.bytesOut ?? 0,
      };
      for (const [c, f, level] of [
        [customer, format, 'customer_format'],
        [customer, ALL, 'customer'],
        [ALL, format, 'format'],
        [ALL, ALL, 'all'],
      ] as const) {
        const row = { level: LEVEL_NUMBER[level], day, customer: c, format: f };
        await add.run({ ...row, ...counters });
        if (latencyMs !== undefined) {
          const histogram = decodeHistogram((await latencyOf.first(row))?.latency);
          histogram[bucketOf(latencyMs)]! += 1;
          await setLatency.run({ ...row, latency: encodeHistogram(histogram), p50: percentile(histogram, 0.5), p95: percentile(histogram, 0.95) });
        }
        await refreshRow(level, day, c, f);
      }
    },

    async refreshAllGroupJson() {
      for (const row of await everyRow.all()) await refreshRow(LEVEL_OF_NUMBER[row.level]!, row.day, row.customer, row.format);
    },

    levelRows: async (level, from, to) =>
      (await levelRows.all({ level: LEVEL_NUMBER[level], from, to })).map((r): RawStatsRow => [
        r.day,
        r.customer,
        r.format,
        r.uploaded,
        r.processed,
        r.failed,
        r.rejected,
        r.bytes_in,
        r.bytes_out,
        r.latency,
      ]),

    levelJson: async (level, from, to) => (await levelJson.first({ level: LEVEL_NUMBER[level], from, to }))!.json,
  };
}
