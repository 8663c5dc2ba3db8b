import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { solid } from '../helpers/images.js';
import { ApiClient, startTestServer, type TestServer } from '../helpers/server.js';

let t: TestServer;
let alice: ApiClient; // user, customer "alice-co"
let bob: ApiClient; // user, customer "bob-co"
let business: ApiClient;
let aliceImage: string;

beforeAll(async () => {
  t = await startTestServer();
  alice = await t.client('user', 'alice-co');
  bob = await t.client('user', 'bob-co');
  business = await t.client('business', 'bi-team');
  const res = await alice.upload([{ name: 'a.png', data: await solid(32, 32, 'png') }]);
  aliceImage = res.body.id;
  await alice.waitFor(aliceImage);
});
afterAll(() => t.close());

interface Endpoint {
  method: string;
  path: () => string;
  body?: () => Promise<RequestInit['body']>;
  /** A role that is refused here. */
  forbidden: ApiClient[] | (() => ApiClient[]);
  /** Whether it addresses one image (and so answers 404 across customers). */
  perImage?: boolean;
}

const png = async () => {
  const form = new FormData();
  form.append('image', new Blob([await solid(8, 8, 'png')]), 'x.png');
  return form;
};

const endpoints = (): Endpoint[] => [
  { method: 'POST', path: () => '/v1/image', body: png, forbidden: [business] },
  { method: 'GET', path: () => '/v1/images', forbidden: [business] },
  { method: 'GET', path: () => `/v1/image/${aliceImage}`, forbidden: [business], perImage: true },
  { method: 'GET', path: () => `/v1/image/${aliceImage}/download?variant=display`, forbidden: [business], perImage: true },
  { method: 'GET', path: () => `/v1/image/${aliceImage}/download?variant=original`, forbidden: [business], perImage: true },
  { method: 'GET', path: () => `/v1/image/${aliceImage}/metadata`, forbidden: [business], perImage: true },
  { method: 'GET', path: () => `/v1/image/metadata/${aliceImage}`, forbidden: [business], perImage: true },
  { method: 'POST', path: () => `/v1/image/${aliceImage}/reprocess`, forbidden: [business], perImage: true },
  { method: 'DELETE', path: () => `/v1/image/${aliceImage}`, forbidden: [business], perImage: true },
  { method: 'POST', path: () => '/v1/keys', forbidden: [alice, business] },
  { method: 'GET', path: () => '/v1/keys', forbidden: [alice, business] },
  { method: 'DELETE', path: () => '/v1/keys/key_doesnotmatter', forbidden: [alice, business] },
];

async function call(client: ApiClient, e: Endpoint) {
  const res = await client.request(e.method, e.path(), { body: e.body ? await e.body() : undefined });
  const body: any = await res.json().catch(() => undefined);
  return { status: res.status, body };
}

describe('auth and tenancy on every /v1 endpoint', () => {
  it('answers 401 without a key and with an unknown key', async () => {
    for (const e of endpoints()) {
      const none = await call(new ApiClient(t.url, undefined), e);
      expect(none.status, `${e.method} ${e.path()}`).toBe(401);
      expect(none.body.error.code).toBe('unauthorized');
      const unknown = await call(new ApiClient(t.url, 'drk_not_a_real_key_at_all_0000000000'), e);
      expect(unknown.status, `${e.method} ${e.path()}`).toBe(401);
    }
  });

  it('accepts X-Api-Key as well as Authorization: Bearer', async () => {
    const res = await fetch(`${t.url}/v1/images`, { headers: { 'x-api-key': alice.key! } });
    expect(res.status).toBe(200);
  });

  it('answers 403 to a known key whose role does not allow the endpoint', async () => {
    for (const e of endpoints()) {
      for (const client of e.forbidden as ApiClient[]) {
        const res = await call(client, e);
        expect(res.status, `${e.method} ${e.path()}`).toBe(403);
        expect(res.body.error.code).toBe('forbidden');
      }
    }
  });

  it("answers 404 for another customer's image, exactly like a missing one", async () => {
    const missing = '01a21560-a802-75bd-a11f-da5825b684fe';
    for (const e of endpoints().filter((x) => x.perImage)) {
      const res = await call(bob, e);
      expect(res.status, `${e.method} ${e.path()}`).toBe(404);
      expect(res.body.error.code).toBe('not_found');
      const other = await call(bob, { ...e, path: () => e.path().replace(aliceImage, missing) });
      expect(other.status).toBe(404);
      expect(Object.keys(other.body.error)).toEqual(Object.keys(res.body.error));
    }
    // Bob's list does not show Alice's image; Alice's does.
    expect((await bob.json('GET', '/v1/images')).body.items).toEqual([]);
    expect((await alice.json('GET', '/v1/images')).body.items.map((i: any) => i.id)).toContain(aliceImage);
    // And the image is still there after Bob's attempts to delete and reprocess it.
    expect((await alice.waitFor(aliceImage)).status).toBe('done');
  });

  it('lets an admin see every customer, and filter by one', async () => {
    const all = await t.admin.json('GET', '/v1/images?limit=500');
    expect(all.body.items.map((i: any) => i.customer)).toContain('alice-co');
    expect((await t.admin.json('GET', `/v1/image/${aliceImage}`)).status).toBe(200);
    const bobs = await t.admin.json('GET', '/v1/images?customer=bob-co');
    expect(bobs.body.items).toEqual([]);
  });

  it('creates, lists and revokes keys; a revoked key stops working at once; the secret is shown only once', async () => {
    const created = await t.admin.json('POST', '/v1/keys', { customer: 'carol-co', role: 'user', name: 'carol laptop' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ customer: 'carol-co', role: 'user', name: 'carol laptop' });
    expect(created.body.key).toMatch(/^drk_[A-Za-z0-9_-]{43}$/);
    const carol = new ApiClient(t.url, created.body.key);
    expect((await carol.json('GET', '/v1/images')).status).toBe(200);

    const list = await t.admin.json('GET', '/v1/keys');
    const entry = list.body.items.find((k: any) => k.id === created.body.id);
    expect(entry).toMatchObject({ customer: 'carol-co', role: 'user' });
    expect(JSON.stringify(list.body)).not.toContain(created.body.key);
    // Stored hashed: the plain key is nowhere in the database.
    const rows = t.server.parts.db.prepare('SELECT * FROM api_keys').all();
    expect(JSON.stringify(rows)).not.toContain(created.body.key);

    expect((await t.admin.json('DELETE', `/v1/keys/${created.body.id}`)).status).toBe(204);
    expect((await carol.json('GET', '/v1/images')).status).toBe(401);
    expect((await t.admin.json('DELETE', `/v1/keys/${created.body.id}`)).status).toBe(404);
  });

  it('validates new keys with 400s', async () => {
    for (const body of [{}, { customer: 'x', role: 'root' }, { customer: '../etc', role: 'user' }, { customer: '', role: 'user' }]) {
      const res = await t.admin.json('POST', '/v1/keys', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe('invalid_request');
    }
    const bad = await t.admin.request('POST', '/v1/keys', { body: '{oops', headers: { 'content-type': 'application/json' } });
    expect(bad.status).toBe(400);
  });

  it('answers 404 for an unknown /v1 endpoint with a key, 401 without', async () => {
    expect((await alice.json('GET', '/v1/nothing-here')).status).toBe(404);
    expect((await new ApiClient(t.url, undefined).json('GET', '/v1/nothing-here')).status).toBe(401);
  });
});
