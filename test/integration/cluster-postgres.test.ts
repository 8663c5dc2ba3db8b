/**
 * Two nodes on one PostgreSQL database (CONTRACT §9), each with its own data dir and node id:
 * the cluster signals cross between them over LISTEN/NOTIFY. An event stream on node B carries
 * the status changes of an upload made on node A, and work committed on B wakes A's engine.
 *
 * With local storage an image's bytes are on the disk of the node that took its upload, so
 * here A alone processes (B's engine is stopped): processing on any node needs the bucket as
 * the primary store (--storage s3). What is checked is the events and the shared records.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { solid } from '../helpers/images.js';
import { privatePostgres } from '../helpers/postgres.js';
import { startTestServer, tempDirs, type ApiClient, type TestServer } from '../helpers/server.js';
import { openSse, type SseStream } from '../helpers/sse.js';

const dir = tempDirs('darkroom-cluster-pg-');
let a: TestServer;
let b: TestServer;
let acmeOnA: ApiClient;
const streams: SseStream[] = [];

beforeAll(async () => {
  const pg = await privatePostgres();
  const databaseUrl = pg.url(await pg.createDatabase());
  a = await startTestServer({ dataDir: dir(), config: { databaseUrl, nodeId: 'node-a' } });
  b = await startTestServer({ dataDir: dir(), config: { databaseUrl, nodeId: 'node-b' } });
  await b.server.parts.runner.stop(0);
  acmeOnA = await a.client('user', 'acme');
});
afterAll(async () => {
  for (const s of streams) s.close();
  await Promise.all([a?.close(), b?.close()]);
});

/** A stream of `/v1/events` on `node` for the key of `client` (a key made on another node works: one database). */
async function eventsOn(node: TestServer, client: ApiClient) {
  const stream = await openSse(`${node.url}/v1/events`, client.headers());
  streams.push(stream);
  return stream;
}

const statusesOf = (stream: SseStream, id: string) =>
  stream.events.filter((e) => e.event === 'image.status' && e.data.includes(id)).map((e) => (JSON.parse(e.data) as { status: string }).status);

describe('two nodes on one PostgreSQL database', () => {
  it('lists both nodes, up, on either', async () => {
    const res = await b.admin.json('GET', '/v1/nodes');
    expect(res.status).toBe(200);
    const byId = Object.fromEntries(res.body.items.map((n: { id: string }) => [n.id, n]));
    expect(byId['node-a']).toMatchObject({ state: 'up', self: false });
    expect(byId['node-b']).toMatchObject({ state: 'up', self: true });
  });

  it('streams on node B the status changes of an upload made on node A, to its customer only', async () => {
    const onB = await eventsOn(b, acmeOnA);
    const otherOnB = await eventsOn(b, await b.client('user', 'globex'));
    const up = await acmeOnA.upload([{ name: 'a.png', data: await solid(160, 100, 'png'), type: 'image/png' }]);
    expect(up.status).toBe(202);
    const id = up.body.id as string;
    await onB.waitFor((e) => e.event === 'image.status' && e.data.includes(id) && e.data.includes('"done"'), 30_000);
    // In the order node A made them.
    expect(statusesOf(onB, id)).toEqual(['processing', 'done']);
    // The record is the one database's: B answers it as A left it.
    const record = await acmeOnA.json('GET', `/v1/image/${id}`);
    const onBRecord = await (await b.client('admin', 'acme')).json('GET', `/v1/image/${id}`);
    expect(onBRecord.status).toBe(200);
    expect(onBRecord.body).toMatchObject({ id, status: 'done' });
    expect(onBRecord.body.status).toBe(record.body.status);
    await new Promise((r) => setTimeout(r, 300));
    expect(statusesOf(otherOnB, id)).toEqual([]);
  });

  it('wakes node A at once for work committed on node B (a reprocess), well before its 10 s idle poll', async () => {
    const up = await acmeOnA.upload([{ name: 'b.png', data: await solid(120, 90, 'png'), type: 'image/png' }]);
    const id = up.body.id as string;
    expect((await acmeOnA.waitFor(id)).status).toBe('done');
    const onB = await eventsOn(b, acmeOnA);
    // Node A's engine is idle now, polling every 10 s: only the jobs signal can wake it sooner.
    await new Promise((r) => setTimeout(r, 500));
    const acmeOnB = await b.client('user', 'acme');
    const started = Date.now();
    const res = await acmeOnB.json('POST', `/v1/image/${id}/reprocess`);
    expect(res.status).toBe(202);
    await onB.waitFor((e) => e.event === 'image.status' && e.data.includes(id) && e.data.includes('"done"'), 30_000);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(statusesOf(onB, id)).toEqual(['processing', 'done']);
  });
});
