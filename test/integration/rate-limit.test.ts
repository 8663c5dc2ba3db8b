import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type ApiClient, type TestServer } from '../helpers/server.js';
import { solid } from '../helpers/images.js';

const sharpPng = () => solid(16, 16, 'png');

/* --rate-limit N (CONTRACT §13): at most N requests a second per key; more get 429 with Retry-After. */

let limited: TestServer;
let unlimited: TestServer;

beforeAll(async () => {
  limited = await startTestServer({ config: { rateLimit: '5' } });
  unlimited = await startTestServer();
});
afterAll(async () => {
  await limited.close();
  await unlimited.close();
});

async function burst(client: ApiClient, n: number) {
  return Promise.all(Array.from({ length: n }, () => client.json('GET', '/v1/images')));
}

describe('--rate-limit', () => {
  it('counts signed links per client address, apart from the keys: the key that made a link keeps its own allowance', async () => {
    const owner = await limited.client('user', 'linker');
    const up = await owner.upload([{ name: 'a.png', data: await sharpPng(), type: 'image/png' }]);
    expect(up.status).toBe(202);
    const link = await owner.json('POST', `/v1/image/${up.body.id}/links`, { params: { w: 8, format: 'png' } });
    expect(link.status).toBe(201);
    await new Promise((r) => setTimeout(r, 1_100));
    const [viaLink, viaKey] = await Promise.all([
      Promise.all(Array.from({ length: 20 }, async () => {
        const res = await fetch(link.body.url);
        return { status: res.status, body: res.status === 429 ? ((await res.json()) as { error: { message: string } }) : (await res.arrayBuffer(), undefined) };
      })),
      burst(owner, 3),
    ]);
    const refused = viaLink.filter((r) => r.status === 429);
    expect(viaLink.filter((r) => r.status === 200).length).toBeLessThanOrEqual(10);
    expect(refused.length).toBeGreaterThanOrEqual(10);
    expect(refused[0]!.body!.error.message).toContain('requests a second of signed links from this address');
    expect(viaKey.map((r) => r.status)).toEqual([200, 200, 200]);
  });

  it('answers 429 too_many_requests with Retry-After past N requests a second of one key, and not to other keys', async () => {
    const greedy = await limited.client('user', 'greedy');
    const other = await limited.client('user', 'other');
    // Starts right after a second boundary of the limiter's window is not guaranteed: a burst of
    // 20 at once falls into at most two windows, so 5 to 10 get through.
    const [answers, others] = await Promise.all([burst(greedy, 20), burst(other, 3)]);
    const ok = answers.filter((r) => r.status === 200);
    const refused = answers.filter((r) => r.status === 429);
    expect(ok.length + refused.length).toBe(20);
    expect(ok.length).toBeGreaterThanOrEqual(5);
    expect(ok.length).toBeLessThanOrEqual(10);
    for (const r of refused) {
      expect(r.body.error.code).toBe('too_many_requests');
      expect(r.body.error.message).toContain('5 requests a second');
      const retryAfter = Number(r.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(1);
    }
    expect(others.map((r) => r.status)).toEqual([200, 200, 200]);

    // After Retry-After the key is served again.
    await new Promise((r) => setTimeout(r, 1_100));
    expect((await greedy.json('GET', '/v1/images')).status).toBe(200);
  });

  it('is off by default', async () => {
    const client = await unlimited.client('user', 'calm');
    const answers = await burst(client, 50);
    expect(answers.every((r) => r.status === 200)).toBe(true);
  });
});
