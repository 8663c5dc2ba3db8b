import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../server/main.js';
import { eventually } from '../helpers/eventually.js';
import { solid } from '../helpers/images.js';
import { ApiClient, startTestServer, tempDir } from '../helpers/server.js';
import { TusClient } from '../helpers/tus.js';

/*
 * Every source goes through the one ingest pipeline, which counts each upload's outcome once:
 * in statistics (uploaded, rejected) and in the metrics (darkroom_uploads_total{outcome}). For
 * each source, one accepted and one refused upload each move exactly their own counters by one.
 */

const TIMING = { stabilityMs: 300, pollIntervalMs: 100, retryMs: 300 };
let server: RunningServer;
let url: string;
let admin: ApiClient;
let watched: string;
let outside: string;
/** Not an image in any format: refused with 415 after its first bytes. */
const junk = Buffer.alloc(64 * 1024, 'plain text, not an image. ');
let colour = 0;
/** A distinct image each time (the same bytes twice would be the same original). */
const image = () => solid(24, 16, 'png', `#${(++colour).toString(16).padStart(6, '0')}`);

interface Counts {
  uploaded: number;
  rejected: number;
  accepted: number;
  refused415: number;
}

async function counts(): Promise<Counts> {
  // Level 0 of the daily statistics: all customers, all formats.
  const row = server.parts.db.prepare('SELECT coalesce(sum(uploaded), 0) AS uploaded, coalesce(sum(rejected), 0) AS rejected FROM stats_daily WHERE level = 0').get() as { uploaded: number; rejected: number };
  const metrics = await (await fetch(`${url}/metrics`)).text();
  const metric = (outcome: string) => Number(new RegExp(`darkroom_uploads_total\\{outcome="${outcome}"[^}]*\\} (\\d+)`).exec(metrics)?.[1] ?? 0);
  return { uploaded: row.uploaded, rejected: row.rejected, accepted: metric('accepted'), refused415: metric('unsupported_media_type') };
}

/** Runs one upload and checks that exactly the expected counters moved, each by one. */
async function expectCountedOnce(outcome: 'accepted' | 'refused', upload: () => Promise<void>) {
  const before = await counts();
  await upload();
  const after = await counts();
  const moved = outcome === 'accepted' ? { uploaded: 1, accepted: 1 } : { rejected: 1, refused415: 1 };
  expect({
    uploaded: after.uploaded - before.uploaded,
    rejected: after.rejected - before.rejected,
    accepted: after.accepted - before.accepted,
    refused415: after.refused415 - before.refused415,
  }).toEqual({ uploaded: 0, rejected: 0, accepted: 0, refused415: 0, ...moved });
}

async function watchCounts(): Promise<{ ingested: number; rejected: number }> {
  const res = await admin.json('GET', '/v1/watch');
  return res.body.items[0].counts;
}

beforeAll(async () => {
  watched = tempDir('darkroom-watch-');
  outside = tempDir('darkroom-import-');
  const started = await startTestServer({ config: { watch: [watched] }, start: { watchTiming: TIMING } });
  server = started.server;
  admin = started.admin;
  url = admin.url;
});

afterAll(async () => {
  await server.close();
  for (const d of [watched, outside]) fs.rmSync(d, { recursive: true, force: true });
});

describe('the ingest pipeline counts each upload once, whatever its source', () => {
  it('multipart', async () => {
    const data = await image();
    await expectCountedOnce('accepted', async () => expect((await admin.upload([{ name: 'a.png', data }])).status).toBe(202));
    await expectCountedOnce('refused', async () => expect((await admin.upload([{ name: 'a.png', data: junk }])).status).toBe(415));
  });

  it('raw body', async () => {
    const data = await image();
    await expectCountedOnce('accepted', async () => expect((await admin.uploadRaw(data, 'a.png')).status).toBe(202));
    await expectCountedOnce('refused', async () => expect((await admin.uploadRaw(junk, 'a.png')).status).toBe(415));
  });

  it('tus', async () => {
    const tus = new TusClient(admin);
    const data = await image();
    await expectCountedOnce('accepted', async () => {
      const created = await tus.create(data.length, { filename: 'a.png' });
      expect(created.status).toBe(201);
      expect((await tus.patch(created.location!, 0, data)).status).toBe(204);
    });
    await expectCountedOnce('refused', async () => {
      const created = await tus.create(junk.length, { filename: 'a.png' });
      expect(created.status).toBe(201);
      expect((await tus.patch(created.location!, 0, junk)).status).toBe(415);
    });
  });

  it('import by path', async () => {
    const good = path.join(outside, 'good.png');
    const bad = path.join(outside, 'bad.png');
    fs.writeFileSync(good, await image());
    fs.writeFileSync(bad, junk);
    await expectCountedOnce('accepted', async () => expect((await admin.json('POST', '/v1/image/import', { paths: [good] })).status).toBe(202));
    await expectCountedOnce('refused', async () => expect((await admin.json('POST', '/v1/image/import', { paths: [bad] })).status).toBe(415));
  });

  it('watch folder', async () => {
    await expectCountedOnce('accepted', async () => {
      fs.writeFileSync(path.join(watched, 'good.png'), await image());
      await eventually(async () => (await watchCounts()).ingested === 1 || undefined, 30_000, 'the file ingested');
    });
    await expectCountedOnce('refused', async () => {
      fs.writeFileSync(path.join(watched, 'bad.png'), junk);
      await eventually(async () => (await watchCounts()).rejected === 1 || undefined, 30_000, 'the file refused');
    });
  });
});
