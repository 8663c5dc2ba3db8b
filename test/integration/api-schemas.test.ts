import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import express from 'express';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import {
  CreatedKey,
  ErrorBody,
  Health,
  ImageMetadata,
  ImagePage,
  ImageRecord,
  ImageStatusEvent,
  KeyList,
  Me,
  Readiness,
  StatsReport,
  SyncRetryResponse,
  NodeList,
  Preset,
  PresetList,
  SignedLink,
  SyncStatus,
  UploadResponse,
  WatchFolder,
  WatchFolderList,
} from '../../server/api/index.js';
import { answer } from '../../server/http/answer.js';
import { errorHandler } from '../../server/http/middleware/errors.js';
import { openTestSqlite } from '../helpers/database.js';
import { eventually } from '../helpers/eventually.js';
import { fixture, jpegWithExif } from '../helpers/images.js';
import { startS3rver, type S3rver } from '../helpers/s3rver.js';
import { startTestServer, tempDirs, type ApiClient, type TestServer } from '../helpers/server.js';
import { openSse } from '../helpers/sse.js';

/**
 * Every main route's answer, from a real server, parses with its schema in server/api/. The
 * response schemas are strict: a field the server sends and the schema lacks fails here, as a
 * field the schema has and the server leaves out does.
 */
function expectShape<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const result = schema.safeParse(body);
  expect(result.success ? [] : result.error.issues, JSON.stringify(body).slice(0, 2000)).toEqual([]);
  return result.data as z.output<S>;
}

const dir = tempDirs('darkroom-api-schemas-');
let t: TestServer;
let user: ApiClient;

beforeAll(async () => {
  t = await startTestServer({ config: { watch: [dir()] } });
  user = await t.client('user', 'acme');
});
afterAll(() => t?.close());

