import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture } from '../helpers/images.js';
import { spawnServer, type ChildServer } from '../helpers/child.js';
import { ADMIN_KEY, ApiClient, listFiles, tempDir } from '../helpers/server.js';
import { TusClient } from '../helpers/tus.js';

/*
 * Uploads refused before their body is read must reach the client as a readable answer, never
 * as a reset (CONTRACT §13). The server runs as a child process: in the test's own process the
 * client and the server share one event loop, which hides the race the kernel's reset causes.
 */

const MiB = 1024 * 1024;
const servers: ChildServer[] = [];
let main: ChildServer;
let mainDir: string;
let limited: ChildServer;
let admin: ApiClient;
let user: ApiClient;
let business: ApiClient;
let anonymous: ApiClient;

async function createKey(url: string, role: string, customer: string): Promise<ApiClient> {
  const res = await new ApiClient(url, ADMIN_KEY).json('POST', '/v1/keys', { customer, role });
  expect(res.status).toBe(201);
  return new ApiClient(url, res.body.key);
}

beforeAll(async () => {
  mainDir = tempDir();
  main = await spawnServer(['serve', '--data-dir', mainDir, '--port', '0', '--admin-key', ADMIN_KEY, '--workers', '1', '--max-upload-bytes', '6MiB']);
  servers.push(main);
  // Every upload here is refused before its body is read: 429 by the rate limit, or 507 for the
  // one request a second the limit lets through (the disk reserve cannot be met).
  limited = await spawnServer(['serve', '--data-dir', tempDir(), '--port', '0', '--admin-key', ADMIN_KEY, '--workers', '1', '--rate-limit', '1', '--min-free-bytes', '1000TB']);
  servers.push(limited);
  admin = new ApiClient(main.url, ADMIN_KEY);
  user = await createKey(main.url, 'user', 'acme');
  business = await createKey(main.url, 'business', 'acme');
  anonymous = new ApiClient(main.url, undefined);
});

afterAll(async () => {
  for (const server of servers) server.proc.kill('SIGTERM');
  await Promise.all(servers.map((s) => s.exited));
});

/** Not an image in any format: refused with 415 after its first bytes. */
const junk = (bytes: number) => Buffer.alloc(bytes, 'this is plain text, not an image. ');

interface Outcome {
  status?: number;
  code?: string;
  retryAfter?: string | null;
  networkError?: string;
}

/** The answer as fetch delivers it, or the network error fetch throws instead. */
async function outcome(send: () => Promise<Response>): Promise<Outcome> {
  try {
    const res = await send();
    const text = await res.text();
    let code: string | undefined;
    try {
      code = JSON.parse(text).error?.code;
    } catch {
      code = `unparsable: ${text.slice(0, 60)}`;
    }
    return { status: res.status, code, retryAfter: res.headers.get('retry-after') };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    return { networkError: e.cause?.code ?? e.cause?.message ?? e.message };
  }
}

/** 20 one after the other, then 20 at once: every one must be answered. */
async function fortyTimes(send: () => Promise<Response>): Promise<Outcome[]> {
  const results: Outcome[] = [];
  for (let i = 0; i < 20; i++) results.push(await outcome(send));
  results.push(...(await Promise.all(Array.from({ length: 20 }, () => outcome(send)))));
  return results;
}

function expectAllAnswered(results: Outcome[], expected: Record<number, string>) {
  const networkErrors = results.filter((r) => r.networkError).map((r) => r.networkError);
  expect(networkErrors).toEqual([]);
  const unexpected = results.filter((r) => expected[r.status!] !== r.code);
  expect(unexpected).toEqual([]);
}

const raw = (client: ApiClient, body: Buffer | ReadableStream) => () =>
  client.request('POST', '/v1/image', {
    body,
    headers: { 'content-type': 'image/jpeg', 'x-filename': 'big.jpg' },
    ...({ duplex: 'half' } as object),
  });

/**
 * A body of unknown length (chunked), sent as fast as fetch takes it: a real JPEG's first bytes
 * (so it passes the format check and is refused only by its size) or text.
 */
function stream(bytes: number, head: Buffer = Buffer.alloc(0)): ReadableStream<Uint8Array> {
  const chunk = new Uint8Array(64 * 1024).fill(42);
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent >= bytes) return controller.close();
      const next = sent === 0 && head.length ? new Uint8Array(head) : chunk;
      sent += next.length;
      controller.enqueue(next);
    },
  });
}

const form = (client: ApiClient, files: Buffer[]) => () => {
  const body = new FormData();
  for (const [i, data] of files.entries()) body.append('image', new Blob([data], { type: 'image/jpeg' }), `f${i}.jpg`);
  return client.request('POST', '/v1/image', { body });
};

