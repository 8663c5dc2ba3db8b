import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture } from '../helpers/images.js';
import { startTestServer, type ApiClient, type TestServer } from '../helpers/server.js';

let t: TestServer;
let alice: ApiClient;
let photo: string;

beforeAll(async () => {
  t = await startTestServer();
  alice = await t.client('user', 'alice');
  const up = await alice.upload([{ name: 'bliss.jpg', data: fixture('ipx-bliss.jpg'), type: 'image/jpeg' }]);
  expect(up.status).toBe(202);
  photo = up.body.id;
});
afterAll(() => t?.close());

async function render(client: ApiClient, id: string, query: string, headers: Record<string, string> = {}, method = 'GET') {
  const res = await client.request(method, `/v1/image/${id}/render${query}`, { headers });
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

describe('GET /v1/image/{id}/render', () => {
  it('renders a resized WebP from the original', async () => {
    const res = await render(alice, photo, '?w=1000&format=webp');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/webp');
    expect(res.headers.get('darkroom-cache')).toBe('miss');
    const meta = await sharp(res.body).metadata();
    expect(meta.format).toBe('webp');
    expect(meta.width).toBe(1000);
    const again = await render(alice, photo, '?w=1000&format=webp');
    expect(again.headers.get('darkroom-cache')).toBe('hit');
    expect(again.body.equals(res.body)).toBe(true);
  });
});
