/** The statistics rollups through the database port, on every dialect. */
import { describe, expect, it } from 'vitest';
import { DIALECTS } from '../../helpers/database.js';
import { bucketOf, decodeHistogram } from '../../../server/util/histogram.js';

const DAY = Date.parse('2026-03-01T10:00:00Z');
const NEXT_DAY = DAY + 24 * 3600 * 1000;
const metrics = (m: Partial<Record<'uploaded' | 'processed' | 'failed' | 'rejected' | 'bytesIn' | 'bytesOut', number>> & { p50Ms?: number | null; p95Ms?: number | null } = {}) => ({
  uploaded: 0,
  processed: 0,
  failed: 0,
  rejected: 0,
  bytesIn: 0,
  bytesOut: 0,
  p50Ms: null,
  p95Ms: null,
  ...m,
});

describe.each(DIALECTS)('stats repository on $dialect', ({ open }) => {
  it('adds to the customer-and-format row and to the three rows above it', async () => {
    const db = await open();
    await db.repos.stats.add(DAY, 'acme', 'jpeg', { uploaded: 1, bytesIn: 100 });
    await db.repos.stats.add(DAY, 'acme', 'png', { uploaded: 1, bytesIn: 50 });
    await db.repos.stats.add(DAY, 'zeta', 'jpeg', { rejected: 1 });

    const day = '2026-03-01';
    const row = (customer: string, format: string, uploaded: number, rejected: number, bytesIn: number) =>
      [day, customer, format, uploaded, 0, 0, rejected, bytesIn, 0, null];
    expect(await db.repos.stats.levelRows('customer_format', day, day)).toEqual([
      row('acme', 'jpeg', 1, 0, 100),
      row('acme', 'png', 1, 0, 50),
      row('zeta', 'jpeg', 0, 1, 0),
    ]);
    expect(await db.repos.stats.levelRows('customer', day, day)).toEqual([row('acme', '', 2, 0, 150), row('zeta', '', 0, 1, 0)]);
    expect(await db.repos.stats.levelRows('format', day, day)).toEqual([row('', 'jpeg', 1, 1, 100), row('', 'png', 1, 0, 50)]);
    expect(await db.repos.stats.levelRows('all', day, day)).toEqual([row('', '', 2, 1, 150)]);
  });

  it('keeps a latency histogram and its percentiles per row', async () => {
    const db = await open();
    for (const ms of [100, 100, 100, 5000]) await db.repos.stats.add(DAY, 'acme', 'jpeg', { processed: 1, bytesOut: 10 }, ms);
    const [row] = await db.repos.stats.levelRows('all', '2026-03-01', '2026-03-01');
    const histogram = decodeHistogram(row![9]);
    expect(histogram[bucketOf(100)]).toBe(3);
    expect(histogram[bucketOf(5000)]).toBe(1);
    const [group] = JSON.parse(await db.repos.stats.levelJson('all', '2026-03-01', '2026-03-01')) as Array<{ p50Ms: number; p95Ms: number }>;
    expect(group!.p50Ms).toBeLessThan(group!.p95Ms);
    expect(group!.p95Ms).toBeGreaterThanOrEqual(1000);
  });

  it('answers a level as the API\'s group objects, in key order, a camera RAW\'s format split', async () => {
    const db = await open();
    await db.repos.stats.add(DAY, 'acme', 'jpeg', { uploaded: 2, bytesIn: 7 });
    await db.repos.stats.add(NEXT_DAY, 'acme', 'raw/cr3', { uploaded: 1, bytesIn: 9 });

    const text = await db.repos.stats.levelJson('customer_format', '2026-03-01', '2026-03-02');
    expect(JSON.parse(text)).toEqual([
      { customer: 'acme', format: 'jpeg', day: '2026-03-01', ...metrics({ uploaded: 2, bytesIn: 7 }) },
      { customer: 'acme', format: 'raw', day: '2026-03-02', ...metrics({ uploaded: 1, bytesIn: 9 }), rawFormat: 'cr3' },
    ]);
    // The member order the API has always had: keys, then metrics, the RAW's own format last.
    expect(Object.keys(JSON.parse(text)[1])).toEqual(['customer', 'format', 'day', 'uploaded', 'processed', 'failed', 'rejected', 'bytesIn', 'bytesOut', 'p50Ms', 'p95Ms', 'rawFormat']);
    expect(JSON.parse(await db.repos.stats.levelJson('customer', '2026-03-01', '2026-03-02'))).toEqual([
      { customer: 'acme', day: '2026-03-01', ...metrics({ uploaded: 2, bytesIn: 7 }) },
      { customer: 'acme', day: '2026-03-02', ...metrics({ uploaded: 1, bytesIn: 9 }) },
    ]);
    expect(JSON.parse(await db.repos.stats.levelJson('format', '2026-03-02', '2026-03-02'))).toEqual([
      { format: 'raw', day: '2026-03-02', ...metrics({ uploaded: 1, bytesIn: 9 }), rawFormat: 'cr3' },
    ]);
    expect(JSON.parse(await db.repos.stats.levelJson('all', '2026-03-01', '2026-03-01'))).toEqual([{ day: '2026-03-01', ...metrics({ uploaded: 2, bytesIn: 7 }) }]);
    // Days outside the range, and no rows at all, give an empty array.
    expect(await db.repos.stats.levelJson('all', '2027-01-01', '2027-01-31')).toBe('[]');
  });

  it('rebuilds the group objects of rows written by other means', async () => {
    const db = await open();
    await db.insert('stats_daily', [
      { level: 3, day: '2026-03-01', customer: 'acme', format: 'raw/nef', uploaded: 4, bytes_in: 40 },
      { level: 0, day: '2026-03-01', customer: '', format: '', uploaded: 4, bytes_in: 40 },
    ]);
    // Not built yet: such a row has no group object to show.
    expect(await db.repos.stats.levelJson('all', '2026-03-01', '2026-03-01')).toBe('[]');
    await db.repos.stats.refreshAllGroupJson();
    expect(JSON.parse(await db.repos.stats.levelJson('customer_format', '2026-03-01', '2026-03-01'))).toEqual([
      { customer: 'acme', format: 'raw', day: '2026-03-01', ...metrics({ uploaded: 4, bytesIn: 40 }), rawFormat: 'nef' },
    ]);
    expect(JSON.parse(await db.repos.stats.levelJson('all', '2026-03-01', '2026-03-01'))).toEqual([{ day: '2026-03-01', ...metrics({ uploaded: 4, bytesIn: 40 }) }]);
  });

  it('counts nothing of a unit of work that rolled back', async () => {
    const db = await open();
    await expect(
      db.unitOfWork(async (repos) => {
        await repos.stats.add(DAY, 'acme', 'jpeg', { uploaded: 1 });
        throw new Error('the upload failed after all');
      }),
    ).rejects.toThrow('the upload failed after all');
    expect(await db.repos.stats.levelRows('all', '2026-03-01', '2026-03-01')).toEqual([]);
  });
});
