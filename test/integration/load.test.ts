import net from 'node:net';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnServer, type ChildServer } from '../helpers/child.js';
import { ADMIN_KEY, ApiClient, tempDir } from '../helpers/server.js';

/*
 * Limits under load and attack (CONTRACT §13), all at once, against the server as a child
 * process on loopback: 40 uploaders for 30 s against a queue of 20, while 150 clients hold
 * half-sent request headers (and come back when dropped). Every answer must be readable, nothing
 * 5xx, every accepted image done, and /healthz answering throughout.
 */

const UPLOADERS = 40;
const SLOW_CLIENTS = 150;
const LOAD_MS = 30_000;
const HEALTH_EVERY_MS = 250;
const HEALTH_IN_TIME_MS = 2_000;

let server: ChildServer;
let clients: ApiClient[];
let images: Buffer[];

beforeAll(async () => {
  server = await spawnServer([
    'serve', '--data-dir', tempDir(), '--port', '0', '--admin-key', ADMIN_KEY,
    '--workers', '2', '--max-queued-jobs', '20', '--headers-timeout', '10s',
  ]);
  const admin = new ApiClient(server.url, ADMIN_KEY);
  clients = [];
  for (let i = 0; i < 4; i++) {
    const res = await admin.json('POST', '/v1/keys', { customer: `studio-${i}`, role: 'user' });
    clients.push(new ApiClient(server.url, res.body.key));
  }
  // Small real photos-to-be, one per uploader, so processing keeps up with the queue.
  images = await Promise.all(
    Array.from({ length: UPLOADERS }, (_, i) =>
      sharp({ create: { width: 320, height: 240, channels: 3, background: { r: (i * 37) % 256, g: (i * 91) % 256, b: (i * 13) % 256 } } })
        .jpeg({ quality: 80 })
        .toBuffer(),
    ),
  );
});

afterAll(async () => {
  server.proc.kill('SIGTERM');
  await server.exited;
});

interface Tally {
  statuses: Map<number, number>;
  networkErrors: string[];
  unreadable: string[];
  accepted: Array<{ id: string; client: ApiClient }>;
}

async function uploader(index: number, until: number, tally: Tally) {
  const client = clients[index % clients.length]!;
  const image = images[index]!;
  while (Date.now() < until) {
    try {
      const res =
        index % 2 === 0
          ? await client.request('POST', '/v1/image', { body: image, headers: { 'content-type': 'image/jpeg', 'x-filename': `p${index}.jpg` } })
          : await client.request('POST', '/v1/image', { body: form(image, `p${index}.jpg`) });
      const text = await res.text();
      tally.statuses.set(res.status, (tally.statuses.get(res.status) ?? 0) + 1);
      let body: any;
      try {
        body = JSON.parse(text);
      } catch {
        tally.unreadable.push(`${res.status}: ${text.slice(0, 80)}`);
        continue;
      }
      if (res.status === 202) tally.accepted.push({ id: body.id, client });
      else if (res.status === 429) {
        if (body.error?.code !== 'too_many_requests' || !res.headers.get('retry-after')) tally.unreadable.push(`429 without code or Retry-After: ${text}`);
        // A well-behaved client backs off, briefly here to keep the pressure on.
        await new Promise((r) => setTimeout(r, 100 + Math.random() * 200));
      } else if (!body.error?.code) tally.unreadable.push(`${res.status}: ${text.slice(0, 80)}`);
    } catch (err) {
      const e = err as Error & { cause?: { code?: string } };
      tally.networkErrors.push(e.cause?.code ?? e.message);
    }
  }
}

function form(image: Buffer, name: string): FormData {
  const body = new FormData();
  body.append('image', new Blob([image], { type: 'image/jpeg' }), name);
  return body;
}

