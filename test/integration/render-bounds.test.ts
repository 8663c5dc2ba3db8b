import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createManualClock } from '../../server/util/clock.js';
import { eventually } from '../helpers/eventually.js';
import { fixture, solid } from '../helpers/images.js';
import { startS3rver, type S3rver } from '../helpers/s3rver.js';
import { listFiles, startTestServer, type ApiClient, type TestServer } from '../helpers/server.js';

/**
 * Renders under load and over time: the worker slots they share with image jobs (fair across
 * customers, bounded by --max-queued-jobs and --render-wait), and their stored files' TTL.
 */

let t: TestServer | undefined;
let s3: S3rver | undefined;
afterEach(async () => {
  await t?.close();
  await s3?.close();
  t = undefined;
  s3 = undefined;
});

async function render(client: ApiClient, id: string, query: string) {
  const res = await client.request('GET', `/v1/image/${id}/render${query}`);
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

async function uploaded(client: ApiClient, data: Buffer, name = 'p.png') {
  const res = await client.upload([{ name, data, type: 'image/png' }]);
  expect(res.status).toBe(202);
  return res.body.id as string;
}

const errorOf = (res: { body: Buffer }) => JSON.parse(res.body.toString()).error as { code: string; message: string };

describe('render bounds', () => {
  it('a render that waits longer than --render-wait for a worker is 503 with Retry-After, not piled up', async () => {
    t = await startTestServer({ config: { workers: '1', renderWait: '1s' } });
    const user = await t.client('user', 'alice');
    const id = await uploaded(user, await solid(300, 200, 'png'));
    await user.waitFor(id);
    // The only worker slot is taken (as a long render would take it).
    const hold = await t.server.parts.slots.acquire('someone');
    const started = performance.now();
    const res = await render(user, id, '?w=100&format=webp');
    expect(res.status).toBe(503);
    expect(errorOf(res).code).toBe('unavailable');
    expect(errorOf(res).message).toMatch(/--render-wait/);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(performance.now() - started).toBeGreaterThanOrEqual(900);
    expect(t.server.parts.slots.stats().rendersWaiting).toBe(0);
    hold();
    const after = await render(user, id, '?w=100&format=webp');
    expect(after.status).toBe(200);
  });

  it('counts against --max-queued-jobs: 429 with Retry-After while the queue is full', async () => {
    t = await startTestServer({ config: { maxQueuedJobs: '3' } });
    const user = await t.client('user', 'alice');
    const id = await uploaded(user, await solid(300, 200, 'png'));
    await user.waitFor(id);
    expect((await render(user, id, '?w=50&format=webp')).status).toBe(200);
    await t.server.parts.runner.stop(0); // nothing leaves the queue while it fills
    await uploaded(user, await solid(30, 20, 'png'));
    await uploaded(user, await solid(31, 20, 'png'));
    // Their jobs are dispatched from the outbox just after the 202s.
    await eventually(async () => (await t!.server.parts.jobs.countQueued()) === 4 || undefined, 10_000, 'four jobs queued');
    const res = await render(user, id, '?w=100&format=webp');
    expect(res.status).toBe(429);
    expect(errorOf(res).code).toBe('too_many_requests');
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(t.server.parts.slots.stats()).toEqual({ rendersRunning: 0, rendersWaiting: 0 });
    // A stored render is no work: served while the queue is full.
    const stored = await render(user, id, '?w=50&format=webp');
    expect(stored.status).toBe(200);
    expect(stored.headers.get('darkroom-cache')).toBe('hit');
  });

  it("serves waiting customers round-robin: one customer's burst does not hold up another's render", async () => {
    t = await startTestServer({ config: { workers: '1' } });
    const alice = await t.client('user', 'alice');
    const bob = await t.client('user', 'bob');
    const a = await uploaded(alice, await solid(800, 600, 'png'));
    const b = await uploaded(bob, await solid(800, 600, 'png'));
    await alice.waitFor(a);
    await bob.waitFor(b);
    const { slots } = t.server.parts;
    const hold = await slots.acquire('someone');
    const order: string[] = [];
    const ask = (who: string, client: ApiClient, id: string, w: number) =>
      render(client, id, `?w=${w}&format=webp`).then((res) => {
        expect(res.status).toBe(200);
        order.push(who);
      });
    const answers: Array<Promise<void>> = [];
    for (const w of [101, 102, 103]) {
      answers.push(ask(`alice-${w}`, alice, a, w));
      await eventually(() => slots.stats().rendersWaiting === answers.length || undefined);
    }
    answers.push(ask('bob', bob, b, 100));
    await eventually(() => slots.stats().rendersWaiting === 4 || undefined);
    hold();
    await Promise.all(answers);
    expect(order).toEqual(['alice-101', 'bob', 'alice-102', 'alice-103']);
  });

  it('keeps a worker for image jobs under a load of renders: an upload is processed between them', async () => {
    t = await startTestServer({ config: { workers: '1' } });
    const user = await t.client('user', 'alice');
    const id = await uploaded(user, await solid(800, 600, 'png'));
    await user.waitFor(id);
    const { slots } = t.server.parts;
    const hold = await slots.acquire('someone');
    const order: string[] = [];
    const answers = [201, 202, 203].map((w) =>
      render(user, id, `?w=${w}&format=avif`).then((res) => {
        expect(res.status).toBe(200);
        order.push(`render-${w}`);
      }),
    );
    await eventually(() => slots.stats().rendersWaiting === 3 || undefined);
    const next = await uploaded(user, await solid(640, 480, 'png'), 'next.png');
    // Its jobs are due and find the slot taken.
    await new Promise((resolve) => setTimeout(resolve, 300));
    hold();
    const processed = user.waitFor(next).then((record) => order.push(`image-${record.status}`));
    await Promise.all([...answers, processed]);
    expect(order.indexOf('image-done')).toBeGreaterThanOrEqual(0);
    expect(order.indexOf('image-done')).toBeLessThan(3);
  });
});

describe('stored renders over time', () => {
  it('expire after --processed-ttl: answered by a fresh render, and purged from the store', async () => {
    const clock = createManualClock(Date.parse('2026-03-01T12:00:00Z'));
    t = await startTestServer({ clock, config: { processedTtl: '1h' } });
    const user = await t.client('user', 'alice');
    const id = await uploaded(user, fixture('imaginary-test.png'));
    const storedRenders = () => listFiles(path.join(t!.dataDir, 'processed')).filter((f) => path.basename(f).startsWith('r-'));

    const first = await render(user, id, '?w=120&format=webp');
    expect(first.headers.get('darkroom-cache')).toBe('miss');
    expect(first.headers.get('cache-control')).toBe('private, max-age=3600');
    expect((await render(user, id, '?w=120&format=webp')).headers.get('darkroom-cache')).toBe('hit');
    clock.advance(2 * 3600_000);
    // Past its TTL, before any purge: rendered again, not served stale.
    const again = await render(user, id, '?w=120&format=webp');
    expect(again.headers.get('darkroom-cache')).toBe('miss');
    expect(again.body.equals(first.body)).toBe(true);
    expect(again.headers.get('etag')).toBe(first.headers.get('etag'));
    expect((await render(user, id, '?w=90&format=png')).status).toBe(200);
    expect(storedRenders()).toHaveLength(2);

    clock.advance(2 * 3600_000);
    expect(await t.server.parts.retention.purge()).toBeGreaterThanOrEqual(2);
    expect(storedRenders()).toHaveLength(0);
    expect(await t.server.parts.database.repos.renders.expired(clock.now(), 10)).toEqual([]);
    expect((await render(user, id, '?w=120&format=webp')).headers.get('darkroom-cache')).toBe('miss');
  });

  it('with --storage s3, are kept in the bucket and purged from it', async () => {
    s3 = await startS3rver();
    const clock = createManualClock(Date.parse('2026-03-01T12:00:00Z'));
    t = await startTestServer({ clock, config: { ...s3.options('renders'), storage: 's3', processedTtl: '1h' } });
    const user = await t.client('user', 'alice');
    const id = await uploaded(user, fixture('imaginary-test.png'));
    const inBucket = async () => [...(await s3!.objects(`renders/processed/${id}/`)).keys()].filter((k) => path.basename(k).startsWith('r-'));

    const first = await render(user, id, '?w=120&format=webp');
    expect(first.status).toBe(200);
    expect(await inBucket()).toHaveLength(1);
    const hit = await render(user, id, '?w=120&format=webp');
    expect(hit.headers.get('darkroom-cache')).toBe('hit');
    expect(hit.body.equals(first.body)).toBe(true);
    // Nothing of it stays on local disk (once the upload's own processing is over too).
    await user.waitFor(id);
    expect(listFiles(t.dataDir).filter((f) => !f.startsWith('darkroom.') && !fs.statSync(path.join(t!.dataDir, f)).isDirectory())).toEqual([]);

    clock.advance(2 * 3600_000);
    expect(await t.server.parts.retention.purge()).toBeGreaterThanOrEqual(1);
    await eventually(async () => (await inBucket()).length === 0 || undefined, 10_000, 'the render removed from the bucket');
  });
});
