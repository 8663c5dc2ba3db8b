import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';

let t: TestServer;

beforeAll(async () => {
  t = await startTestServer({ config: { maxUploadBytes: '5GiB' } });
});
afterAll(() => t.close());

describe('GET /v1/me', () => {
  it('tells any valid key who it is and the upload limits', async () => {
    const business = await t.client('business', 'acme');
    const res = await business.json('GET', '/v1/me');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ customer: 'acme', role: 'business', limits: { maxUploadBytes: 5 * 1024 ** 3, maxInputPixels: 1_000_000_000 } });
    // The output caps, so a client can check a variant before asking for it.
    expect(res.body.limits.output).toEqual({ maxSide: 8192, maxVariants: 10, maxPixels: { webp: 16_000_000, avif: 12_000_000, jpeg: 40_000_000, png: 40_000_000 } });
    expect(res.body.keyId).toMatch(/^key_/);
    expect(JSON.stringify(res.body)).not.toContain(business.key);
  });

  it('answers 401 for an unknown or revoked key', async () => {
    const user = await t.client('user', 'acme');
    const keys = await t.admin.json('GET', '/v1/keys');
    const id = keys.body.items.find((k: any) => k.role === 'user').id;
    expect((await t.admin.json('DELETE', `/v1/keys/${id}`)).status).toBe(204);
    expect((await user.json('GET', '/v1/me')).status).toBe(401);
    const res = await fetch(`${t.url}/v1/me`, { headers: { authorization: 'Bearer drk_nope' } });
    expect(res.status).toBe(401);
  });
});