describe('an upload refused before its body is read gets a readable answer', () => {
  it('raw bodies of ~4 MiB refused with 401, 403, 413 and 415: 40 times each, 0 network errors', async () => {
    expectAllAnswered(await fortyTimes(raw(anonymous, junk(4 * MiB))), { 401: 'unauthorized' });
    expectAllAnswered(await fortyTimes(raw(business, junk(4 * MiB))), { 403: 'forbidden' });
    // Over --max-upload-bytes by Content-Length (before reading), and without one (while reading).
    expectAllAnswered(await fortyTimes(raw(user, junk(7 * MiB))), { 413: 'payload_too_large' });
    expectAllAnswered(await fortyTimes(() => raw(user, stream(7 * MiB, fixture('ipx-bliss.jpg')))()), { 413: 'payload_too_large' });
    // Judged from the first bytes: the rest is never read by the upload.
    expectAllAnswered(await fortyTimes(raw(user, junk(4 * MiB))), { 415: 'unsupported_media_type' });
    expectAllAnswered(await fortyTimes(() => raw(business, stream(4 * MiB))()), { 403: 'forbidden' });
  });

  it('429 from the rate limit (and 507 from a full disk) the same way, with Retry-After', async () => {
    const client = await createKey(limited.url, 'user', 'acme');
    const results = await fortyTimes(raw(client, junk(4 * MiB)));
    expectAllAnswered(results, { 429: 'too_many_requests', 507: 'insufficient_storage' });
    const limitedOnes = results.filter((r) => r.status === 429);
    expect(limitedOnes.length).toBeGreaterThanOrEqual(30);
    for (const r of limitedOnes) expect(Number(r.retryAfter)).toBeGreaterThan(0);
  });

  it('multipart bodies: refused by auth, by content and by the whole-body cap', async () => {
    expectAllAnswered(await fortyTimes(form(anonymous, [junk(4 * MiB)])), { 401: 'unauthorized' });
    expectAllAnswered(await fortyTimes(form(user, [junk(4 * MiB)])), { 415: 'unsupported_media_type' });
    // Two files, each under the limit, together over it.
    expectAllAnswered(await fortyTimes(form(user, [junk(3.5 * MiB), junk(3.5 * MiB)])), { 413: 'payload_too_large' });
  });

  it('tus PATCH bodies: refused by role and by content', async () => {
    const tus = new TusClient(user);
    const created = await tus.create(4 * MiB, { filename: 'notes.jpg' });
    expect(created.status).toBe(201);
    const patch = (client: ApiClient, location: string) => () =>
      fetch(client.url + location, {
        method: 'PATCH',
        headers: client.headers({ 'tus-resumable': '1.0.0', 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' }),
        body: junk(4 * MiB),
      });
    expectAllAnswered(await fortyTimes(patch(business, created.location!)), { 403: 'forbidden' });
    // Each refusal by content removes the upload, so every PATCH gets an upload of its own.
    const refused = await fortyTimes(async () => {
      const fresh = await tus.create(4 * MiB, { filename: 'notes.jpg' });
      return patch(user, fresh.location!)();
    });
    expectAllAnswered(refused, { 415: 'unsupported_media_type' });
    expect(listFiles(path.join(mainDir, 'uploads')).filter((f) => !f.startsWith(created.location!.split('/').pop()!))).toEqual([]);
  });

  it('a 64 MiB body refused at once: node:http reads the answer and the socket closes soon after', async () => {
    const size = 64 * MiB;
    const result = await new Promise<{ status: number; body: string; answeredAt: number; closedAt: number; written: number }>((resolve) => {
      const started = Date.now();
      let status = 0;
      let body = '';
      let answeredAt = 0;
      let written = 0;
      const req = http.request(`${main.url}/v1/image`, {
        method: 'POST',
        headers: { ...business.headers(), 'content-type': 'image/jpeg', 'content-length': String(size) },
      });
      req.on('response', (res) => {
        status = res.statusCode!;
        res.on('data', (c: Buffer) => (body += c));
        res.on('end', () => (answeredAt = Date.now() - started));
      });
      // Writing into a closed connection is expected here; the answer is what counts.
      req.on('error', () => {});
      req.on('close', () => resolve({ status, body, answeredAt, closedAt: Date.now() - started, written }));
      const chunk = Buffer.alloc(256 * 1024, 1);
      const pump = () => {
        while (written < size && !req.destroyed) {
          written += chunk.length;
          if (!req.write(chunk)) return void req.once('drain', pump);
        }
        if (!req.destroyed) req.end();
      };
      pump();
    });
    expect(result.status).toBe(403);
    expect(JSON.parse(result.body).error.code).toBe('forbidden');
    expect(result.answeredAt).toBeGreaterThan(0);
    // Closed by the server within its drain budget, long before 64 MiB were taken.
    expect(result.closedAt - result.answeredAt).toBeLessThan(4_000);
    console.log(`64 MiB refused: answered after ${result.answeredAt} ms, closed ${result.closedAt - result.answeredAt} ms later, ${(result.written / MiB).toFixed(1)} MiB written`);
  });

  it('a 64 MiB body refused at once: curl reads the answer', async () => {
    const file = path.join(tempDir(), 'big.bin');
    fs.writeFileSync(file, Buffer.alloc(64 * MiB, 1));
    const out = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const curl = spawn('curl', ['-sS', '-o', '-', '-w', '\n%{http_code}', '-X', 'POST', '--data-binary', `@${file}`,
        '-H', `authorization: Bearer ${business.key}`, '-H', 'content-type: image/jpeg', `${main.url}/v1/image`]);
      let stdout = '';
      let stderr = '';
      curl.stdout.on('data', (c: Buffer) => (stdout += c));
      curl.stderr.on('data', (c: Buffer) => (stderr += c));
      curl.on('exit', (code) => resolve({ code, stdout, stderr }));
    });
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    const [body, status] = out.stdout.split('\n');
    expect(status).toBe('403');
    expect(JSON.parse(body!).error.code).toBe('forbidden');
  });

  it('keeps serving, and nothing of the refused uploads is left', async () => {
    expect((await fetch(`${main.url}/healthz`)).status).toBe(200);
    expect((await admin.json('GET', '/v1/images')).body.items).toEqual([]);
    expect(listFiles(path.join(mainDir, 'tmp'))).toEqual([]);
    expect(listFiles(path.join(mainDir, 'originals'))).toEqual([]);
  });
});
