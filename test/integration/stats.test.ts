import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { percentile, emptyHistogram, bucketOf } from '../../server/util/histogram.js';
import { createManualClock } from '../../server/util/clock.js';
import { run } from '../helpers/child.js';
import { fixture, pngBomb, solid } from '../helpers/images.js';
import { startTestServer, type ApiClient, type TestServer } from '../helpers/server.js';

const DAY1 = '2026-03-01';
const DAY2 = '2026-03-02';
const clock = createManualClock(Date.parse(`${DAY1}T10:00:00Z`));
let t: TestServer;
let acme: ApiClient;
let globex: ApiClient;
let business: ApiClient;

/** What the test did, from which every expected number is computed. */
interface Done {
  customer: string;
  format: string;
  uploadDay: string;
  bytes: number;
  id?: string;
  outcome: 'processed' | 'failed' | 'rejected';
  settleDay?: string;
  latencyMs?: number;
  bytesOut?: number;
}
const ledger: Done[] = [];

/**
 * Uploads with the job runner paused, moves the clock on by `waitMs`, then lets processing
 * run: every image in the batch has a known latency of `waitMs`.
 */
async function batch(waitMs: number, uploads: Array<{ client: ApiClient; customer: string; name: string; data: Buffer; expect: 202 | 413 | 415 | 422; format: string }>) {
  await t.server.parts.runner.stop(5000);
  const day = new Date(clock.now()).toISOString().slice(0, 10);
  const accepted: Done[] = [];
  for (const u of uploads) {
    const res = await u.client.upload([{ name: u.name, data: u.data }]);
    expect(res.status, u.name).toBe(u.expect);
    const entry: Done = { customer: u.customer, format: u.format, uploadDay: day, bytes: u.data.length, outcome: 'rejected' };
    if (res.status === 202) {
      entry.id = res.body.id;
      accepted.push(entry);
    }
    ledger.push(entry);
  }
  clock.advance(waitMs);
  await t.server.parts.runner.start();
  const settleDay = new Date(clock.now()).toISOString().slice(0, 10);
  for (const entry of accepted) {
    const client = uploads.find((u) => u.customer === entry.customer)!.client;
    const record = await client.waitFor(entry.id!).catch((err: Error) => {
      // Say why: the jobs of the image as the database has them.
      const jobs = t.server.parts.db.prepare('SELECT kind, status, attempts, run_at, last_error FROM jobs WHERE image_id = ?').all(entry.id);
      throw new Error(`${err.message}; jobs: ${JSON.stringify(jobs)}; clock ${clock.now()}`);
    });
    entry.outcome = record.status === 'done' ? 'processed' : 'failed';
    entry.settleDay = settleDay;
    if (record.status === 'done') {
      entry.latencyMs = waitMs;
      entry.bytesOut = record.variants.reduce((n: number, v: any) => n + v.bytes, 0);
    }
  }
}

function expected(filter: (d: Done, kind: 'upload' | 'settle') => boolean) {
  const accepted = ledger.filter((d) => d.outcome !== 'rejected' && filter(d, 'upload'));
  const settled = ledger.filter((d) => d.outcome !== 'rejected' && filter(d, 'settle'));
  const latency = emptyHistogram();
  for (const d of settled) if (d.latencyMs !== undefined) latency[bucketOf(d.latencyMs)]! += 1;
  return {
    uploaded: accepted.length,
    processed: settled.filter((d) => d.outcome === 'processed').length,
    failed: settled.filter((d) => d.outcome === 'failed').length,
    rejected: ledger.filter((d) => d.outcome === 'rejected' && filter(d, 'upload')).length,
    bytesIn: accepted.reduce((n, d) => n + d.bytes, 0),
    bytesOut: settled.reduce((n, d) => n + (d.bytesOut ?? 0), 0),
    p50Ms: percentile(latency, 0.5),
    p95Ms: percentile(latency, 0.95),
  };
}

