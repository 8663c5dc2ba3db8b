import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../server/config.js';
import { processedKey } from '../../server/sync/bucket-keys.js';
import { parseRange } from '../../server/http/range.js';
import { createBufferPool } from '../../server/storage/buffer-pool.js';
import { createS3Bucket } from '../../server/storage/s3/bucket.js';
import { describeS3Error, mightBeBucketWide, startupFailure } from '../../server/storage/s3/errors.js';
import { darkroomRules } from '../../server/storage/s3/lifecycle.js';
import { crc32Base64, planParts } from '../../server/storage/s3/multipart-upload.js';

const MiB = 1024 * 1024;
const sdkError = (name: string, status?: number, message = '') =>
  Object.assign(new Error(message || name), { name, $metadata: { httpStatusCode: status } });

describe('S3 sync parts', () => {
  it('parses Range like a server may: one range, suffixes, open ends, 416 past the end', () => {
    expect(parseRange(undefined, 1000)).toBeUndefined();
    expect(parseRange('bytes=0-99', 1000)).toEqual({ start: 0, end: 99 });
    expect(parseRange('bytes=900-', 1000)).toEqual({ start: 900, end: 999 });
    expect(parseRange('bytes=900-5000', 1000)).toEqual({ start: 900, end: 999 });
    expect(parseRange('bytes=-100', 1000)).toEqual({ start: 900, end: 999 });
    expect(parseRange('bytes=-5000', 1000)).toEqual({ start: 0, end: 999 });
    expect(parseRange('bytes=1000-', 1000)).toBe('unsatisfiable');
    expect(parseRange('bytes=-0', 1000)).toBe('unsatisfiable');
    // Served whole: several ranges, another unit, nonsense, a reversed range, a stale If-Range.
    expect(parseRange('bytes=0-1,5-6', 1000)).toBeUndefined();
    expect(parseRange('items=0-1', 1000)).toBeUndefined();
    expect(parseRange('bytes=abc', 1000)).toBeUndefined();
    expect(parseRange('bytes=50-10', 1000)).toBeUndefined();
    expect(parseRange('bytes=0-9', 1000, '"old"', '"new"')).toBeUndefined();
    expect(parseRange('bytes=0-9', 1000, '"new"', '"new"')).toEqual({ start: 0, end: 9 });
    expect(parseRange(' bytes = 10 - 19 ', 1000)).toEqual({ start: 10, end: 19 });
  });

  it('reads a hostile Range header in linear time: whitespace runs and overlong values are ignored at once', () => {
    // A quadratic pattern took ~300 ms on this header; any Range header reaches this parser.
    const hostile = `bytes=0-${' '.repeat(16_000)}x`;
    const started = performance.now();
    for (let i = 0; i < 50; i++) expect(parseRange(hostile, 1000)).toBeUndefined();
    expect(parseRange(`bytes=0-${' '.repeat(150)}9`, 1000)).toEqual({ start: 0, end: 9 });
    // 50 parses: far below what one quadratic parse took.
    expect(performance.now() - started).toBeLessThan(100);
  });

  it('plans parts of at least the part size and never more than 10,000', () => {
    expect(planParts(300 * MiB, 8 * MiB)).toEqual({ partSize: 8 * MiB, count: 38 });
    expect(planParts(8 * MiB + 1, 8 * MiB)).toEqual({ partSize: 8 * MiB, count: 2 });
    const huge = planParts(200 * 1024 * MiB, 8 * MiB);
    expect(huge.count).toBeLessThanOrEqual(10_000);
    expect(huge.partSize % MiB).toBe(0);
    expect(huge.partSize * huge.count).toBeGreaterThanOrEqual(200 * 1024 * MiB);
  });

  it('writes CRC32 checksums the way S3 does (big-endian, base64)', () => {
    // The CRC32 of "123456789" is 0xCBF43926, the standard check value.
    expect(crc32Base64(Buffer.from('123456789'))).toBe(Buffer.from([0xcb, 0xf4, 0x39, 0x26]).toString('base64'));
    expect(crc32Base64(Buffer.alloc(0))).toBe('AAAAAA==');
    expect(zlib.crc32('123456789')).toBe(0xcbf43926);
  });

  it('holds at most its number of buffers, reuses them, and lets an aborted wait go', async () => {
    const pool = createBufferPool({ slots: 2, slabSize: 1024 });
    const a = await pool.acquire(100);
    const b = await pool.acquire(1024);
    expect(a.length).toBe(1024);
    let third: Buffer | undefined;
    const waiting = pool.acquire(10).then((buf) => (third = buf));
    const controller = new AbortController();
    const aborted = pool.acquire(10, controller.signal).catch((err: Error) => err.name);
    await new Promise((r) => setTimeout(r, 10));
    expect(third).toBeUndefined();
    controller.abort();
    expect(await aborted).toBe('AbortError');
    pool.release(a);
    await waiting;
    expect(third).toBe(a); // the same memory, not a new allocation
    expect(pool.inUse()).toBe(2);
    pool.release(b);
    pool.release(third!);
    expect(pool.inUse()).toBe(0);
  });

  it('tells a bucket-wide failure from one object’s, and says it in one line', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' });
    expect(mightBeBucketWide(refused)).toBe(true);
    expect(mightBeBucketWide(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }))).toBe(true);
    expect(mightBeBucketWide(sdkError('SlowDown', 503))).toBe(true);
    expect(mightBeBucketWide(sdkError('InvalidAccessKeyId', 403))).toBe(true);
    expect(mightBeBucketWide(sdkError('InternalError', 500))).toBe(true);
    expect(mightBeBucketWide(sdkError('EntityTooLarge', 400))).toBe(false);
    expect(mightBeBucketWide(sdkError('NoSuchKey', 404))).toBe(false);

    expect(describeS3Error(refused)).toBe('ECONNREFUSED (the endpoint is unreachable)');
    expect(describeS3Error(sdkError('AccessDenied', 403, 'Access Denied'))).toBe('403 AccessDenied: Access Denied');
    expect(describeS3Error(sdkError('UnknownError', 403, 'UnknownError'))).toBe('403');
    expect(describeS3Error(new Error('plain'))).toBe('plain');

    const where = 'bucket "b" at http://s3';
    expect(startupFailure(refused, where)).toBe('S3 bucket "b" at http://s3 is unreachable: ECONNREFUSED (the endpoint is unreachable)');
    expect(startupFailure(sdkError('NotFound', 404), where)).toBe('S3 bucket "b" at http://s3: the bucket does not exist');
    expect(startupFailure(sdkError('CredentialsProviderError', undefined, 'Could not load credentials from any providers'), where)).toMatch(
      /no AWS credentials found/,
    );
    expect(startupFailure(sdkError('PermanentRedirect', 301), where)).toMatch(/check --s3-region/);
    for (const err of [refused, sdkError('Forbidden', 403)]) expect(startupFailure(err, where)).not.toContain('\n');
  });

  it('names object keys as the contract does, below the prefix', () => {
    expect(processedKey('0195-abc', '/data/processed/ab/cd/0195-abc/display.webp')).toBe('processed/0195-abc/display.webp');
    const bucket = createS3Bucket({ bucket: 'b', prefix: 'team/photos', region: 'us-east-1', forcePathStyle: false });
    expect(bucket.fullKey('originals/ab')).toBe('team/photos/originals/ab');
    expect(bucket.url).toBe('s3://b/team/photos/');
    const root = createS3Bucket({ bucket: 'b', prefix: '', region: 'us-east-1', forcePathStyle: false });
    expect(root.fullKey('originals/ab')).toBe('originals/ab');
    bucket.destroy();
    root.destroy();
    // Slashes around the prefix are tolerated in the option.
    expect(parseConfig({ s3Prefix: '/team/photos/' }).s3Prefix).toBe('team/photos');
  });

  it('makes a lifecycle rule for processed files that never acts before the TTL', () => {
    const bucket = createS3Bucket({ bucket: 'b', prefix: 'p', region: 'us-east-1', forcePathStyle: false });
    const [expiry, incomplete] = darkroomRules(bucket, 7 * 24 * 3600 * 1000);
    expect(expiry).toMatchObject({ Status: 'Enabled', Filter: { Prefix: 'p/processed/' }, Expiration: { Days: 7 } });
    expect(incomplete).toMatchObject({ Filter: { Prefix: 'p/' }, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 } });
    // Days are whole: a TTL of 30 seconds or 36 hours rounds up.
    expect(darkroomRules(bucket, 30_000)[0]!.Expiration!.Days).toBe(1);
    expect(darkroomRules(bucket, 36 * 3600 * 1000)[0]!.Expiration!.Days).toBe(2);
    bucket.destroy();
  });
});
