/**
 * `/v1/events` streams the status changes of every node (CONTRACT §9): the stream listens on the
 * cluster signals (cluster/signals.ts), not on this node's own lifecycle. A change published on
 * the signals as another node's PostgreSQL adapter would deliver it, with no upload or job
 * here, reaches this node's streams, filtered by customer as any other.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { openSse, type SseStream } from '../helpers/sse.js';

let t: TestServer;
const streams: SseStream[] = [];

beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => {
  for (const s of streams) s.close();
  await t.close();
});

describe('GET /v1/events in a cluster', () => {
  it('carries a status change published by another node, to that image\'s customer only', async () => {
    const acme = await openSse(`${t.url}/v1/events`, (await t.client('user', 'acme')).headers());
    const globex = await openSse(`${t.url}/v1/events`, (await t.client('user', 'globex')).headers());
    streams.push(acme, globex);
    const id = '00000000-0000-7000-8000-00000000abcd';
    // What a signal from another node looks like when it arrives here.
    t.server.parts.signals.publish('image.status', { id, customer: 'acme', status: 'done' });
    const got = await acme.waitFor((e) => e.event === 'image.status' && e.data.includes(id), 5_000);
    expect(JSON.parse(got.data)).toEqual({ id, status: 'done' });
    await new Promise((r) => setTimeout(r, 200));
    expect(globex.events.some((e) => e.data.includes(id))).toBe(false);
  });
});