beforeAll(async () => {
  t = await startTestServer({ clock, config: { maxUploadBytes: '3MB' } });
  acme = await t.client('user', 'acme');
  globex = await t.client('user', 'globex');
  business = await t.client('business', 'analysts');

  const jpeg = fixture('ipx-husky-snow.jpg');
  const truncated = fixture('ipx-bliss.jpg').subarray(0, 300_000);
  await batch(1500, [
    { client: acme, customer: 'acme', name: 'a1.jpg', data: jpeg, expect: 202, format: 'jpeg' },
    { client: acme, customer: 'acme', name: 'a2.jpg', data: fixture('imaginary-medium.jpg'), expect: 202, format: 'jpeg' },
    { client: acme, customer: 'acme', name: 'a3.png', data: fixture('imaginary-test.png'), expect: 202, format: 'png' },
    { client: acme, customer: 'acme', name: 'cut.jpg', data: truncated, expect: 202, format: 'jpeg' },
    { client: acme, customer: 'acme', name: 'words.jpg', data: Buffer.from('hello, not an image'), expect: 415, format: 'unknown' },
    { client: acme, customer: 'acme', name: 'bomb.png', data: pngBomb(), expect: 422, format: 'png' },
    { client: globex, customer: 'globex', name: 'g1.webp', data: fixture('imaginary-test.webp'), expect: 202, format: 'webp' },
  ]);
  clock.advance(24 * 3600 * 1000); // day 2
  await batch(4000, [
    { client: globex, customer: 'globex', name: 'g2.jpg', data: await solid(400, 300, 'jpeg'), expect: 202, format: 'jpeg' },
    { client: globex, customer: 'globex', name: 'g3.png', data: await solid(200, 100, 'png'), expect: 202, format: 'png' },
    { client: globex, customer: 'globex', name: 'big.jpg', data: Buffer.concat([jpeg, Buffer.alloc(3_200_000)]), expect: 413, format: 'unknown' },
    { client: acme, customer: 'acme', name: 'a4.gif', data: fixture('ipx-giphy.gif'), expect: 202, format: 'gif' },
  ]);
}, 120_000);
afterAll(() => t.close());

const q = (params: string) => `/v1/stats?from=${DAY1}&to=${DAY2}${params}`;