/** A client that sends part of its request headers and then a byte now and then, forever. */
function holdHalfSentHeaders(until: number, stats: { dropped: number; open: number }) {
  const { port } = new URL(server.url);
  const connect = () => {
    if (Date.now() >= until) return;
    const socket = net.connect(Number(port), '127.0.0.1', () => {
      stats.open++;
      socket.write('POST /v1/image HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/jpeg\r\nX-Slow: ');
    });
    const trickle = setInterval(() => socket.write('z'), 3_000);
    socket.on('error', () => {});
    socket.on('close', (hadError) => {
      clearInterval(trickle);
      if (socket.bytesWritten > 0) {
        stats.open--;
        stats.dropped++;
      }
      // Dropped by the server (or refused): an attacker comes straight back.
      if (!hadError || Date.now() < until) setTimeout(connect, 50);
    });
    sockets.add(socket);
  };
  const sockets = new Set<net.Socket>();
  for (let i = 0; i < SLOW_CLIENTS; i++) connect();
  return () => {
    for (const socket of sockets) socket.destroy();
  };
}

async function pollHealth(until: number, slow: string[]): Promise<number> {
  let polls = 0;
  while (Date.now() < until) {
    const started = Date.now();
    polls++;
    try {
      const res = await fetch(`${server.url}/healthz`, { signal: AbortSignal.timeout(HEALTH_IN_TIME_MS) });
      await res.text();
      if (res.status !== 200) slow.push(`status ${res.status}`);
    } catch (err) {
      slow.push(`no answer within ${HEALTH_IN_TIME_MS} ms: ${(err as Error).message}`);
    }
    await new Promise((r) => setTimeout(r, Math.max(0, HEALTH_EVERY_MS - (Date.now() - started))));
  }
  return polls;
}

describe('load: 40 uploaders and 150 half-sent headers for 30 s', () => {
  it('answers every request readably, without 5xx, keeps /healthz answering, and processes every accepted image', async () => {
    const until = Date.now() + LOAD_MS;
    const tally: Tally = { statuses: new Map(), networkErrors: [], unreadable: [], accepted: [] };
    const slowStats = { dropped: 0, open: 0 };
    const unhealthy: string[] = [];

    const stopSlow = holdHalfSentHeaders(until, slowStats);
    const [polls] = await Promise.all([pollHealth(until, unhealthy), ...Array.from({ length: UPLOADERS }, (_, i) => uploader(i, until, tally))]);
    stopSlow();

    const summary = Object.fromEntries(tally.statuses);
    console.log(
      `load: ${JSON.stringify(summary)} answers, ${tally.accepted.length} accepted, ${tally.networkErrors.length} network errors; ` +
        `/healthz ${polls} polls, ${unhealthy.length} late; half-sent headers dropped ${slowStats.dropped} times`,
    );
    expect(tally.networkErrors).toEqual([]);
    expect(tally.unreadable).toEqual([]);
    expect([...tally.statuses.keys()].filter((s) => s >= 500)).toEqual([]);
    expect(unhealthy).toEqual([]);
    expect(polls).toBeGreaterThan(LOAD_MS / HEALTH_EVERY_MS / 2);
    // The queue limit really was reached: the test would prove nothing otherwise.
    expect(tally.statuses.get(429) ?? 0).toBeGreaterThan(0);
    expect(tally.accepted.length).toBeGreaterThan(UPLOADERS);
    // The header clients were dropped by --headers-timeout (10 s) and came back.
    expect(slowStats.dropped).toBeGreaterThanOrEqual(SLOW_CLIENTS);

    // Every accepted image reaches done: with at most 20 jobs waiting, this is quick.
    const deadline = Date.now() + 30_000;
    const pending = new Set(tally.accepted.map((a) => a.id));
    while (pending.size && Date.now() < deadline) {
      for (const client of clients) {
        let cursor: string | undefined;
        do {
          const page = await client.json('GET', `/v1/images?status=done&limit=500${cursor ? `&cursor=${cursor}` : ''}`);
          for (const item of page.body.items) pending.delete(item.id);
          cursor = page.body.nextCursor ?? undefined;
        } while (cursor);
      }
      if (pending.size) await new Promise((r) => setTimeout(r, 500));
    }
    expect([...pending]).toEqual([]);
  }, 120_000);
});
