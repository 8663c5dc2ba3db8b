import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture } from '../helpers/images.js';
import { ApiClient, startTestServer, type TestServer } from '../helpers/server.js';
import { openSse, type SseStream } from '../helpers/sse.js';

let t: TestServer;
let acme: ApiClient;
let globex: ApiClient;
const streams: SseStream[] = [];

beforeAll(async () => {
  t = await startTestServer();
  acme = await t.client('user', 'acme');
  globex = await t.client('user', 'globex');
});
afterAll(async () => {
  for (const s of streams) s.close();
  await t.close();
});

const open = async (client: ApiClient) => {
  const stream = await openSse(`${t.url}/v1/events`, client.headers());
  streams.push(stream);
  return stream;
};

describe('GET /v1/events (server-sent events)', () => {
  it("streams image.status events of the caller's customer only, live, as processing goes", async () => {
    const mine = await open(acme);
    const theirs = await open(globex);
    expect(mine.status).toBe(200);
    expect(mine.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(mine.headers.get('cache-control')).toContain('no-cache');

    const res = await acme.upload([{ name: 'husky.jpg', data: fixture('ipx-husky-snow.jpg') }]);
    const id = res.body.id as string;
    const done = await mine.waitFor((e) => e.event === 'image.status' && JSON.parse(e.data).status === 'done' && JSON.parse(e.data).id === id);
    expect(JSON.parse(done.data)).toEqual({ id, status: 'done' });
    const seen = mine.events.filter((e) => JSON.parse(e.data).id === id).map((e) => JSON.parse(e.data).status);
    expect(seen).toEqual(['processing', 'done']);
    expect(theirs.events.some((e) => e.data.includes(id))).toBe(false);
  });

  it('gives an admin every customer\'s events', async () => {
    const admin = await open(t.admin);
    const res = await globex.upload([{ name: 'm.jpg', data: fixture('imaginary-medium.jpg') }]);
    await admin.waitFor((e) => e.data.includes(res.body.id) && e.data.includes('"done"'));
  });

  it('answers 401 without a key and 403 for a business key', async () => {
    expect((await open(new ApiClient(t.url, undefined))).status).toBe(401);
    expect((await open(await t.client('business', 'acme'))).status).toBe(403);
  });

  it('ends open streams when the server shuts down, without holding it up', async () => {
    const other = await startTestServer();
    const stream = await openSse(`${other.url}/v1/events`, other.admin.headers());
    const started = Date.now();
    await other.close();
    await stream.ended;
    expect(Date.now() - started).toBeLessThan(3000);
  });
});
