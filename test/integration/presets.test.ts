/**
 * Presets (CONTRACT §10): role admin, names [a-z0-9-]{1,40}, values judged as render parameters
 * (output caps included), one list for the installation.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type ApiClient, type TestServer } from '../helpers/server.js';

let t: TestServer;
let user: ApiClient;
let business: ApiClient;
let otherAdmin: ApiClient;

beforeAll(async () => {
  t = await startTestServer();
  user = await t.client('user', 'acme');
  business = await t.client('business', 'acme');
  otherAdmin = await t.client('admin', 'globex');
});
afterAll(async () => {
  await t?.close();
});

describe('presets', () => {
  it('are created, replaced, listed by name and deleted by an admin', async () => {
    const card = await t.admin.json('PUT', '/v1/presets/card', { w: 480, h: 320, fit: 'cover', position: 'attention', format: 'webp', q: 70 });
    expect(card.status, JSON.stringify(card.body)).toBe(200);
    expect(card.body).toMatchObject({ name: 'card', w: 480, h: 320, fit: 'cover', position: 'attention', format: 'webp', q: 70 });
    expect(card.body.createdAt).toBe(card.body.updatedAt);

    // Replacing takes the new values whole: what is left out is no longer set.
    const replaced = await t.admin.json('PUT', '/v1/presets/card', { w: 600, format: 'avif' });
    expect(replaced.status).toBe(200);
    expect(replaced.body).toEqual({ name: 'card', w: 600, format: 'avif', createdAt: card.body.createdAt, updatedAt: replaced.body.updatedAt });

    expect((await t.admin.json('PUT', '/v1/presets/a-1', {})).status).toBe(200);
    const list = await t.admin.json('GET', '/v1/presets');
    expect(list.status).toBe(200);
    expect(list.body.items.map((p: { name: string }) => p.name)).toEqual(['a-1', 'card']);

    // One list for the installation: another customer's admin sees and manages the same presets.
    expect((await otherAdmin.json('GET', '/v1/presets')).body.items.map((p: { name: string }) => p.name)).toEqual(['a-1', 'card']);
    expect((await otherAdmin.json('DELETE', '/v1/presets/a-1')).status).toBe(204);

    const gone = await t.admin.json('DELETE', '/v1/presets/a-1');
    expect(gone.status).toBe(404);
    expect(gone.body.error.code).toBe('not_found');
    expect((await t.admin.json('GET', '/v1/presets')).body.items.map((p: { name: string }) => p.name)).toEqual(['card']);
  });

  it('are for admin keys only: other roles get 403, no key 401', async () => {
    for (const client of [user, business]) {
      for (const [method, path, body] of [
        ['GET', '/v1/presets', undefined],
        ['PUT', '/v1/presets/x', { w: 10 }],
        ['DELETE', '/v1/presets/card', undefined],
      ] as const) {
        const res = await client.json(method, path, body);
        expect(res.status, `${method} ${path}`).toBe(403);
        expect(res.body.error.code).toBe('forbidden');
      }
    }
    const res = await fetch(`${t.url}/v1/presets`);
    expect(res.status).toBe(401);
    await res.body?.cancel();
  });

  it.each([
    ['/v1/presets/Card', { w: 10 }, /name: 1–40 lower-case/],
    ['/v1/presets/' + 'a'.repeat(41), { w: 10 }, /name: 1–40 lower-case/],
    ['/v1/presets/card_1', { w: 10 }, /name: 1–40 lower-case/],
    ['/v1/presets/x', { w: 0 }, /^w: /],
    ['/v1/presets/x', { w: 8193 }, /^w: at most 8192 pixels a side/],
    ['/v1/presets/x', { h: 1.5 }, /^h: /],
    ['/v1/presets/x', { w: '480' }, /^w: /],
    ['/v1/presets/x', { fit: 'stretch' }, /^fit: /],
    ['/v1/presets/x', { position: 'middle' }, /^position: /],
    ['/v1/presets/x', { position: 'entropy' }, /position: entropy .* needs fit cover/],
    ['/v1/presets/x', { format: 'gif' }, /^format: /],
    ['/v1/presets/x', { q: 101 }, /^q: /],
    ['/v1/presets/x', { dpi: 2 }, /unknown field "dpi"/],
    ['/v1/presets/x', { w: 8000, h: 8000 }, /64000000 pixels is over the limit of 40000000/],
    ['/v1/presets/x', { w: 4000, h: 4000, format: 'avif' }, /16000000 pixels is over the limit of 12000000 pixels for avif/],
  ])('refuses PUT %s %j with 400 naming the problem', async (path, body, message) => {
    const res = await t.admin.json('PUT', path, body);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_request');
    expect(res.body.error.message).toMatch(message);
    expect((await t.admin.json('GET', '/v1/presets')).body.items.map((p: { name: string }) => p.name)).not.toContain('x');
  });

  it('refuses a body that is not JSON with 400', async () => {
    const res = await t.admin.request('PUT', '/v1/presets/x', { body: '{"w":', headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('invalid_request');
  });
});
