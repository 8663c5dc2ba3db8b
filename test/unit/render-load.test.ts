import http from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkWebp, runLoad, summarise, uniqueWidths, type LoadResult } from '../../bench/lib/render-load.js';

/** The render benchmark's client (bench/lib/render-load.ts): its checks must catch a wrong answer, or the benchmark times error pages. */

const webp = (width: number) => sharp({ create: { width, height: Math.round(width / 2), channels: 3, background: '#808080' } }).webp().toBuffer();

describe('checkWebp', () => {
  it('accepts a WebP of the width asked', async () => {
    const body = await webp(40);
    expect(() => checkWebp(200, 'image/webp', body, 40, 'x')).not.toThrow();
  });

  it('refuses another width, another format, another type, an error answer', async () => {
    const body = await webp(40);
    expect(() => checkWebp(200, 'image/webp', body, 41, 'GET /a')).toThrow('GET /a: 40 pixels wide, 41 asked');
    const jpeg = await sharp({ create: { width: 40, height: 20, channels: 3, background: '#808080' } }).jpeg().toBuffer();
    expect(() => checkWebp(200, 'image/webp', jpeg, 40, 'x')).toThrow('a jpg image, not WebP');
    expect(() => checkWebp(200, 'image/jpeg', body, 40, 'x')).toThrow('Content-Type image/jpeg, not image/webp');
    expect(() => checkWebp(200, 'image/webp', Buffer.from('not an image at all'), 40, 'x')).toThrow('x: not an image');
    expect(() => checkWebp(503, 'application/json', Buffer.from('{"error":"busy"}'), 40, 'x')).toThrow('answered 503: {"error":"busy"}');
  });
});

describe('uniqueWidths', () => {
  it('gives widths in the range, none twice, spread over it from the start', () => {
    const widths = uniqueWidths(301, 850, 1150);
    expect(new Set(widths).size).toBe(301);
    expect(Math.min(...widths)).toBe(850);
    expect(Math.max(...widths)).toBe(1150);
    // Not climbing: the first ten already cover most of the range.
    const first = widths.slice(0, 10);
    expect(Math.max(...first) - Math.min(...first)).toBeGreaterThan(200);
  });

  it('refuses more widths than the range holds', () => {
    expect(() => uniqueWidths(302, 850, 1150)).toThrow('302 unique widths asked from 850–1150, which holds 301');
  });
});

describe('runLoad', () => {
  let server: http.Server;
  let url: string;
  const seen: string[] = [];

  beforeAll(async () => {
    // A real HTTP server: answers /w/N with a WebP N pixels wide, /hit/N the same tagged as a stored render.
    server = http.createServer(async (req, res) => {
      seen.push(req.url!);
      const [, kind, n] = req.url!.split('/');
      const body = await webp(Number(n));
      res.writeHead(200, { 'content-type': 'image/webp', 'content-length': body.length, ...(kind === 'hit' && { 'darkroom-cache': 'hit' }) });
      res.end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('sends count requests, each the next target, and counts the cache tags', async () => {
    seen.length = 0;
    const result = await runLoad({ concurrency: 2, count: 6, next: (i) => ({ url: `${url}/hit/${10 + i}`, width: 10 + i }) });
    expect(result.requests).toBe(6);
    expect(result.latenciesMs).toHaveLength(6);
    expect(result.cache).toEqual({ hit: 6 });
    expect(result.firstHeaders['content-type']).toBe('image/webp');
    expect([...seen].sort()).toEqual(['/hit/10', '/hit/11', '/hit/12', '/hit/13', '/hit/14', '/hit/15']);
  });

  it('stops at the end of its duration', async () => {
    const result = await runLoad({ concurrency: 2, durationMs: 150, next: () => ({ url: `${url}/w/20`, width: 20 }) });
    expect(result.requests).toBeGreaterThan(0);
    expect(result.cache).toEqual({});
  });

  it('rejects at an answer of the wrong width', async () => {
    await expect(runLoad({ concurrency: 2, count: 4, next: (i) => ({ url: `${url}/w/30`, width: i === 2 ? 31 : 30 }) })).rejects.toThrow('30 pixels wide, 31 asked');
  });

  it('needs a count or a duration', async () => {
    await expect(runLoad({ concurrency: 1, next: () => ({ url, width: 1 }) })).rejects.toThrow('needs a count or a duration');
  });
});

describe('summarise', () => {
  it('takes the runs together: requests over seconds, and the quantiles of every latency', () => {
    const run = (latenciesMs: number[], seconds: number): LoadResult => ({ requests: latenciesMs.length, seconds, latenciesMs, firstHeaders: {}, cache: {} });
    const all = summarise([run([10, 20, 30], 1), run(Array.from({ length: 97 }, (_, i) => 40 + i), 1)]);
    expect(all.rps).toBe(50);
    expect(all.p50).toBe(86);
    expect(all.p99).toBe(135);
  });
});
