import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import * as api from '../../server/api/index.js';
import {
  DownloadQuery,
  ERROR_CATALOGUE,
  ErrorBody,
  IdParams,
  ImportRequest,
  ListImagesQuery,
  MAX_OUTPUT_SIDE,
  NewKeyRequest,
  NewWatchFolderRequest,
  OUTPUT_FORMATS,
  OutputFormat,
  StatsQuery,
  VariantList,
  VariantSpec,
} from '../../server/api/index.js';
import { AppError } from '../../server/errors.js';
import { parseBody, parseQuery } from '../../server/http/validate.js';

/** The 400 a client gets for this input: its code and message. */
function refusal(parse: () => unknown): { code: string; message: string } {
  try {
    parse();
  } catch (err) {
    if (err instanceof AppError) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error('accepted, but should have been refused');
}

describe('request schemas (server/api)', () => {
  it('list query: a default page size, numbers from the query string, a range, and no unknown parameters', () => {
    expect(parseQuery(ListImagesQuery, {})).toEqual({ limit: 50 });
    expect(parseQuery(ListImagesQuery, { limit: '500', status: 'done' })).toEqual({ limit: 500, status: 'done' });
    expect(refusal(() => parseQuery(ListImagesQuery, { limit: '501' }))).toEqual({ code: 'invalid_request', message: expect.stringMatching(/^limit: .*500/) });
    expect(refusal(() => parseQuery(ListImagesQuery, { limit: '0' }))).toMatchObject({ message: expect.stringMatching(/^limit: /) });
    expect(refusal(() => parseQuery(ListImagesQuery, { limit: 'ten' }))).toMatchObject({ message: expect.stringMatching(/^limit: /) });
    expect(refusal(() => parseQuery(ListImagesQuery, { status: 'lost' }))).toMatchObject({ message: expect.stringMatching(/^status: .*queued/) });
    expect(refusal(() => parseQuery(ListImagesQuery, { limt: '10' }))).toEqual({ code: 'invalid_request', message: 'unknown parameter "limt"' });
  });

  it('download query: display unless a variant is named', () => {
    expect(parseQuery(DownloadQuery, {})).toEqual({ variant: 'display' });
    expect(parseQuery(DownloadQuery, { variant: 'original' })).toEqual({ variant: 'original' });
    expect(refusal(() => parseQuery(DownloadQuery, { variant: '' }))).toMatchObject({ message: expect.stringMatching(/^variant: /) });
  });

  it('a variant gets its defaults, and every field its range', () => {
    expect(VariantSpec.parse({ name: 'hero' })).toEqual({ name: 'hero', fit: 'inside', format: 'webp', withoutEnlargement: true });
    expect(VariantSpec.parse({ name: 'h', width: MAX_OUTPUT_SIDE, height: 1, quality: 100, fit: 'cover', format: 'avif' })).toMatchObject({ width: 8192, quality: 100 });
    const message = (input: unknown) => VariantSpec.safeParse(input).error?.issues[0]?.message;
    expect(message({ name: 'h', width: MAX_OUTPUT_SIDE + 1 })).toBe('at most 8192 pixels a side (the output cap)');
    expect(message({ name: 'h', height: 0 })).toMatch(/>=\s*1/);
    expect(message({ name: 'h', width: 1.5 })).toMatch(/expected int/);
    expect(message({ name: 'h', quality: 101 })).toMatch(/<=\s*100/);
    expect(message({ name: 'original' })).toBe('name "original" is reserved for the uploaded file');
    expect(message({ name: 'Hero!' })).toBe('name: 1–32 lower-case letters, digits, "_" or "-"');
    expect(message({ name: 'h', format: 'gif' })).toMatch(/webp/);
    expect(VariantSpec.safeParse({ name: 'h', colour: 'red' }).error?.issues[0]?.code).toBe('unrecognized_keys');
  });

  it('a variant list: one to ten, names unique', () => {
    expect(VariantList.safeParse([]).error?.issues[0]?.message).toBe('give at least one variant');
    expect(VariantList.safeParse(Array.from({ length: 11 }, (_, i) => ({ name: `v${i}` }))).error?.issues[0]?.message).toBe('at most 10 variants');
    expect(VariantList.safeParse([{ name: 'a' }, { name: 'a' }]).error?.issues[0]?.message).toBe('variant names must be unique');
  });

  it('a new key: a customer name of its own form, a known role, a trimmed label', () => {
    expect(parseBody(NewKeyRequest, { customer: 'acme.eu', role: 'business', name: '  ci  ' })).toEqual({ customer: 'acme.eu', role: 'business', name: 'ci' });
    expect(refusal(() => parseBody(NewKeyRequest, { customer: '-acme', role: 'user' }))).toEqual({
      code: 'invalid_request',
      message: 'customer: customer: 1–64 letters, digits, ".", "_" or "-"',
    });
    expect(refusal(() => parseBody(NewKeyRequest, { customer: 'acme', role: 'root' }))).toMatchObject({ message: expect.stringMatching(/^role: .*admin/) });
    expect(refusal(() => parseBody(NewKeyRequest, { customer: 'acme', role: 'user', admin: true }))).toMatchObject({ message: 'unknown field "admin"' });
  });

  it('statistics: groupings in canonical order, real dates only', () => {
    expect(StatsQuery.parse({ groupBy: 'day, customer,day' })).toEqual({ groupBy: ['customer', 'day'] });
    expect(StatsQuery.parse({ groupBy: ['format', 'customer'] })).toEqual({ groupBy: ['customer', 'format'] });
    expect(StatsQuery.parse({})).toEqual({ groupBy: [] });
    expect(refusal(() => parseQuery(StatsQuery, { groupBy: 'week' }))).toMatchObject({ message: 'groupBy: unknown group "week"; use any of customer, format, day' });
    expect(refusal(() => parseQuery(StatsQuery, { from: '2026-02-30' }))).toMatchObject({ message: 'from: not a real date' });
    expect(refusal(() => parseQuery(StatsQuery, { to: '1.3.2026' }))).toMatchObject({ message: 'to: expected a date like 2026-03-01' });
  });

  it('watch folders and imports: what they need, and their caps', () => {
    expect(parseBody(NewWatchFolderRequest, { path: '/photos' })).toEqual({ path: '/photos', poll: false });
    expect(refusal(() => parseBody(NewWatchFolderRequest, {}))).toMatchObject({ message: expect.stringMatching(/^path: /) });
    expect(refusal(() => parseBody(NewWatchFolderRequest, { path: '' }))).toMatchObject({ message: 'path: path: give the folder to watch' });
    expect(parseBody(ImportRequest, { paths: ['/a.jpg'], variants: [{ name: 'x' }] })).toEqual({ paths: ['/a.jpg'], variants: [{ name: 'x' }] });
    expect(refusal(() => parseBody(ImportRequest, { paths: [] }))).toMatchObject({ message: 'paths: paths: give at least one path' });
    expect(refusal(() => parseBody(ImportRequest, { paths: Array.from({ length: 101 }, (_, i) => `/${i}.jpg`) }))).toMatchObject({ message: expect.stringMatching(/^paths: .*100/) });
  });

  it('path ids are not checked for shape (a malformed id is a 404 like any unknown one), but must be there', () => {
    expect(IdParams.parse({ id: 'not-a-uuid' })).toEqual({ id: 'not-a-uuid' });
    expect(IdParams.safeParse({ id: '' }).success).toBe(false);
  });
});

describe('response schemas (server/api)', () => {
  it('the error body names exactly the codes of the catalogue', () => {
    const body = (code: string) => ({ error: { code, message: 'm', requestId: 'r' } });
    for (const code of Object.keys(ERROR_CATALOGUE)) expect(ErrorBody.safeParse(body(code)).success).toBe(true);
    expect(ErrorBody.safeParse(body('teapot')).success).toBe(false);
    expect(ErrorBody.safeParse({ error: { code: 'not_found', message: 'm' } }).success).toBe(false);
  });

  it('enumerations are defined once: the schema and the plain list agree', () => {
    expect(OutputFormat.options).toEqual([...OUTPUT_FORMATS]);
  });

  it('every field of every request schema is described, for the API description generated from them', () => {
    const undescribed: string[] = [];
    const requests = { ListImagesQuery, DownloadQuery, VariantSpec, NewKeyRequest, NewWatchFolderRequest, ImportRequest, StatsQuery };
    for (const [name, schema] of Object.entries(requests)) {
      for (const [field, fieldSchema] of Object.entries(schema.shape)) {
        if (!(fieldSchema as z.ZodType).description) undescribed.push(`${name}.${field}`);
      }
    }
    expect(undescribed).toEqual([]);
  });

  it('every schema converts to JSON Schema (what the API description is to be generated from), with its ranges and defaults', () => {
    const schemas = (Object.entries(api) as Array<[string, unknown]>).filter((entry): entry is [string, z.ZodType] => entry[1] instanceof z.ZodType);
    expect(schemas.length).toBeGreaterThan(40);
    for (const [name, schema] of schemas) {
      // Requests are described as the client writes them; answers as the server sends them
      // (a request schema that canonicalises, like StatsQuery's groupBy, has no "output" form).
      expect(() => z.toJSONSchema(schema, { io: 'input' }), name).not.toThrow();
    }
    for (const name of ['ImageRecord', 'ImagePage', 'ImageMetadata', 'UploadResponse', 'StatsReport', 'Me', 'CreatedKey', 'KeyList', 'WatchFolderList', 'SyncStatus', 'Health', 'Readiness', 'ImageStatusEvent', 'ErrorBody'] as const) {
      expect(() => z.toJSONSchema(api[name] as z.ZodType, { io: 'output' }), name).not.toThrow();
    }
    const limit = (z.toJSONSchema(ListImagesQuery, { io: 'input' }) as { properties: Record<string, unknown> }).properties.limit;
    expect(limit).toMatchObject({ type: 'integer', minimum: 1, maximum: 500, default: 50, description: 'Records per page' });
  });
});