describe('answers match the API schemas', () => {
  it('images: upload (one and several), record, list, metadata, reprocess, and the status events', async () => {
    const events = await openSse(`${t.url}/v1/events`, user.headers());
    try {
      const one = await user.upload([{ name: 'exif.jpg', data: await jpegWithExif(), type: 'image/jpeg' }]);
      expect(one.status).toBe(202);
      const record = expectShape(UploadResponse, one.body) as ImageRecord;
      expect(Array.isArray(one.body)).toBe(false);

      const several = await user.upload([
        { name: 'a.jpg', data: fixture('ipx-bliss.jpg') },
        { name: 'b.jpg', data: await jpegWithExif() },
      ]);
      expect(several.status).toBe(202);
      expect(expectShape(UploadResponse, several.body)).toHaveLength(2);

      await user.waitFor(record.id);
      const done = expectShape(ImageRecord, (await user.json('GET', `/v1/image/${record.id}`)).body);
      expect(done.variants.map((v) => [v.name, v.status])).toEqual([
        ['thumb', 'done'],
        ['display', 'done'],
      ]);

      const status = await events.waitFor((e) => e.event === 'image.status' && JSON.parse(e.data).status === 'done');
      expectShape(ImageStatusEvent, JSON.parse(status.data));

      const page = expectShape(ImagePage, (await user.json('GET', '/v1/images?limit=2')).body);
      expect(page.items).toHaveLength(2);
      expect(page.nextCursor).not.toBeNull();

      const metadata = await eventually(async () => {
        const res = await user.json('GET', `/v1/image/metadata/${record.id}`);
        return res.body.extracted ? res.body : undefined;
      });
      expect(expectShape(ImageMetadata, metadata).exif).not.toBeNull();

      const reprocessed = await user.json('POST', `/v1/image/${record.id}/reprocess`);
      expect(reprocessed.status).toBe(202);
      expectShape(ImageRecord, reprocessed.body);
    } finally {
      events.close();
    }
  });

  it('import by path answers like an upload', async () => {
    const file = path.join(dir(), 'imported.jpg');
    fs.writeFileSync(file, fixture('ipx-bliss.jpg'));
    const res = await t.admin.json('POST', '/v1/image/import', { paths: [file] });
    expect(res.status).toBe(202);
    expectShape(UploadResponse, res.body);
  });

  it('presets and signed links', async () => {
    const put = await t.admin.json('PUT', '/v1/presets/schema-card', { w: 300, h: 200, fit: 'cover', format: 'webp', q: 70 });
    expect(put.status).toBe(200);
    expectShape(Preset, put.body);
    expect(expectShape(PresetList, (await t.admin.json('GET', '/v1/presets')).body).items.map((p) => p.name)).toContain('schema-card');
    const upload = await user.upload([{ name: 'l.jpg', data: fixture('imaginary-medium.jpg'), type: 'image/jpeg' }]);
    const link = await user.json('POST', `/v1/image/${upload.body.id}/links`, { preset: 'schema-card' });
    expect(link.status).toBe(201);
    expectShape(SignedLink, link.body);
  });

  it('session, keys, statistics, sync, watch folders, health and readiness', async () => {
    const me = expectShape(Me, (await user.json('GET', '/v1/me')).body);
    expect(me).toMatchObject({ customer: 'acme', role: 'user' });

    const created = await t.admin.json('POST', '/v1/keys', { customer: 'beta', role: 'business', name: 'reports' });
    expect(created.status).toBe(201);
    const key = expectShape(CreatedKey, created.body);
    const keys = expectShape(KeyList, (await t.admin.json('GET', '/v1/keys')).body);
    expect(keys.items.map((k) => k.id)).toContain(key.id);

    const stats = expectShape(StatsReport, (await t.admin.json('GET', '/v1/stats?groupBy=customer,format,day')).body);
    expect(stats.groups.length).toBeGreaterThan(0);
    expect(stats.totals.uploaded).toBeGreaterThan(0);

    expect(expectShape(SyncStatus, (await t.admin.json('GET', '/v1/sync')).body)).toEqual({ enabled: false });
    expectShape(SyncRetryResponse, (await t.admin.json('POST', '/v1/sync/retry')).body);
    expect(expectShape(NodeList, (await t.admin.json('GET', '/v1/nodes')).body).items).toHaveLength(1);

    const folders = expectShape(WatchFolderList, (await t.admin.json('GET', '/v1/watch')).body);
    expect(folders.items).toHaveLength(1);
    expectShape(WatchFolder, (await t.admin.json('GET', `/v1/watch/${folders.items[0]!.id}`)).body);

    expectShape(Health, (await user.json('GET', '/healthz')).body);
    expectShape(Readiness, (await user.json('GET', '/readyz')).body);
  });

  it('errors of every kind have the one error body', async () => {
    const answers = [
      await user.json('GET', '/v1/image/no-such-image'),
      await user.json('GET', '/v1/images?limit=0'),
      await user.json('GET', '/v1/keys'),
      await new (user.constructor as typeof ApiClient)(t.url, undefined).json('GET', '/v1/images'),
    ];
    expect(answers.map((a) => a.status)).toEqual([404, 400, 403, 401]);
    for (const a of answers) expectShape(ErrorBody, a.body);
  });
});

describe('the S3 sync status matches its schema with a bucket', () => {
  let s3: S3rver;
  let synced: TestServer;
  beforeAll(async () => {
    s3 = await startS3rver();
    synced = await startTestServer({ config: s3.options('schemas') });
  });
  afterAll(async () => {
    await synced?.close();
    await s3?.close();
  });

  it('GET /v1/sync', async () => {
    const upload = await synced.admin.upload([{ name: 'a.jpg', data: fixture('ipx-bliss.jpg') }]);
    await synced.admin.waitFor(upload.body.id);
    const status = expectShape(SyncStatus, (await synced.admin.json('GET', '/v1/sync')).body);
    expect(status).toMatchObject({ enabled: true, bucket: s3.bucket });
  });
});

describe('answers are checked against their schema where the app asks for it', () => {
  /** A route whose answer breaks its schema (the types are bypassed, as a database value could). */
  async function get(checkAnswers: boolean) {
    const app = express();
    app.locals.checkAnswers = checkAnswers;
    app.get('/healthz', (_req, res) => answer(res, Health, { status: 'fine' } as unknown as Health));
    app.use(errorHandler(pino({ level: 'silent' }), openTestSqlite()));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/healthz`);
      return { status: res.status, body: (await res.json()) as any };
    } finally {
      server.close();
    }
  }

  it('a test server refuses to send an answer that does not match, naming the field', async () => {
    const res = await get(true);
    expect(res.status).toBe(500);
    expect(res.body.error.message).toMatch(/^answer does not match its schema at status: /);
  });

  it('production sends it unchecked', async () => {
    expect(await get(false)).toEqual({ status: 200, body: { status: 'fine' } });
  });
});
