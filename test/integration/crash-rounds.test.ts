/**
 * kill -9 at random moments, 20 times over, on one data dir: the server runs as a child process,
 * uploads (raw, multipart, tus) and processing go on when it is killed, and after every restart
 * `darkroom verify` finds nothing missing, corrupt or orphaned, and every image that was
 * answered 202 reaches `done`.
 *
 * Seeded: the seed is printed, and CRASH_SEED=<seed> replays the same moments and choices.
 */
import fs from 'node:fs';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { run, spawnServer, type ChildServer } from '../helpers/child.js';
import { eventually } from '../helpers/eventually.js';
import { ADMIN_KEY, ApiClient, tempDir, type JsonResponse } from '../helpers/server.js';
import { TusClient } from '../helpers/tus.js';
import { seededRandom } from '../helpers/seeded-random.js';

const ROUNDS = 20;
/** Uploads a round sends at most (three at a time): enough that the kill lands among them or among their jobs. */
const MAX_UPLOADS_PER_ROUND = 24;
/** The kill comes this long at most after the round's uploads begin. */
const MAX_KILL_DELAY_MS = 600;
const dataDir = tempDir('darkroom-crash-rounds-');
let server: ChildServer | undefined;

afterAll(() => {
  server?.proc.kill('SIGKILL');
  fs.rmSync(dataDir, { recursive: true, force: true });
});

/** Small photo-like JPEGs (a few tens of KB), each different. */
async function photos(n: number): Promise<Buffer[]> {
  return Promise.all(
    Array.from({ length: n }, (_, k) => {
      const raw = Buffer.alloc(240 * 180 * 3);
      for (let i = 0; i < raw.length; i++) raw[i] = (i * 13 + k * 7919 + ((i / 720) | 0) * 37) & 0xff;
      return sharp(raw, { raw: { width: 240, height: 180, channels: 3 } }).jpeg({ quality: 85 }).toBuffer();
    }),
  );
}

const start = () =>
  // info: the line saying start-up reconciliation is done is what the round waits for.
  spawnServer(['serve', '--data-dir', dataDir, '--port', '0', '--workers', '2', '--admin-key', ADMIN_KEY], { DARKROOM_LOG_LEVEL: 'info' });

/** One upload, raw, multipart or tus by `way` (0..1); the image id if it was answered 202 (or tus's 204). */
async function uploadOne(client: ApiClient, data: Buffer, way: number, name: string): Promise<string | undefined> {
  try {
    if (way < 0.4) {
      const res = await client.uploadRaw(data, name, 'image/jpeg');
      return res.status === 202 ? res.body.id : undefined;
    }
    if (way < 0.8) {
      const res = await client.upload([{ name, data }]);
      return res.status === 202 ? res.body.id : undefined;
    }
    const tus = new TusClient(client);
    const created = await tus.create(data.length, { filename: name });
    if (created.status !== 201) return undefined;
    const half = Math.floor(data.length / 2);
    if ((await tus.patch(created.location!, 0, data.subarray(0, half))).status !== 204) return undefined;
    const last = await tus.patch(created.location!, half, data.subarray(half));
    return last.status === 204 ? (last.headers.get('darkroom-image-id') ?? undefined) : undefined;
  } catch {
    return undefined; // cut off by the kill: never answered, so never promised
  }
}

/** Every image the server lists, by id. */
async function statuses(client: ApiClient): Promise<Map<string, { status: string; error?: unknown }>> {
  const out = new Map<string, { status: string; error?: unknown }>();
  let cursor: string | null = null;
  do {
    const res: JsonResponse = await client.json('GET', `/v1/images?limit=500${cursor ? `&cursor=${cursor}` : ''}`);
    for (const item of res.body.items) out.set(item.id, { status: item.status, error: item.error });
    cursor = res.body.nextCursor;
  } while (cursor);
  return out;
}

describe('kill -9 at random moments', () => {
  it(`${ROUNDS} rounds: after each restart verify is clean and every 202 reaches done`, async () => {
    const seed = Number(process.env.CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));
    console.log(`crash rounds: seed ${seed} (CRASH_SEED=${seed} replays it)`);
    const random = seededRandom(seed).next;
    const pool = await photos(30);
    const accepted = new Set<string>();
    const started = Date.now();
    const killedAt: string[] = [];

    for (let round = 0; round <= ROUNDS; round++) {
      server = await start();
      const client = new ApiClient(server.url, ADMIN_KEY);
      const child = server;
      if (round > 0) {
        await eventually(() => child.stderr().includes('data dir reconciled after an unclean stop'), 30_000, `round ${round}: reconciled`);
      }
      // Every image answered 202 in any earlier round is (or becomes) done.
      await eventually(
        async () => {
          const listed = await statuses(client);
          for (const id of accepted) {
            const image = listed.get(id);
            expect(image, `round ${round}: image ${id} (seed ${seed})`).toBeDefined();
            expect(image!.status, `round ${round}: image ${id} ${JSON.stringify(image!.error)} (seed ${seed})`).not.toBe('failed');
            if (image!.status !== 'done') return false;
          }
          return true;
        },
        30_000,
        `round ${round}: every accepted image done`,
      );

      const verified = await run(['verify', '--data-dir', dataDir]);
      expect(verified.stdout + verified.stderr, `round ${round}: verify (seed ${seed})`).toMatch(/nothing missing, corrupt or orphaned/);
      expect(verified.code, `round ${round}: verify exit code (seed ${seed})`).toBe(0);
      if (round === ROUNDS) break;

      // Uploads, and the jobs they make, until the kill at a random moment among them. Drawn
      // before anything starts, so a seed replays the same choices whatever the timing.
      const plan = Array.from({ length: MAX_UPLOADS_PER_ROUND }, () => ({ image: Math.floor(random() * pool.length), way: random() }));
      const delay = Math.floor(random() * MAX_KILL_DELAY_MS);
      let stopUploading = false;
      let sent = 0;
      let answered = 0;
      const uploaders = Array.from({ length: 3 }, async (_, lane) => {
        while (!stopUploading && sent < MAX_UPLOADS_PER_ROUND) {
          const n = sent++;
          const id = await uploadOne(client, pool[plan[n]!.image]!, plan[n]!.way, `r${round}-${lane}-${n}.jpg`);
          // Answered before the kill landed (even just before): promised all the same.
          if (id) {
            accepted.add(id);
            answered++;
          }
        }
      });
      await new Promise((r) => setTimeout(r, delay));
      server.proc.kill('SIGKILL');
      stopUploading = true;
      await server.exited;
      await Promise.all(uploaders);
      killedAt.push(`${delay} ms: ${answered}/${sent}`);
    }

    // The last server stops cleanly; everything it was given is done.
    const client = new ApiClient(server!.url, ADMIN_KEY);
    await eventually(
      async () => [...(await statuses(client)).values()].every((i) => i.status === 'done'),
      30_000,
      'last uploads done',
    );
    server!.proc.kill('SIGTERM');
    expect(await server!.exited).toBe(0);
    const final = await run(['verify', '--data-dir', dataDir]);
    expect(final.code, final.stdout).toBe(0);
    console.log(
      `crash rounds: ${ROUNDS} kills (after the uploads began: answered/sent) ${killedAt.join(', ')}; ${accepted.size} images answered 202, all done; ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
  }, 150_000);
});
