import { stringify } from 'csv-stringify/sync';
import { StatsQuery, type StatsGroup, type StatsGroupKey, type StatsReport } from '../../api/index.js';
import { utcDay, type Level, type RawStatsRow, type StatsRepo } from '../../db/stats.repo.js';
import { AppError } from '../../errors.js';
import type { Clock } from '../../util/clock.js';
import { addEncoded, emptyHistogram, percentile, type Histogram } from '../../util/histogram.js';
import { splitStatsFormat } from '../../../workers/raw-formats.js';

export type { StatsGroup, StatsReport };

const DAY_MS = 24 * 3600 * 1000;
const DEFAULT_DAYS = 30;
const MAX_DAYS = 3660;

/** What is summed across rollup rows. */
interface Sums {
  uploaded: number;
  processed: number;
  failed: number;
  rejected: number;
  bytesIn: number;
  bytesOut: number;
}

export type Counters = StatsReport['totals'];

interface Accumulator extends Sums {
  keys: Partial<Record<StatsGroupKey | 'rawFormat', string>>;
  latency: Histogram;
}

const newAccumulator = (keys: Accumulator['keys']): Accumulator => ({
  keys,
  uploaded: 0,
  processed: 0,
  failed: 0,
  rejected: 0,
  bytesIn: 0,
  bytesOut: 0,
  latency: emptyHistogram(),
});

function addRow(acc: Accumulator, row: RawStatsRow) {
  acc.uploaded += row[3];
  acc.processed += row[4];
  acc.failed += row[5];
  acc.rejected += row[6];
  acc.bytesIn += row[7];
  acc.bytesOut += row[8];
  addEncoded(acc.latency, row[9]);
}

const finish = (a: Accumulator): Counters => ({
  uploaded: a.uploaded,
  processed: a.processed,
  failed: a.failed,
  rejected: a.rejected,
  bytesIn: a.bytesIn,
  bytesOut: a.bytesOut,
  p50Ms: percentile(a.latency, 0.5),
  p95Ms: percentile(a.latency, 0.95),
});

/** The rollup rows that hold a grouping (see migrations/002-stats.ts). */
function levelFor(groupBy: StatsGroupKey[]): Level {
  const customer = groupBy.includes('customer');
  const format = groupBy.includes('format');
  return customer && format ? 'customer_format' : customer ? 'customer' : format ? 'format' : 'all';
}

const ROW_INDEX = { day: 0, customer: 1, format: 2 } as const;

/**
 * Reads the daily rollups for a range of UTC days and sums them into the requested groups.
 * Cost grows with days × customers × formats in the range, never with the number of images.
 */
export function createStatsService(repo: StatsRepo, clock: Clock) {
  function parse(query: unknown): { from: string; to: string; groupBy: StatsGroupKey[] } {
    const result = StatsQuery.safeParse(query);
    if (!result.success) {
      const issue = result.error.issues[0]!;
      if (issue.code === 'unrecognized_keys') throw new AppError('invalid_request', `unknown parameter ${issue.keys.map((k) => JSON.stringify(k.slice(0, 64))).join(', ')}`);
      throw new AppError('invalid_request', `${issue.path.join('.') || 'query'}: ${issue.message}`);
    }
    const to = result.data.to ?? utcDay(clock.now());
    const from = result.data.from ?? utcDay(Date.parse(`${to}T00:00:00Z`) - (DEFAULT_DAYS - 1) * DAY_MS);
    if (from > to) throw new AppError('invalid_request', `from (${from}) is after to (${to})`);
    if (Date.parse(to) - Date.parse(from) > MAX_DAYS * DAY_MS) {
      throw new AppError('invalid_request', `at most ${MAX_DAYS} days at once`);
    }
    return { from, to, groupBy: result.data.groupBy };
  }

  /** Groups that span days: merged here from the level's rows, histograms included. */
  async function mergedGroupsJson(level: Level, groupBy: StatsGroupKey[], from: string, to: string): Promise<string> {
    const groups = new Map<string, Accumulator>();
    for (const row of await repo.levelRows(level, from, to)) {
      let key = '';
      for (const k of groupBy) key += `${row[ROW_INDEX[k]]}\u0000`;
      let group = groups.get(key);
      if (!group) {
        const keys: Accumulator['keys'] = {};
        for (const k of groupBy) keys[k] = row[ROW_INDEX[k]];
        if (keys.format !== undefined) Object.assign(keys, splitStatsFormat(keys.format));
        groups.set(key, (group = newAccumulator(keys)));
      }
      addRow(group, row);
    }
    const sorted = [...groups.values()].sort(
      (a, b) =>
        (a.keys.customer ?? '').localeCompare(b.keys.customer ?? '') ||
        (a.keys.format ?? '').localeCompare(b.keys.format ?? '') ||
        (a.keys.rawFormat ?? '').localeCompare(b.keys.rawFormat ?? ''),
    );
    return JSON.stringify(sorted.map((g) => ({ ...g.keys, ...finish(g) })));
  }

  /**
   * The report as JSON text. Per-day groupings come straight from SQLite as JSON (one rollup
   * row per group, percentiles kept up to date on write); the rest are merged here.
   */
  async function reportJson(query: unknown): Promise<string> {
    const { from, to, groupBy } = parse(query);
    const total = newAccumulator({});
    for (const row of await repo.levelRows('all', from, to)) addRow(total, row);
    const level = levelFor(groupBy);
    const groups = !groupBy.length
      ? '[]'
      : groupBy.includes('day')
        ? await repo.levelJson(level, from, to)
        : await mergedGroupsJson(level, groupBy, from, to);
    return `{"from":${JSON.stringify(from)},"to":${JSON.stringify(to)},"groupBy":${JSON.stringify(groupBy)},"totals":${JSON.stringify(finish(total))},"groups":${groups}}`;
  }

  return {
    reportJson,
    report: async (query: unknown) => JSON.parse(await reportJson(query)) as StatsReport,
  };
}

export type StatsService = ReturnType<typeof createStatsService>;

const METRIC_COLUMNS = ['uploaded', 'processed', 'failed', 'rejected', 'bytesIn', 'bytesOut', 'p50Ms', 'p95Ms'] as const;

/**
 * RFC 4180 CSV of a report: a header row, CRLF line ends, quoting where needed. Group columns
 * come first (day, customer, format: the order BI tools expect); with no grouping, one row of
 * totals.
 */
export function reportToCsv(report: StatsReport): string {
  const keyColumns: Array<StatsGroupKey | 'rawFormat'> = (['day', 'customer', 'format'] as const).filter((k) => report.groupBy.includes(k));
  // Beside the format, the maker's format of camera RAWs (empty for other formats).
  if (report.groupBy.includes('format')) keyColumns.push('rawFormat');
  const rows: StatsGroup[] = report.groupBy.length ? report.groups : [report.totals];
  return stringify(
    rows.map((g) => [...keyColumns.map((k) => g[k] ?? ''), ...METRIC_COLUMNS.map((m) => g[m] ?? '')]),
    { header: true, columns: [...keyColumns, ...METRIC_COLUMNS], record_delimiter: 'windows' },
  );
}
