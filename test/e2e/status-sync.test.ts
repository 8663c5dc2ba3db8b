import fs from 'node:fs';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, jpegWithExif, solid } from '../helpers/images.js';
import { startS3rver, syncIdle, type S3rver } from '../helpers/s3rver.js';
import { eventually } from '../helpers/eventually.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { launchBrowser, openPage, reviewView, type WatchedPage } from './helpers/browser.js';

/**
 * The admin's status page, S3 sync part, against a real server syncing to a real S3-protocol
 * server (s3rver, its own process): what was synced, an upload in flight, an outage, a failed
 * operation and its retry, each as the page shows it while it polls.
 */
const MiB = 1024 * 1024;
const PREFIX = 'studio';
let s3: S3rver;
let t: TestServer;
let browser: Browser;
let session: WatchedPage;

beforeAll(async () => {
  s3 = await startS3rver();
  [t, browser] = await Promise.all([
    startTestServer({
      config: s3.options(PREFIX),
      // Small parts, one at a time: a large original stays in flight long enough to be seen.
      start: { s3: { pollMs: 50, probeMinMs: 100, probeMaxMs: 500, retryMaxMs: 500, partSize: 5 * MiB, partConcurrency: 1 } },
    }),
    launchBrowser(),
  ]);
  session = await openPage(browser);
  await session.page.goto(`${t.url}/status#key=${t.admin.key}`);
  await session.page.getByRole('heading', { name: 'Status', level: 1 }).waitFor();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await t?.close();
  await s3?.close();
  if (t) fs.rmSync(t.dataDir, { recursive: true, force: true });
});

const api = async () => (await t.admin.json('GET', '/v1/sync')).body;

const synced = () => syncIdle(t.admin, (s) => s.reachable, 60_000);

async function uploadDone(data: Buffer, name: string, type = 'image/jpeg') {
  const res = await t.admin.uploadRaw(data, name, type);
  expect(res.status).toBe(202);
  return t.admin.waitFor(res.body.id);
}

/** A real JPEG padded to `total` bytes (decoders stop at the end marker). */
function bigJpeg(total: number): Buffer {
  const head = fixture('ipx-husky-snow.jpg');
  const out = Buffer.alloc(total);
  head.copy(out);
  for (let i = head.length; i < total; i += 4096) out[i] = i & 0xff;
  return out;
}

const section = (page: Page) => page.getByRole('region', { name: /S3 sync/ });
const metric = (page: Page, name: string) => section(page).getByRole('group', { name });
/** The text as shown (innerText keeps the breaks between blocks), on one line. */
const text = async (locator: Locator) => (await locator.innerText()).replace(/\s+/g, ' ').trim();
/** The page polls every two seconds: give each change a few rounds to show. */
const SHOWN = { timeout: 10_000 };

