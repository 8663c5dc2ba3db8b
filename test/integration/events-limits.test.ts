import fs from 'node:fs';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../helpers/child.js';
import { ApiClient, startTestServer, type TestServer } from '../helpers/server.js';
import { openSse, type SseStream } from '../helpers/sse.js';

/*
 * Live events (CONTRACT §14): a stream ends within 5 s of its key being revoked, through the API
 * or the CLI in another process; at most 20 open streams per key.
 */

let t: TestServer;
const streams: SseStream[] = [];

beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => {
  for (const s of streams) s.close();
  await t.close();
});

/** Whether the kernel holds an established TCP connection from `localPort` to `remotePort` (Linux: /proc/net/tcp). */
function isEstablished(localPort: number, remotePort: number): boolean {
  const hex = (port: number) => `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return fs
    .readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .some((line) => {
      const [, local, remote, state] = line.trim().split(/\s+/);
      return local?.endsWith(hex(localPort)) && remote?.endsWith(hex(remotePort)) && state === '01';
    });
}

async function newKey(customer: string) {
  const res = await t.admin.json('POST', '/v1/keys', { customer, role: 'user' });
  expect(res.status).toBe(201);
  return { id: res.body.id as string, client: new ApiClient(t.url, res.body.key) };
}

async function open(client: ApiClient) {
  const stream = await openSse(`${t.url}/v1/events`, client.headers());
  streams.push(stream);
  return stream;
}

/** Resolves with how long the stream took to end, or rejects after `limitMs`. */
async function endsWithin(stream: SseStream, limitMs: number): Promise<number> {
  const started = Date.now();
  await Promise.race([
    stream.ended,
    new Promise((_, reject) => setTimeout(() => reject(new Error(`stream still open after ${limitMs} ms`)), limitMs)),
  ]);
  return Date.now() - started;
}

describe('event streams and revoked keys', () => {
  it('ends a stream within 5 s of its key being revoked through the API', async () => {
    const { id, client } = await newKey('revoked-by-api');
    const stream = await open(client);
    expect(stream.status).toBe(200);
    const keep = await open(t.admin);
    expect((await t.admin.json('DELETE', `/v1/keys/${id}`)).status).toBe(204);
    const took = await endsWithin(stream, 5_000);
    console.log(`stream ended ${took} ms after revocation through the API`);
    // The revoked key cannot open another; other keys' streams go on.
    expect((await open(client)).status).toBe(401);
    const still = await Promise.race([keep.ended.then(() => 'ended'), new Promise((r) => setTimeout(() => r('open'), 1_500))]);
    expect(still).toBe('open');
  });

  it('ends a stream within 5 s of its key being revoked by `darkroom keys revoke` in another process', async () => {
    const { id, client } = await newKey('revoked-by-cli');
    const stream = await open(client);
    expect(stream.status).toBe(200);
    const revoked = await run(['keys', 'revoke', id, '--data-dir', t.dataDir]);
    expect(revoked.code).toBe(0);
    const took = await endsWithin(stream, 5_000);
    console.log(`stream ended ${took} ms after revocation by the CLI`);
  });
});

describe('a stream whose client stopped reading', () => {
  it('is closed within 5 s of its key being revoked, and the server goes on serving', async () => {
    const { id, client } = await newKey('not-reading');
    const socket = net.connect(t.server.port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(`GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${client.key}\r\n\r\n`);
    // It reads nothing from now on: what the server sends piles up in the kernel and then in the server.
    socket.pause();
    socket.on('error', () => {});
    await new Promise((r) => setTimeout(r, 200));
    const emit = (n: number) => {
      for (let i = 0; i < n; i++) {
        t.server.parts.lifecycle.events.emit('status', { id: `00000000-0000-7000-8000-${String(i).padStart(12, '0')}`, customer: 'not-reading', status: 'done' });
      }
    };
    // About 450 KB: more than the kernel takes for a client that does not read, less than the
    // server buffers before it gives up on a stream (1 MiB).
    emit(5_000);
    await new Promise((r) => setTimeout(r, 300));
    // The server's end of the connection, as the kernel sees it: still open, what the client did
    // not read fits in the kernel's and the server's buffers.
    const serverSide = () => isEstablished(t.server.port, socket.localPort!);
    expect(serverSide()).toBe(true);
    expect((await t.admin.json('DELETE', `/v1/keys/${id}`)).status).toBe(204);
    const revokedAt = Date.now();
    // Events and heartbeats keep coming for the customer while the stream is ending.
    setTimeout(() => emit(10), 50);
    setTimeout(() => emit(10), 1_200);
    // The client cannot tell (it reads nothing): the server must have let go of the connection.
    let closedAt = Number.POSITIVE_INFINITY;
    while (Date.now() - revokedAt < 6_000) {
      if (!serverSide()) {
        closedAt = Date.now();
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(closedAt - revokedAt).toBeLessThan(5_000);
    socket.destroy();
    await new Promise((r) => setTimeout(r, 1_500));
    expect((await fetch(`${t.url}/healthz`)).status).toBe(200);
  });

  it('answers HEAD with the headers alone, holding no stream', async () => {
    const res = await t.admin.request('HEAD', '/v1/events');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
  });
});

describe('open streams per key', () => {
  it('allows 20 and answers the 21st 429 with Retry-After; a closed one makes room; other keys are not affected', async () => {
    const { client } = await newKey('many-tabs');
    const open20 = await Promise.all(Array.from({ length: 20 }, () => open(client)));
    expect(open20.map((s) => s.status)).toEqual(Array(20).fill(200));

    const res = await client.request('GET', '/v1/events');
    expect(res.status).toBe(429);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((await res.json()) as any).error.code).toBe('too_many_requests');

    const { client: neighbour } = await newKey('neighbour');
    expect((await open(neighbour)).status).toBe(200);

    open20[0]!.close();
    // The server notices the closed connection at once; poll briefly for the room it leaves.
    let again: SseStream | undefined;
    for (let i = 0; i < 20 && again?.status !== 200; i++) {
      again = await open(client);
      if (again.status !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    expect(again!.status).toBe(200);
  });
});