describe('statistics', () => {
  it('counts every number per customer, format and day exactly as things happened', async () => {
    const res = await business.json('GET', q('&groupBy=customer,format,day'));
    expect(res.status).toBe(200);
    expect(res.body.from).toBe(DAY1);
    expect(res.body.to).toBe(DAY2);
    const keys = new Set(ledger.map((d) => `${d.uploadDay}|${d.customer}|${d.format}`));
    for (const d of ledger) if (d.settleDay) keys.add(`${d.settleDay}|${d.customer}|${d.format}`);
    const want = [...keys].sort().map((k) => {
      const [day, customer, format] = k.split('|') as [string, string, string];
      return {
        customer,
        format,
        day,
        ...expected((d, kind) => d.customer === customer && d.format === format && (kind === 'upload' ? d.uploadDay : d.settleDay) === day),
      };
    });
    expect(res.body.groups).toEqual(want);
    expect(res.body.totals).toEqual(expected(() => true));
    // Not vacuous: the mix has everything in it.
    expect(res.body.totals).toMatchObject({ uploaded: 8, processed: 7, failed: 1, rejected: 3 });
    expect(res.body.totals.p50Ms).toBeGreaterThan(1200);
    expect(res.body.totals.p95Ms).toBeGreaterThan(3300);
  });

  it('groups by any combination, and gives totals alone without groupBy', async () => {
    const none = await business.json('GET', q(''));
    expect(none.body.groups).toEqual([]);
    expect(none.body.totals).toEqual(expected(() => true));

    const byCustomer = await business.json('GET', q('&groupBy=customer'));
    expect(byCustomer.body.groups).toEqual(
      ['acme', 'globex'].map((customer) => ({ customer, ...expected((d) => d.customer === customer) })),
    );
    const byFormat = await business.json('GET', q('&groupBy=format'));
    expect(byFormat.body.groups.map((g: any) => g.format)).toEqual(['gif', 'jpeg', 'png', 'unknown', 'webp']);
    expect(byFormat.body.groups.find((g: any) => g.format === 'png')).toEqual({ format: 'png', ...expected((d) => d.format === 'png') });
    const byDay = await business.json('GET', q('&groupBy=day,day'));
    expect(byDay.body.groupBy).toEqual(['day']);
    expect(byDay.body.groups.map((g: any) => [g.day, g.uploaded])).toEqual([
      [DAY1, 5],
      [DAY2, 3],
    ]);
    const oneDay = await business.json('GET', `/v1/stats?from=${DAY2}&to=${DAY2}`);
    expect(oneDay.body.totals).toEqual(expected((d, kind) => (kind === 'upload' ? d.uploadDay : d.settleDay) === DAY2));
  });

  it('serves the same groups as RFC 4180 CSV with a header and a file name', async () => {
    const json = await business.json('GET', q('&groupBy=customer,format,day'));
    const res = await business.request('GET', `/v1/stats.csv?from=${DAY1}&to=${DAY2}&groupBy=customer,format,day`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(res.headers.get('content-disposition')).toContain(`darkroom-stats-${DAY1}-to-${DAY2}.csv`);
    const text = await res.text();
    expect(text.endsWith('\r\n')).toBe(true);
    const [header, ...lines] = text.trimEnd().split('\r\n');
    expect(header).toBe('day,customer,format,rawFormat,uploaded,processed,failed,rejected,bytesIn,bytesOut,p50Ms,p95Ms');
    expect(lines.map((l) => l.split(','))).toEqual(
      json.body.groups.map((g: any) =>
        [g.day, g.customer, g.format, g.rawFormat ?? '', g.uploaded, g.processed, g.failed, g.rejected, g.bytesIn, g.bytesOut, g.p50Ms ?? '', g.p95Ms ?? ''].map(String),
      ),
    );
    const totals = await (await business.request('GET', `/v1/stats.csv?from=${DAY1}&to=${DAY2}`)).text();
    const [h, row] = totals.trimEnd().split('\r\n');
    expect(h).toBe('uploaded,processed,failed,rejected,bytesIn,bytesOut,p50Ms,p95Ms');
    const e = expected(() => true);
    expect(row).toBe([e.uploaded, e.processed, e.failed, e.rejected, e.bytesIn, e.bytesOut, e.p50Ms, e.p95Ms].join(','));
  });

  it('counts a reprocess as another processing run, and keeps history when an image is deleted', async () => {
    const before = (await business.json('GET', q(''))).body.totals;
    const target = ledger.find((d) => d.customer === 'globex' && d.format === 'webp')!;
    expect((await globex.json('POST', `/v1/image/${target.id}/reprocess`)).status).toBe(202);
    await globex.waitFor(target.id!);
    const after = (await business.json('GET', q(''))).body.totals;
    expect(after.processed).toBe(before.processed + 1);
    expect(after.uploaded).toBe(before.uploaded);
    expect(after.bytesOut).toBe(before.bytesOut + target.bytesOut!);

    expect((await globex.json('DELETE', `/v1/image/${target.id}`)).status).toBe(204);
    expect((await business.json('GET', q(''))).body.totals).toEqual(after);
  });

  it('is for business and admin keys only', async () => {
    expect((await acme.json('GET', '/v1/stats')).status).toBe(403);
    expect((await acme.request('GET', '/v1/stats.csv')).status).toBe(403);
    expect((await t.admin.json('GET', q(''))).status).toBe(200);
    expect((await t.admin.json('GET', '/v1/stats')).status).toBe(200);
  });

  it('defaults to the last 30 days and refuses bad parameters', async () => {
    const res = await business.json('GET', '/v1/stats');
    expect(res.body.to).toBe(DAY2);
    expect(res.body.from).toBe('2026-02-01');
    for (const bad of ['from=2026-02-30', 'from=yesterday', `from=${DAY2}&to=${DAY1}`, 'groupBy=customer,colour', 'from=2000-01-01&to=2026-01-01']) {
      const r = await business.json('GET', `/v1/stats?${bad}`);
      expect(r.status, bad).toBe(400);
      expect(r.body.error.code).toBe('invalid_request');
    }
  });

  it('is also printed by `darkroom stats` from the data dir, as JSON and CSV', async () => {
    const api = await business.json('GET', q('&groupBy=customer,format'));
    const cli = await run(['stats', '--from', DAY1, '--to', DAY2, '--group-by', 'customer,format', '--data-dir', t.dataDir]);
    expect(cli.code).toBe(0);
    expect(JSON.parse(cli.stdout)).toEqual(api.body);
    const csv = await run(['stats', '--from', DAY1, '--to', DAY2, '--group-by', 'customer', '--csv', '--data-dir', t.dataDir]);
    expect(csv.stdout.split('\r\n')[0]).toBe('customer,uploaded,processed,failed,rejected,bytesIn,bytesOut,p50Ms,p95Ms');
    const bad = await run(['stats', '--from', 'soon', '--data-dir', t.dataDir]);
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim()).toMatch(/^darkroom: from: /);
  });
});