describe('the status page: S3 sync', () => {
  it('shows the bucket and what was synced, an upload in flight with its progress, and an outage until the bucket is back', async () => {
    const { page, problems } = session;
    await uploadDone(await jpegWithExif(), 'photo.jpg');
    await uploadDone(await solid(800, 600, 'png', '#2266aa'), 'graphic.png', 'image/png');
    const idle = await synced();

    const sync = section(page);
    await expect.poll(() => sync.getByTestId('sync-state').textContent(), SHOWN).toBe('Connected');
    const facts = await text(sync.locator('.sync-facts'));
    expect(facts).toContain(`s3://${s3.bucket}/${PREFIX}/`);
    expect(facts).toContain(s3.endpoint);
    expect(facts).toContain('us-east-1');
    // s3rver has no lifecycle rules.
    expect(facts).toContain('Not supported by this bucket');
    await expect.poll(() => text(metric(page, 'Synced')), SHOWN).toContain(`${idle.synced.objects} objects`);
    expect(idle.synced.objects).toBe(6);
    expect(await text(metric(page, 'Waiting'))).toContain('Nothing waiting');
    expect(await text(metric(page, 'Failed'))).toMatch(/^Failed 0 /);

    // A large original half-way up: the bucket is frozen mid-upload, so the page shows a fixed point of it.
    const big = bigJpeg(40 * MiB);
    const res = await t.admin.uploadRaw(big, 'big.jpg', 'image/jpeg');
    const key = `${PREFIX}/originals/${res.body.sha256}`;
    await eventually(async () => (await api()).inFlight.some((f: any) => f.key === key && f.bytesDone >= 5 * MiB && f.bytesDone < f.bytes), 60_000, 'big original half-way');
    s3.pause();
    try {
      const row = sync.getByRole('list', { name: 'Operations in flight' }).getByRole('listitem').filter({ hasText: key });
      await expect.poll(async () => Number(await row.getByRole('progressbar').getAttribute('aria-valuenow')), { timeout: 10_000 }).toBeGreaterThan(0);
      const frozen = (await api()).inFlight.find((f: any) => f.key === key);
      await expect.poll(() => row.getByRole('progressbar').getAttribute('aria-valuenow'), SHOWN).toBe(String(Math.round((frozen.bytesDone / frozen.bytes) * 100)));
      expect(await text(row)).toContain('Upload original');
      expect(await text(row)).toContain('of 41.9 MB');
      await expect.poll(() => text(metric(page, 'In flight')), SHOWN).toMatch(/^In flight [1-9]/);
      expect(await reviewView(page, 'status-sync', { fullPage: true })).toBe('');
    } finally {
      s3.resume();
    }
    await synced();
    await expect.poll(() => sync.getByRole('list', { name: 'Operations in flight' }).count(), SHOWN).toBe(0);

    // The bucket goes away: uploads go on, the page says so and what waits grows.
    await s3.stop();
    await uploadDone(await solid(300, 200, 'jpeg', '#aa6633'), 'during.jpg');
    await expect.poll(() => sync.getByTestId('sync-state').textContent(), { timeout: 30_000 }).toBe('Unreachable');
    const alert = sync.getByRole('alert');
    await expect.poll(() => text(alert), SHOWN).toContain('The bucket cannot be reached since');
    expect(await text(alert)).toMatch(/Last error: .*(ECONNREFUSED|ECONNRESET|unreachable)/);
    await expect.poll(() => text(metric(page, 'Waiting')), SHOWN).toMatch(/^Waiting [1-9]\d* .* to upload · oldest/);
    expect(await reviewView(page, 'status-sync-outage')).toBe('');

    await s3.restart();
    await expect.poll(() => sync.getByTestId('sync-state').textContent(), { timeout: 30_000 }).toBe('Connected');
    await expect.poll(() => text(metric(page, 'Waiting')), { timeout: 30_000 }).toContain('Nothing waiting');
    expect(await sync.getByRole('alert').count()).toBe(0);
    expect(problems).toEqual([]);
  });

  it('lists a failed operation with its last error, and retries it from the page', async () => {
    const { page, problems } = session;
    // The bucket is away while the local original is damaged, so the sync meets the damaged bytes.
    await s3.stop();
    const data = await solid(500, 400, 'png', '#777777');
    const record = await uploadDone(data, 'damaged.png', 'image/png');
    const file = t.server.parts.store.originalPath(record.sha256);
    const damaged = Buffer.from(data);
    damaged[damaged.length >> 1]! ^= 0xff;
    fs.writeFileSync(file, damaged);
    await s3.restart();

    const sync = section(page);
    await expect.poll(() => text(metric(page, 'Failed')), { timeout: 30_000 }).toMatch(/^Failed 1 /);
    const row = sync.getByRole('table').getByRole('row').filter({ hasText: record.sha256 });
    expect(await text(row)).toContain('Upload original');
    expect(await text(row)).toContain('sha256');
    expect(await reviewView(page, 'status-sync-failed', { fullPage: true })).toBe('');

    // The cause is fixed, then the failed operation is retried from the page.
    fs.writeFileSync(file, data);
    await sync.getByRole('button', { name: 'Retry failed' }).click();
    await expect.poll(() => page.getByRole('status').textContent(), SHOWN).toContain('1 failed operation back in the queue.');
    await expect.poll(() => text(metric(page, 'Failed')), { timeout: 30_000 }).toMatch(/^Failed 0 /);
    expect(await sync.getByRole('button', { name: 'Retry failed' }).count()).toBe(0);
    expect(await sync.getByRole('table').count()).toBe(0);
    expect((await synced()).failed.jobs).toBe(0);
    expect(await s3.sha256Of(`${PREFIX}/originals/${record.sha256}`)).toBe(record.sha256);
    expect(problems).toEqual([]);
  });
});
