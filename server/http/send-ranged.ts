import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Request, Response } from 'express';
import { AppError } from '../errors.js';
import { parseRange } from './range.js';

export interface RangedBody {
  size: number;
  etag: string;
  /**
   * The bytes to send: the whole body, or the inclusive range. Called once the answer is
   * decided and before any header is sent, so a failure here still becomes a proper error.
   * `signal` aborts when the client goes away.
   */
  open(range: { start: number; end: number } | undefined, signal: AbortSignal): Promise<Readable> | Readable;
}

/**
 * Answers a GET or HEAD with a body of known size: `Range` (206, or 416 with the size),
 * `If-Range` against our ETag, `Content-Length`, and backpressure from the client to the source.
 * The caller has set Content-Type, ETag and the caching headers, and answered 304 itself.
 *
 * Why not express's sendFile: it opens the file by path after the route has decided what to
 * send, so a purge between the two turned a download into a 404; here the route opens the file
 * first (an open file stays whole however it is unlinked) and hands over the open handle.
 */
export async function sendRanged(req: Request, res: Response, body: RangedBody): Promise<void> {
  const ifRange = typeof req.headers['if-range'] === 'string' ? req.headers['if-range'] : undefined;
  const range = parseRange(req.headers.range, body.size, ifRange, body.etag);
  res.setHeader('Accept-Ranges', 'bytes');
  if (range === 'unsatisfiable') {
    throw new AppError('range_not_satisfiable', `the file has ${body.size} bytes`, { 'Content-Range': `bytes */${body.size}` });
  }
  const controller = new AbortController();
  const onClose = () => controller.abort();
  res.once('close', onClose);
  try {
    const source = req.method === 'HEAD' ? undefined : await body.open(range, controller.signal);
    res.status(range ? 206 : 200);
    res.setHeader('Content-Length', String(range ? range.end - range.start + 1 : body.size));
    if (range) res.setHeader('Content-Range', `bytes ${range.start}-${range.end}/${body.size}`);
    if (!source) {
      res.end();
      return;
    }
    await pipeline(source, res);
  } catch (err) {
    // Once bytes are on their way the only honest answer is a cut-off body, which the client
    // sees as short and can resume with Range.
    if (!res.headersSent) throw err;
    res.destroy();
  } finally {
    res.off('close', onClose);
  }
}
