/**
 * The client of the render benchmark (bench/render.bench.ts): a fixed number of requests, or as
 * many as fit in a duration, `concurrency` at a time over keep-alive connections, each answer
 * read whole and checked to be the WebP image asked for. With node:http, the lightest client Node
 * has: it shares the machine's two cores with the servers being measured.
 */
import http from 'node:http';
import { imageSize } from 'image-size';
import { quantile } from '../report.js';

/** One request: where, with which headers, and the width its WebP answer must have. */
export interface RenderTarget {
  url: string;
  headers?: Record<string, string>;
  width: number;
}

export interface LoadResult {
  requests: number;
  seconds: number;
  /** Each request's time from sending it to the last byte of its answer, in ms, in order of completion. */
  latenciesMs: number[];
  /** Headers of the first answer (e.g. `darkroom-cache`), for the caller to check. */
  firstHeaders: http.IncomingHttpHeaders;
  /** How many answers carried each `darkroom-cache` value (none for a server that sends none). */
  cache: Record<string, number>;
}

export interface LoadSummary {
  rps: number;
  p50: number;
  p99: number;
}

/**
 * Checks that an answer is a WebP image `width` pixels wide (header and dimensions, read by
 * image-size from the first bytes), and throws saying what came instead: a benchmark that timed
 * error pages or the wrong size would compare nothing.
 */
export function checkWebp(status: number | undefined, contentType: string | undefined, body: Buffer, width: number, what: string): void {
  if (status !== 200) throw new Error(`${what}: answered ${status}: ${body.subarray(0, 300).toString('utf8')}`);
  if (contentType !== 'image/webp') throw new Error(`${what}: Content-Type ${contentType}, not image/webp`);
  let size: ReturnType<typeof imageSize>;
  try {
    size = imageSize(body);
  } catch (err) {
    throw new Error(`${what}: not an image (${(err as Error).message}); ${body.length} bytes`);
  }
  if (size.type !== 'webp') throw new Error(`${what}: a ${size.type} image, not WebP`);
  if (size.width !== width) throw new Error(`${what}: ${size.width} pixels wide, ${width} asked`);
}

/** One GET, its answer read whole: status, headers, body, and how long it took. */
function get(agent: http.Agent, target: RenderTarget): Promise<{ res: http.IncomingMessage; body: Buffer; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = http.get(target.url, { agent, headers: target.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => resolve({ res, body: Buffer.concat(chunks), ms: performance.now() - started }));
    });
    req.on('error', reject);
  });
}

/**
 * Sends `next(i)` for i = 0, 1, … with `concurrency` requests in flight until `count` were sent
 * or `durationMs` has passed (whichever is given; with both, whichever comes first), every answer
 * checked (`checkWebp`). Rejects at the first wrong answer.
 */
export async function runLoad(options: { concurrency: number; next: (i: number) => RenderTarget; count?: number; durationMs?: number }): Promise<LoadResult> {
  const { concurrency, next, count = Infinity, durationMs = Infinity } = options;
  if (count === Infinity && durationMs === Infinity) throw new Error('runLoad needs a count or a duration');
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const latenciesMs: number[] = [];
  const cache: Record<string, number> = {};
  let firstHeaders: http.IncomingHttpHeaders | undefined;
  let sent = 0;
  const started = performance.now();
  const deadline = started + durationMs;
  const lane = async () => {
    while (sent < count && performance.now() < deadline) {
      const i = sent++;
      const target = next(i);
      const { res, body, ms } = await get(agent, target);
      checkWebp(res.statusCode, res.headers['content-type'], body, target.width, `GET ${target.url}`);
      firstHeaders ??= res.headers;
      const tag = res.headers['darkroom-cache'];
      if (typeof tag === 'string') cache[tag] = (cache[tag] ?? 0) + 1;
      latenciesMs.push(ms);
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, lane));
  } finally {
    agent.destroy();
  }
  return { requests: latenciesMs.length, seconds: (performance.now() - started) / 1000, latenciesMs, firstHeaders: firstHeaders ?? {}, cache };
}

/** Requests a second, p50 and p99 (ms) of one or more runs taken together. */
export function summarise(runs: LoadResult[]): LoadSummary {
  const requests = runs.reduce((n, r) => n + r.requests, 0);
  const seconds = runs.reduce((s, r) => s + r.seconds, 0);
  const all = runs.flatMap((r) => r.latenciesMs);
  return { rps: requests / seconds, p50: quantile(all, 0.5), p99: quantile(all, 0.99) };
}

/**
 * Widths that never repeat: `count` widths from `from` to `to` (inclusive), spread over the range
 * rather than climbing (a stride coprime with the range's size), so early and late requests ask
 * for the same mix of sizes. Throws when more are asked than the range holds.
 */
export function uniqueWidths(count: number, from: number, to: number): number[] {
  const span = to - from + 1;
  if (count > span) throw new Error(`${count} unique widths asked from ${from}–${to}, which holds ${span}`);
  let stride = Math.max(1, Math.floor(span * 0.382));
  while (gcd(stride, span) !== 1) stride++;
  return Array.from({ length: count }, (_, k) => from + ((k * stride) % span));
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}
