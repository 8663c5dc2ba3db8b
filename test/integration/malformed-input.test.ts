import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CATALOGUE } from '../../server/errors.js';
import { listRoutes } from '../helpers/routes.js';
import { solid } from '../helpers/images.js';
import { startTestServer, tempDir, type ApiClient, type TestServer } from '../helpers/server.js';
import { TusClient } from '../helpers/tus.js';

/**
 * Malformed input to every route of the API (CONTRACT §3, issue "Hardening"): bad ids, bad
 * JSON, wrong types, huge numbers, unknown parameters, overlong strings. Each must get a 4xx
 * whose code is in the catalogue and whose status is that code's, never a 5xx, and the server
 * must keep serving. The table must name every route the app has: a new route without cases
 * fails here.
 */

interface Probe {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

let t: TestServer;
let user: ApiClient;
let imageId: string;
let uploadLocation: string;
let watchId: string;
let webhookId: string;
let scratch: string;

beforeAll(async () => {
  t = await startTestServer();
  user = await t.client('user', 'probe');
  const uploaded = await user.uploadRaw(await solid(20, 20, 'png'), 'probe.png', 'image/png');
  imageId = uploaded.body.id;
  await user.waitFor(imageId);
  uploadLocation = (await new TusClient(user).create(1000, { filename: 'half.png' })).location!;
  scratch = tempDir('darkroom-malformed-');
  watchId = (await t.admin.json('POST', '/v1/watch', { path: scratch })).body.id;
  // A public address given as a literal: registered without a DNS lookup, and never called (no event is sent to it).
  webhookId = (await t.admin.json('POST', '/v1/webhooks', { url: 'https://93.184.215.14/hook', events: ['image.processed'] })).body.id;
});
afterAll(async () => {
  await t.close();
  fs.rmSync(scratch, { recursive: true, force: true });
});

const LONG = 'x'.repeat(8 * 1024);
const JSON_TYPE = { 'content-type': 'application/json' };
const TUS = { 'tus-resumable': '1.0.0' };

/** Ids no route may choke on: traversal, overlong, NUL, broken percent-encoding, numbers, emoji. */
const BAD_IDS = ['..%2F..%2Fetc%2Fpasswd', 'x'.repeat(2000), '%00', '%E0%A4%A', '-1', '1e309', '%F0%9F%98%80', '%20', 'null', '0'.repeat(32)];

/** JSON bodies no route taking JSON may choke on. */
const BAD_JSON_BODIES = ['{', '[]', '"text"', 'null', '1e309', '{"a":' + '['.repeat(5000), JSON.stringify({ nested: { deep: LONG } })];

const get = (p: string): Probe => ({ method: 'GET', path: p });
const json = (method: string, p: string, body: unknown): Probe => ({ method, path: p, headers: JSON_TYPE, body: typeof body === 'string' ? body : JSON.stringify(body) });
const withIds = (make: (id: string) => Probe) => BAD_IDS.map(make);
const jsonJunk = (method: string, p: string) => [
  ...BAD_JSON_BODIES.map((body) => json(method, p, body)),
  { method, path: p, headers: { 'content-type': 'application/json; charset=utf-7' }, body: '{}' },
  { method, path: p, headers: JSON_TYPE, body: `{"pad":"${'x'.repeat(1_100_000)}"}` },
];
const variantsJunk = [
  '{',
  '[]',
  '"display"',
  '[{"name":"a","width":1e309}]',
  '[{"name":"a","width":-5}]',
  '[{"name":"a","width":"wide"}]',
  '[{"name":"a","format":"bmp"}]',
  '[{"name":"A B"}]',
  `[{"name":"${LONG}"}]`,
  JSON.stringify(Array.from({ length: 11 }, (_, i) => ({ name: `v${i}` }))),
  '[{"name":"a","width":100,"unknown":1}]',
  '[{"name":"a"},{"name":"a"}]',
];

/** Per route ("METHOD /path" as express names it), the malformed requests it gets. */
function table(): Record<string, Probe[]> {
  const id = imageId;
  return {
    'POST /v1/image': [
      ...variantsJunk.map((v) => ({ method: 'POST', path: `/v1/image?variants=${encodeURIComponent(v)}`, headers: { 'content-type': 'image/png' }, body: 'x' })),
      { method: 'POST', path: '/v1/image', headers: { 'content-type': 'image/png' }, body: 'plain text, not pixels' },
      { method: 'POST', path: '/v1/image', headers: { 'content-type': 'image/png' }, body: '' },
      { method: 'POST', path: '/v1/image', headers: { 'content-type': 'multipart/form-data; boundary=' }, body: 'junk' },
      { method: 'POST', path: '/v1/image', headers: { 'content-type': 'multipart/form-data; boundary=b' }, body: '--b\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n\r\nnot an image\r\n--b--\r\n' },
      { method: 'POST', path: '/v1/image', headers: { 'content-type': 'multipart/form-data; boundary=b' }, body: '--b\r\nContent-Disposition: form-data; name="other"; filename="a.png"\r\n\r\nx\r\n--b--\r\n' },
      { method: 'POST', path: '/v1/image', headers: { 'content-type': 'multipart/form-data; boundary=b' }, body: '--b\r\nContent-Disposition: form-data; name="variants"\r\n\r\n{\r\n--b--\r\n' },
      { method: 'POST', path: '/v1/image', headers: { 'content-type': 'image/png', 'x-filename': '%E0%A4%A' }, body: 'x' },
    ],
    'PUT /v1/image': [{ method: 'PUT', path: '/v1/image?variants=%7B', headers: { 'content-type': 'image/png' }, body: 'x' }],
    'GET /v1/images': ['limit=-1', 'limit=0', 'limit=1e309', 'limit=abc', 'limit=1&limit=2', 'status=bogus', 'cursor=garbage', `cursor=${LONG}`, `customer=${LONG}`, 'status[]=done'].map((q) => get(`/v1/images?${q}`)),
    'GET /v1/image/:id': withIds((bad) => get(`/v1/image/${bad}`)),
    'DELETE /v1/image/:id': withIds((bad) => ({ method: 'DELETE', path: `/v1/image/${bad}` })),
    'GET /v1/image/:id/metadata': withIds((bad) => get(`/v1/image/${bad}/metadata`)),
    'GET /v1/image/metadata/:id': withIds((bad) => get(`/v1/image/metadata/${bad}`)),
    'POST /v1/image/:id/reprocess': withIds((bad) => ({ method: 'POST', path: `/v1/image/${bad}/reprocess` })),
    'GET /v1/image/:id/download': [
      ...withIds((bad) => get(`/v1/image/${bad}/download`)),
      ...['variant=', `variant=${LONG}`, 'variant=..%2F..%2Foriginals', 'variant=nope', 'variant[]=display', 'variant=display&variant=thumb'].map((q) => get(`/v1/image/${id}/download?${q}`)),
      { method: 'GET', path: `/v1/image/${id}/download?variant=original`, headers: { range: 'bytes=999999999-' } },
    ],
    'POST /v1/image/import': [
      ...jsonJunk('POST', '/v1/image/import'),
      ...[{ paths: [] }, { paths: [''] }, { paths: [123] }, { paths: ['relative/x.png'] }, { paths: ['/no/such/file.png'] }, { paths: ['/etc/passwd'] }, { paths: ['/dev/zero'] }, { paths: [`/${LONG}`] }, { paths: ['/tmp/a.png'], extra: 1 }, { paths: ['/tmp/a.png'], variants: '{' }, { paths: Array(101).fill('/tmp/a.png') }, { paths: '/tmp/a.png' }].map((b) => json('POST', '/v1/image/import', b)),
    ],
    'POST /v1/keys': [
      ...jsonJunk('POST', '/v1/keys'),
      ...[{}, { customer: '', role: 'user' }, { customer: 'a', role: 'root' }, { customer: 123, role: 'user' }, { customer: LONG, role: 'user' }, { customer: 'a', role: 'user', name: LONG }, { customer: 'a', role: 'user', admin: true }, { customer: '../a', role: 'user' }].map((b) => json('POST', '/v1/keys', b)),
    ],
    'GET /v1/keys': [get('/v1/keys?page=2')],
    'DELETE /v1/keys/:id': withIds((bad) => ({ method: 'DELETE', path: `/v1/keys/${bad}` })),
    'GET /v1/me': [get('/v1/me?verbose=1')],
    'GET /v1/openapi.json': [get('/v1/openapi.json?x=1')],
    'GET /v1/events': [get('/v1/events?since=0')],
    'GET /v1/stats': ['from=2026-13-45', 'to=yesterday', 'from=2026-03-10&to=2026-03-01', 'groupBy=bogus', 'from=1000-01-01&to=2026-01-01', `groupBy=${LONG}`, 'bogus=1', 'from[]=2026-01-01'].map((q) => get(`/v1/stats?${q}`)),
    'GET /v1/stats.csv': ['from=2026-02-30', 'groupBy=customer,nope', 'extra=1'].map((q) => get(`/v1/stats.csv?${q}`)),
    'GET /v1/watch': [get('/v1/watch?x=1')],
    'GET /v1/watch/:id': withIds((bad) => get(`/v1/watch/${bad}`)),
    'POST /v1/watch': [
      ...jsonJunk('POST', '/v1/watch'),
      ...[{}, { path: 5 }, { path: '' }, { path: '/etc' }, { path: '/tmp', poll: 'yes' }, { path: '/tmp', extra: 1 }, { path: `/${LONG}` }].map((b) => json('POST', '/v1/watch', b)),
    ],
    'DELETE /v1/watch/:id': [...withIds((bad) => ({ method: 'DELETE', path: `/v1/watch/${bad}` })), { method: 'DELETE', path: `/v1/watch/${watchId}?force=1` }],
    'GET /v1/sync': [get('/v1/sync?x=1')],
    'POST /v1/sync/retry': [{ method: 'POST', path: '/v1/sync/retry?all=1' }],
    'GET /v1/nodes': [get('/v1/nodes?x=1')],
    'OPTIONS /v1/uploads': [{ method: 'OPTIONS', path: '/v1/uploads?x=1' }],
    'OPTIONS /v1/uploads/:id': [{ method: 'OPTIONS', path: `${uploadLocation}?x=1` }],
    'POST /v1/uploads': [
      ...['-1', 'abc', '1e309', '99999999999999999999', '', '1.5'].map((length) => ({ method: 'POST', path: '/v1/uploads', headers: { ...TUS, 'upload-length': length } })),
      { method: 'POST', path: '/v1/uploads', headers: { ...TUS, 'upload-length': '10', 'upload-metadata': 'filename !!!notbase64,,, ,' } },
      { method: 'POST', path: '/v1/uploads', headers: { ...TUS, 'upload-length': '10', 'upload-metadata': `variants ${Buffer.from('{').toString('base64')}` } },
      { method: 'POST', path: '/v1/uploads', headers: { ...TUS, 'upload-length': '10', 'upload-metadata': `variants ${Buffer.from(`[{"name":"${LONG}"}]`).toString('base64')}` } },
      { method: 'POST', path: '/v1/uploads', headers: { 'upload-length': '10' } },
    ],
    'HEAD /v1/uploads/:id': withIds((bad) => ({ method: 'HEAD', path: `/v1/uploads/${bad}`, headers: TUS })),
    'PATCH /v1/uploads/:id': [
      ...withIds((bad) => ({ method: 'PATCH', path: `/v1/uploads/${bad}`, headers: { ...TUS, 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' }, body: 'x' })),
      ...['-1', 'abc', '1e309', '99999999999999999999', '5000'].map((offset) => ({ method: 'PATCH', path: uploadLocation, headers: { ...TUS, 'upload-offset': offset, 'content-type': 'application/offset+octet-stream' }, body: 'x' })),
      { method: 'PATCH', path: uploadLocation, headers: { ...TUS, 'upload-offset': '0', 'content-type': 'text/plain' }, body: 'x' },
      { method: 'PATCH', path: uploadLocation, headers: { ...TUS, 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' }, body: 'not an image at all, just words; '.repeat(200) },
    ],
    'DELETE /v1/uploads/:id': withIds((bad) => ({ method: 'DELETE', path: `/v1/uploads/${bad}`, headers: TUS })),
    'POST /v1/webhooks': [
      ...jsonJunk('POST', '/v1/webhooks'),
      ...[
        {},
        { url: 'https://93.184.215.14/a' },
        { url: 'ftp://93.184.215.14/a', events: ['*'] },
        { url: 'https://93.184.215.14/a', events: [] },
        { url: 'https://93.184.215.14/a', events: ['image.bogus'] },
        { url: 'https://93.184.215.14/a', events: 'image.processed' },
        { url: `https://93.184.215.14/${LONG}`, events: ['*'] },
        { url: 'https://93.184.215.14/a', events: ['*'], description: LONG },
        { url: 'https://93.184.215.14/a', events: ['*'], secret: 'whsec_mine' },
        { url: 'https://127.0.0.1/a', events: ['*'] },
        { url: 'https://user:pass@93.184.215.14/a', events: ['*'] },
        { url: 'not a url', events: ['*'] },
      ].map((b) => json('POST', '/v1/webhooks', b)),
    ],
    'GET /v1/webhooks': [get('/v1/webhooks?page=2')],
    'GET /v1/webhooks/:id': withIds((bad) => get(`/v1/webhooks/${bad}`)),
    'PATCH /v1/webhooks/:id': [
      ...withIds((bad) => json('PATCH', `/v1/webhooks/${bad}`, { enabled: false })),
      // An empty object is a patch that changes nothing (200), not malformed.
      ...jsonJunk('PATCH', `/v1/webhooks/${webhookId}`).filter((probe) => probe.body !== '{}'),
      ...[{ enabled: 'no' }, { url: 'gopher://93.184.215.14/' }, { events: [] }, { events: ['nope'] }, { secret: 'whsec_x' }, { url: 'https://10.0.0.1/' }].map((b) => json('PATCH', `/v1/webhooks/${webhookId}`, b)),
    ],
    'DELETE /v1/webhooks/:id': withIds((bad) => ({ method: 'DELETE', path: `/v1/webhooks/${bad}` })),
    'POST /v1/webhooks/:id/test': withIds((bad) => ({ method: 'POST', path: `/v1/webhooks/${bad}/test` })),
    'POST /v1/webhooks/:id/rotate-secret': withIds((bad) => ({ method: 'POST', path: `/v1/webhooks/${bad}/rotate-secret` })),
    'GET /v1/webhooks/:id/deliveries': [
      ...withIds((bad) => get(`/v1/webhooks/${bad}/deliveries`)),
      ...['limit=0', 'limit=-1', 'limit=1e309', 'limit=abc', 'limit=501', 'cursor=garbage', `cursor=${LONG}`, 'limit[]=1'].map((q) => get(`/v1/webhooks/${webhookId}/deliveries?${q}`)),
    ],
    'POST /v1/webhooks/:id/deliveries/:deliveryId/retry': [
      ...withIds((bad) => ({ method: 'POST', path: `/v1/webhooks/${bad}/deliveries/1/retry` })),
      ...withIds((bad) => ({ method: 'POST', path: `/v1/webhooks/${webhookId}/deliveries/${bad}/retry` })),
    ],
    'GET /v1/image/:id/render': [
      ...withIds((bad) => get(`/v1/image/${bad}/render?w=10`)),
      ...[
        'w=0', 'w=8193', 'w=abc', 'w=1e309', 'w=-1', 'h=0.5', 'w=1&w=2', 'w[]=10', 'fit=bogus', 'position=entropy', 'fit=inside&position=attention',
        'format=bmp', 'format=', 'q=0', 'q=101', 'dpr=0', 'dpr=5', 'dpr=abc', 'w=8192&h=8192&fit=fill', 'w=4096&h=4096&dpr=4&fit=fill', 'preset=NOPE', `preset=${LONG}`, 'preset=nope',
        // A signed link's parameters, forged or broken: never a key's worth of access.
        'w=10&sig=garbage', 'w=10&expires=abc&sig=AAAA', `w=10&expires=1e309&sig=${'A'.repeat(43)}`, `w=10&sig=${LONG}`,
      ].map((q): Probe => ({ ...get(`/v1/image/${id}/render?${q}`), headers: q.includes('sig=') ? { authorization: '' } : {} })),
    ],
    'POST /v1/image/:id/links': [
      ...withIds((bad) => json('POST', `/v1/image/${bad}/links`, {})),
      // (`{}` is a link to the image as it is: valid.)
      ...jsonJunk('POST', `/v1/image/${id}/links`).filter((probe) => probe.body !== '{}'),
      ...[
        { expiresIn: '400d' }, { expiresIn: 'soon' }, { expiresIn: 5 }, { expiresIn: '0s' }, { preset: 'nope' }, { preset: 'NOPE' },
        { params: { w: 0 } }, { params: { unknown: 1 } }, { params: 'w=10' }, { params: { w: 8192, h: 8192, fit: 'fill' } }, { params: { sig: 'x' } }, { other: 1 },
      ].map((b) => json('POST', `/v1/image/${id}/links`, b)),
    ],
    'GET /v1/presets': [get('/v1/presets?page=2')],
    'PUT /v1/presets/:name': [
      ...['A', 'a b', LONG, '..%2F..%2Fx', '%00', '%E0%A4%A', 'x'.repeat(41)].map((bad) => json('PUT', `/v1/presets/${bad}`, { w: 100 })),
      // (`{}` is a preset that changes nothing: valid.)
      ...jsonJunk('PUT', '/v1/presets/card').filter((probe) => probe.body !== '{}'),
      ...[{ w: 0 }, { w: 'wide' }, { fit: 'x' }, { format: 'bmp' }, { w: 8192, h: 8192, fit: 'fill' }, { unknown: 1 }, { q: 101 }, { position: 'entropy' }, []].map((b) => json('PUT', '/v1/presets/card', b)),
    ],
    'DELETE /v1/presets/:name': [...['A', LONG, '..%2F..%2Fx', '%00', '%E0%A4%A'].map((bad) => ({ method: 'DELETE', path: `/v1/presets/${bad}` })), { method: 'DELETE', path: '/v1/presets/nope' }],
  };
}

/** Routes outside the API: health and metrics for load balancers and Prometheus ignore query strings. */
const OPERATIONS = ['GET /healthz', 'GET /readyz', 'GET /metrics'];

async function send(probe: Probe) {
  const res = await fetch(t.url + probe.path, {
    method: probe.method,
    headers: { ...t.admin.headers(), ...probe.headers },
    body: probe.body,
  });
  const text = await res.text();
  return { status: res.status, text, headers: res.headers };
}

describe('malformed input to every route', () => {
  it('has cases for every route the app answers', () => {
    const covered = new Set([...Object.keys(table()), ...OPERATIONS]);
    expect(listRoutes(t.server.parts.app).filter((route) => !covered.has(route))).toEqual([]);
  });

  it('answers every malformed request with a 4xx of the catalogue, never a 5xx, and keeps serving', async () => {
    const failures: string[] = [];
    const routes = table();
    for (const [route, probes] of Object.entries(routes)) {
      // Every route also gets an unknown and an overlong query parameter.
      const base = probes[0]!.path.split('?')[0]!;
      const all = [...probes, { ...probes[0]!, path: `${base}?unknown=1` }, { ...probes[0]!, path: `${base}?${LONG}=${LONG}` }];
      for (const probe of all) {
        const res = await send(probe);
        const where = `${route}: ${probe.method} ${probe.path.slice(0, 120)} ${probe.body ? String(probe.body).slice(0, 60) : ''}`;
        if (res.status < 400 || res.status >= 500) {
          failures.push(`${where} → ${res.status} ${res.text.slice(0, 200)}`);
          continue;
        }
        if (probe.method === 'HEAD') continue; // no body to read
        let code: string | undefined;
        try {
          code = JSON.parse(res.text).error?.code;
        } catch {
          // not JSON: reported below
        }
        const entry = code ? ERROR_CATALOGUE[code as keyof typeof ERROR_CATALOGUE] : undefined;
        if (!entry || entry.status !== res.status) failures.push(`${where} → ${res.status} with body ${res.text.slice(0, 200)}`);
        // Described as what it is: JSON, not to be kept, without what the route had prepared
        // for a file (a download's type, ETag, year-long caching).
        const headers = `${res.headers.get('content-type')} | ${res.headers.get('cache-control')} | ${res.headers.get('etag')}`;
        if (headers !== 'application/json; charset=utf-8 | no-store | null') failures.push(`${where} → headers ${headers}`);
        if ((code === 'unavailable' || code === 'too_many_requests') && !res.headers.get('retry-after')) failures.push(`${where} → ${code} without Retry-After`);
      }
    }
    expect(failures).toEqual([]);

    // Still serving, and nothing it answered in the meantime was a 5xx.
    expect((await fetch(`${t.url}/healthz`)).status).toBe(200);
    expect((await user.json('GET', `/v1/image/${imageId}`)).body.status).toBe('done');
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    expect(metrics).not.toMatch(/darkroom_http_request_seconds_count\{[^}]*status="5xx"/);
    // Nothing half-written was left by the refused uploads.
    expect(fs.readdirSync(path.join(t.dataDir, 'tmp'))).toEqual([]);
  });

  it('answers an Expect it does not know with 417 in the same form (fetch cannot send one: node:http)', async () => {
    const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(`${t.url}/v1/image`, { method: 'POST', headers: { ...user.headers(), expect: 'the-moon', 'content-type': 'image/png', 'content-length': '1' } }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode!, body: text }));
      });
      req.on('error', reject);
      req.end('x');
    });
    expect([status, JSON.parse(body).error.code]).toEqual([417, 'expectation_failed']);
  });

  it('answers the operations routes whatever their query string says', async () => {
    for (const route of OPERATIONS) {
      const res = await fetch(`${t.url}${route.split(' ')[1]}?${LONG}=1&%E0%A4%A`);
      expect(res.status).toBe(200);
    }
  });
});
