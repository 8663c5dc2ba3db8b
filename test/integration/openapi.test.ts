import type { AddressInfo } from 'node:net';
import express from 'express';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROUTES } from '../../server/api/index.js';
import { AppError } from '../../server/errors.js';
import { checkAnswers } from '../../server/http/openapi/check-answers.js';
import { openApiDocument } from '../../server/http/openapi/document.js';
import { errorHandler } from '../../server/http/middleware/errors.js';
import { openTestSqlite } from '../helpers/database.js';
import { listRoutes } from '../helpers/routes.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

describe('GET /v1/openapi.json', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(() => t.close());

  it('answers the document without a key, with a strong ETag, and 304 to If-None-Match', async () => {
    const res = await fetch(`${t.url}/v1/openapi.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const etag = res.headers.get('etag')!;
    expect(etag).toMatch(/^"/);
    expect(await res.text()).toBe(openApiDocument().text);

    const again = await fetch(`${t.url}/v1/openapi.json`, { headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);
    expect(again.headers.get('etag')).toBe(etag);
    expect(await again.text()).toBe('');
  });

  it('answers OPTIONS only where tus speaks it: elsewhere a 404 in the API\'s form, as the document says, not an undocumented Allow list', async () => {
    const user = await t.client('user', 'acme');
    const elsewhere = await fetch(`${t.url}/v1/images`, { method: 'OPTIONS', headers: { authorization: `Bearer ${user.key}` } });
    expect(elsewhere.status).toBe(404);
    expect(((await elsewhere.json()) as { error: { code: string } }).error.code).toBe('not_found');
    const tus = await fetch(`${t.url}/v1/uploads`, { method: 'OPTIONS', headers: { authorization: `Bearer ${user.key}` } });
    expect(tus.status).toBeLessThan(300);
    expect(tus.headers.get('tus-version')).toBe('1.0.0');
  });

  it('has every route of the app, and the app every route it has', () => {
    const inApp = listRoutes(t.server.parts.app)
      .filter((r) => / \/(v1|healthz|readyz|metrics)/.test(r))
      .map((r) => r.replace(/:(\w+)/g, '{$1}'))
      .sort();
    expect(inApp).toEqual(ROUTES.map((r) => `${r.method.toUpperCase()} ${r.path}`).sort());
  });
});

/**
 * The check itself, on an app whose routes answer what the document does not say (the faults
 * are injected as handlers; the document and the check are the real ones).
 */
describe('an answer that does not match the document', () => {
  const mismatches: string[] = [];
  let url: string;
  let close: () => void;
  beforeAll(async () => {
    const app = express();
    app.use(checkAnswers(openApiDocument(), { onMismatch: (p) => mismatches.push(p) }));
    // Every answer of the app carries one (app.ts); errors document it.
    app.use((_req, res, next) => {
      res.setHeader('X-Request-Id', 'test');
      next();
    });
    app.get('/healthz', (_req, res) => void res.json({ status: 'fine' }));
    app.get('/readyz', (_req, res) => void res.status(200).json({ status: 'ready', node: 'a', checks: { database: true } }));
    app.get('/v1/me', (_req, res) => void res.status(418).json({}));
    app.get('/v1/image/:id/download', (_req, res) => void res.type('image/webp').send(Buffer.from('RIFF')));
    app.get('/v1/events', (_req, res) => {
      res.status(200).setHeader('Content-Type', 'text/plain');
      res.setHeader('Cache-Control', 'no-cache');
      res.flushHeaders();
      res.write('data: 1\n\n');
      res.end();
    });
    app.get('/v1/images', (_req, res) => {
      // Streamed JSON: the head is gone before the body is known.
      res.status(200).setHeader('Content-Type', 'application/json');
      res.write('{"items": [], ');
      res.end('"nextCursor": 7}');
    });
    // A /v1 path the document does not have may only answer an error it documents elsewhere.
    app.get('/v1/undocumented', (_req, res) => void res.json({ ok: true }));
    app.use((req, _res, next) => next(new AppError('not_found', `no endpoint ${req.method} ${req.path}`)));
    app.use(errorHandler(pino({ level: 'silent' }), openTestSqlite()));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    close = () => server.close();
  });
  afterAll(() => close());

  const get = async (path: string) => {
    const res = await fetch(url + path);
    return { status: res.status, body: (await res.json()) as { error: { code: string; message: string } } };
  };

  it('passes through when it matches', async () => {
    const res = await fetch(`${url}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ready', node: 'a', checks: { database: true } });
  });

  it('is replaced by a 500 naming the field of a JSON body', async () => {
    const res = await get('/healthz');
    expect(res.status).toBe(500);
    expect(res.body.error.message).toMatch(/getHealth 200: body at \/status must be equal to constant/);
    expect(mismatches).toContainEqual(expect.stringMatching(/^getHealth 200/));
  });

  it('is replaced by a 500 naming a status the operation does not list', async () => {
    const res = await get('/v1/me');
    expect(res.status).toBe(500);
    expect(res.body.error.message).toMatch(/getMe: status 418 is not documented/);
  });

  it('is replaced by a 500 naming a documented header it lacks', async () => {
    const res = await get('/v1/image/x/download');
    expect(res.status).toBe(500);
    expect(res.body.error.message).toMatch(/downloadImage 200: header .+ is missing/);
  });

  it('is replaced at its head when it is a stream', async () => {
    const res = await get('/v1/events');
    expect(res.status).toBe(500);
    expect(res.body.error.message).toMatch(/streamEvents 200: Content-Type "text\/plain" is not documented/);
  });

  it('is replaced when it answers a /v1 path the document does not have, and an error passes', async () => {
    const res = await get('/v1/undocumented');
    expect(res.status).toBe(500);
    expect(res.body.error.message).toMatch(/unmatched: status 200 is not documented/);
    const missing = await get('/v1/no-such-route');
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('not_found');
  });

  it('checks a HEAD against its GET operation, headers included', async () => {
    const res = await fetch(`${url}/v1/image/x/download`, { method: 'HEAD' });
    expect(res.status).toBe(500);
    expect(mismatches).toContainEqual(expect.stringMatching(/^downloadImage 200: header .+ is missing/));
  });

  it('is cut short when its JSON body breaks the schema after the head went out', async () => {
    await expect(fetch(`${url}/v1/images`).then((r) => r.text())).rejects.toThrow();
    expect(mismatches).toContainEqual(expect.stringMatching(/^listImages 200: body at \/nextCursor/));
  });
});
