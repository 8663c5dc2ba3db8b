import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Validator } from '@seriousme/openapi-schema-validator';
import { describe, expect, it } from 'vitest';
import { ERROR_CATALOGUE, ROUTES } from '../../server/api/index.js';
import { buildOpenApiDocument } from '../../server/http/openapi/document.js';
import { tempDirs } from '../helpers/server.js';

const tempDir = tempDirs('darkroom-openapi-');

describe('the OpenAPI document', () => {
  const { document, text, etag } = buildOpenApiDocument();

  it('is valid OpenAPI 3.1, by an independent validator', async () => {
    const validator = new Validator();
    const result = await validator.validate(JSON.parse(text));
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });

  it('is the same bytes every time it is built, so its ETag is too', () => {
    const again = buildOpenApiDocument();
    expect(again.text).toBe(text);
    expect(again.etag).toBe(etag);
    expect(etag).toMatch(/^"[A-Za-z0-9_-]{27}"$/);
  });

  it('has one operation per route of the table, with unique ids', () => {
    const operations = Object.entries(document.paths).flatMap(([p, item]) => Object.entries(item).map(([m, op]) => `${m} ${p} ${op.operationId}`));
    expect(operations.sort()).toEqual(ROUTES.map((r) => `${r.method} ${r.path} ${r.operationId}`).sort());
    expect(new Set(ROUTES.map((r) => r.operationId)).size).toBe(ROUTES.length);
  });

  it('lists every error status with the catalogue codes of that status', () => {
    const responses = (document.components as unknown as { responses: Record<string, { content: { 'application/json': { schema: { allOf: unknown[] } } } }> }).responses;
    for (const [name, response] of Object.entries(responses)) {
      const codes = name.split('.');
      const narrowed = response.content['application/json'].schema.allOf[1] as { properties: { error: { properties: { code: { enum: string[] } } } } };
      expect(narrowed.properties.error.properties.code.enum).toEqual(codes);
      expect(new Set(codes.map((c) => ERROR_CATALOGUE[c as keyof typeof ERROR_CATALOGUE].status)).size).toBe(1);
    }
    const errorCode = (document.components.schemas.ErrorBody as any).properties.error.properties.code;
    expect(errorCode.enum).toEqual(Object.keys(ERROR_CATALOGUE));
  });

  it('says which routes need a key, and how to send one', () => {
    expect(document.components).toMatchObject({
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' }, apiKey: { type: 'apiKey', in: 'header', name: 'X-Api-Key' } },
    });
    const open = Object.values(document.paths).flatMap((item) => Object.values(item)).filter((op) => (op.security as unknown[]).length === 0);
    expect(open.map((op) => op.operationId).sort()).toEqual(['getHealth', 'getMetrics', 'getOpenApiDocument', 'getReadiness']);
    expect(document.paths['/v1/images']!.get!.responses['401']).toBeDefined();
  });

  it('gives every parameter its range and default', () => {
    const params = document.paths['/v1/images']!.get!.parameters as Array<{ name: string; schema: Record<string, unknown> }>;
    expect(params.find((p) => p.name === 'limit')!.schema).toMatchObject({ type: 'integer', minimum: 1, maximum: 500, default: 50 });
    const download = document.paths['/v1/image/{id}/download']!.get!;
    expect((download.parameters as Array<{ name: string; schema: Record<string, unknown> }>).find((p) => p.name === 'variant')!.schema).toMatchObject({ default: 'display' });
    expect(Object.keys(download.responses)).toEqual(expect.arrayContaining(['200', '206', '304', '409', '410', '416']));
    expect(download.responses['206']!.headers).toHaveProperty('Content-Range');
    expect(download.responses['200']!.headers).toHaveProperty('Expires');
  });

  it('describes tus and the event stream with their headers and payloads', () => {
    const upload = document.paths['/v1/uploads/{id}']!;
    expect(Object.keys(upload).sort()).toEqual(['delete', 'head', 'options', 'patch']);
    expect(upload.patch!.responses['204']!.headers).toHaveProperty('Upload-Offset');
    const events = document.paths['/v1/events']!.get!.responses['200']!.content!['text/event-stream']!.schema as Record<string, unknown>;
    expect(events['x-event-payloads']).toEqual({ 'image.status': { $ref: '#/components/schemas/ImageStatusEvent' } });
  });

  it('describes the webhook messages as `webhooks`: each event\'s body and the Standard Webhooks headers', () => {
    const webhooks = document.webhooks as Record<string, { post: { requestBody: { content: Record<string, { schema: unknown }> }; parameters: Array<{ name: string; in: string; required: boolean }> } }>;
    expect(Object.keys(webhooks).sort()).toEqual(['image.deleted', 'image.expired', 'image.failed', 'image.processed', 'webhook.test']);
    expect(webhooks['image.processed']!.post.requestBody.content['application/json']!.schema).toEqual({ $ref: '#/components/schemas/ImageProcessedMessage' });
    expect(webhooks['image.deleted']!.post.parameters.filter((p) => p.in === 'header' && p.required).map((p) => p.name).sort()).toEqual([
      'webhook-id',
      'webhook-signature',
      'webhook-timestamp',
    ]);
    const processed = document.components.schemas.ImageProcessedMessage as { properties: Record<string, unknown> };
    expect(processed.properties.data).toEqual({ $ref: '#/components/schemas/ImageRecord' });
  });

  it('`npm run openapi` writes it to a file without starting a server', () => {
    const dir = tempDir();
    // Run from another folder, as a user would: the relative path is theirs.
    const run = spawnSync('npm', ['--prefix', path.resolve('.'), 'run', '--silent', 'openapi', '--', 'api.json'], { cwd: dir, encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    expect(fs.readFileSync(path.join(dir, 'api.json'), 'utf8')).toBe(text);
  });
});
