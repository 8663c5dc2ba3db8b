import http from 'node:http';
import { sendJpegThenZeros } from './images.js';
import { ADMIN_KEY, type ApiClient } from './server.js';

/** tus 1.0 requests by hand, for tests that look at the protocol itself. */
export class TusClient {
  constructor(readonly api: ApiClient) {}

  private headers(extra: Record<string, string> = {}) {
    return this.api.headers({ 'tus-resumable': '1.0.0', ...extra });
  }

  static metadata(entries: Record<string, string>): string {
    return Object.entries(entries)
      .map(([k, v]) => `${k} ${Buffer.from(v, 'utf8').toString('base64')}`)
      .join(',');
  }

  /** POST /v1/uploads: creates an upload of `length` bytes. */
  async create(length: number, metadata: Record<string, string> = {}) {
    const headers: Record<string, string> = { 'upload-length': String(length) };
    if (Object.keys(metadata).length) headers['upload-metadata'] = TusClient.metadata(metadata);
    const res = await fetch(`${this.api.url}/v1/uploads`, { method: 'POST', headers: this.headers(headers) });
    const text = await res.text();
    return { status: res.status, headers: res.headers, location: res.headers.get('location'), body: parse(text) };
  }

  async head(location: string) {
    const res = await fetch(this.api.url + location, { method: 'HEAD', headers: this.headers() });
    return { status: res.status, headers: res.headers, offset: Number(res.headers.get('upload-offset')) };
  }

  async patch(location: string, offset: number, body: Buffer) {
    const res = await fetch(this.api.url + location, {
      method: 'PATCH',
      headers: this.headers({ 'upload-offset': String(offset), 'content-type': 'application/offset+octet-stream' }),
      body,
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: parse(text) };
  }

  async delete(location: string) {
    const res = await fetch(this.api.url + location, { method: 'DELETE', headers: this.headers() });
    return { status: res.status };
  }

  /**
   * A PATCH that declares `declared` bytes but sends only `send` of them, then waits: for the
   * answer (resolves with it) or, when `cut` is set, drops the connection after sending.
   */
  patchPartially(location: string, offset: number, data: Buffer, declared: number, options: { cut?: boolean } = {}) {
    return new Promise<{ status: number; body: any } | 'cut'>((resolve, reject) => {
      const req = http.request(this.api.url + location, {
        method: 'PATCH',
        headers: this.headers({
          'upload-offset': String(offset),
          'content-type': 'application/offset+octet-stream',
          'content-length': String(declared),
        }),
      });
      req.on('response', (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, body: parse(text) }));
      });
      req.on('error', (err) => (options.cut ? resolve('cut') : reject(err)));
      req.write(data, () => {
        if (options.cut) setTimeout(() => req.destroy(), 200);
      });
    });
  }
}

function parse(text: string): any {
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return text;
  }
}

/**
 * One tus PATCH carrying `total` bytes (a real JPEG, then zeros: decoders stop at its end
 * marker), written as it goes: for the memory tests' uploads of hundreds of MB.
 */
export function patchAll(url: string, location: string, total: number): Promise<{ status: number; imageId: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url + location, {
      method: 'PATCH',
      headers: {
        authorization: `Bearer ${ADMIN_KEY}`,
        'tus-resumable': '1.0.0',
        'upload-offset': '0',
        'content-type': 'application/offset+octet-stream',
        'content-length': String(total),
      },
    });
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode!, imageId: res.headers['darkroom-image-id'] as string | undefined }));
    });
    req.on('error', reject);
    sendJpegThenZeros(req, total);
  });
}
