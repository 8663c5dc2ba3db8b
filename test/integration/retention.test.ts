import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createManualClock } from '../../server/util/clock.js';
import { solid } from '../helpers/images.js';
import { startTestServer, type ApiClient, type TestServer } from '../helpers/server.js';

const clock = createManualClock(Date.parse('2026-03-01T12:00:00Z'));
let t: TestServer;
let user: ApiClient;

beforeAll(async () => {
  // The clock is injected: time jumps instead of the test sleeping for days. The purge itself
  // is left to its schedule (every second) so the real scheduler is what runs it.
  t = await startTestServer({ clock, config: { processedTtl: '7d', purgeSchedule: '* * * * * *' } });
  user = await t.client('user', 'keeper');
});
afterAll(() => t.close());

const DAY = 24 * 3600 * 1000;

async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('retention', () => {
  it('expires processed files after the TTL: 410, files gone, originals kept; reprocess brings them back', async () => {
    const { body } = await user.upload([{ name: 'keep.png', data: await solid(300, 200, 'png', '#ff8800') }]);
    const done = await user.waitFor(body.id);
    const display = done.variants.find((v: any) => v.name === 'display');
    expect(Date.parse(display.expiresAt)).toBe(Date.parse(done.processedAt) + 7 * DAY);
    expect((await user.download(body.id, 'display')).status).toBe(200);
    const paths = (await t.server.parts.images.variantsOf(body.id)).map((v) => t.server.parts.store.pathOf(v.path!));
    expect(paths.every((p) => fs.existsSync(p))).toBe(true);

    clock.advance(7 * DAY - 60_000);
    expect((await user.download(body.id, 'display')).status).toBe(200);

    clock.advance(2 * 60_000);
    // Enforced at download time, whether or not the purge has run yet.
    const late = await user.download(body.id, 'display');
    expect(late.status).toBe(410);
    expect(JSON.parse(late.body.toString()).error.code).toBe('expired');

    // The scheduled purge removes the rest and marks every variant expired.
    await waitUntil(() => paths.every((p) => !fs.existsSync(p)));
    const record = (await user.json('GET', `/v1/image/${body.id}`)).body;
    expect(record.status).toBe('done');
    expect(record.variants.map((v: any) => v.status)).toEqual(['expired', 'expired']);
    const rows = await t.server.parts.images.variantsOf(body.id);
    expect(rows.map((v) => v.status)).toEqual(['expired', 'expired']);
    expect((await user.download(body.id, 'thumb')).status).toBe(410);
    const original = await user.download(body.id, 'original');
    expect(original.status).toBe(200);

    const again = await user.json('POST', `/v1/image/${body.id}/reprocess`);
    expect(again.status).toBe(202);
    const redone = await user.waitFor(body.id);
    expect(redone.variants.map((v: any) => v.status)).toEqual(['done', 'done']);
    expect(Date.parse(redone.variants[0].expiresAt)).toBe(clock.now() + 7 * DAY);
    const fresh = await user.download(body.id, 'display');
    expect(fresh.status).toBe(200);
    expect(new Date(fresh.headers.get('expires')!).getTime()).toBe(Math.floor((clock.now() + 7 * DAY) / 1000) * 1000);
  });

  it('records a variant.expired event for each purged file', () => {
    const events = t.server.parts.db.prepare(`SELECT count(*) AS n FROM outbox WHERE type = 'variant.expired'`).get() as { n: number };
    expect(events.n).toBe(2);
  });

  it('answers a download racing the purge with the whole file or 410, never 404 and never a cut-off body', async () => {
    // Noise compresses badly: a PNG variant of several megabytes, so a download takes many reads.
    const noise = await sharp({ create: { width: 1200, height: 1200, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 40 } } })
      .png()
      .toBuffer();
    const variants = JSON.stringify([{ name: 'big', width: 1200, format: 'png' }]);
    const { body } = await user.upload([{ name: 'noise.png', data: noise }], { variants });
    await user.waitFor(body.id);
    const row = (await t.server.parts.images.findVariant(body.id, 'big'))!;
    expect(row.bytes).toBeGreaterThan(2_000_000);

    // A download under way when the purge removes the file still gets every byte.
    const { status, bytes: whole } = await new Promise<{ status: number; bytes: Buffer }>((resolve, reject) => {
      const req = http.get(`${t.url}/v1/image/${body.id}/download?variant=big`, { headers: user.headers() }, (res) => {
        const chunks: Buffer[] = [];
        res.once('data', (first: Buffer) => {
          chunks.push(first);
          res.pause();
          clock.advance(8 * DAY);
          t.server.parts.retention.purge().then((removed) => {
            expect(removed).toBeGreaterThanOrEqual(1);
            expect(fs.existsSync(row.path!)).toBe(false);
            res.on('data', (c: Buffer) => chunks.push(c));
            res.resume();
          }, reject);
        });
        res.on('end', () => resolve({ status: res.statusCode!, bytes: Buffer.concat(chunks) }));
        res.on('error', reject);
      });
      req.on('error', reject);
    });
    expect(status).toBe(200);
    expect(whole.length).toBe(row.bytes);
    expect(crypto.createHash('sha256').update(whole).digest('hex')).toBe(row.etag);
    expect((await user.download(body.id, 'big')).status).toBe(410);

    // Many downloads while the purge runs: each is whole or 410.
    expect((await user.json('POST', `/v1/image/${body.id}/reprocess`)).status).toBe(202);
    await user.waitFor(body.id);
    const fresh = (await t.server.parts.images.findVariant(body.id, 'big'))!;
    // Requests decided just before the expiry, and the purge just after it, while they are served.
    clock.set(fresh.expires_at! - 1);
    const downloads = Array.from({ length: 24 }, () => user.download(body.id, 'big'));
    setTimeout(() => {
      clock.set(fresh.expires_at! + 1);
      void t.server.parts.retention.purge();
    }, 5);
    const outcomes = await Promise.all(downloads);
    for (const res of outcomes) {
      if (res.status === 410) continue;
      expect(res.status).toBe(200);
      expect(res.body.length).toBe(fresh.bytes);
    }
    expect(outcomes.map((r) => r.status)).not.toContain(404);
  });
});
