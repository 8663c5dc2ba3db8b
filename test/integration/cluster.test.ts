/**
 * The cluster acceptance test (CONTRACT §9, issue "cluster mode"): three node processes A, B
 * and C on one PostgreSQL database and one bucket (--storage s3), each with its own data dir
 * and node id. What one node takes, every node answers; a node killed mid-batch loses nothing
 * and does nothing twice; the database or the bucket away for 10 s gives 503s, never 500s or
 * hangs, and loses nothing accepted; the purge runs once per schedule slot.
 *
 * The tests run in order on one cluster (starting three servers is the slow part).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster, type ClusterNode } from '../helpers/cluster.js';
import { run } from '../helpers/child.js';
import { eventually } from '../helpers/eventually.js';
import { sha256 } from '../helpers/hash.js';
import { fixture, solid } from '../helpers/images.js';
import { ApiClient } from '../helpers/server.js';
import { openSse, type SseStream } from '../helpers/sse.js';
import { TusClient } from '../helpers/tus.js';

let cluster: Cluster;
let a: ClusterNode;
let b: ClusterNode;
let c: ClusterNode;
const streams: SseStream[] = [];

beforeAll(async () => {
  cluster = await startCluster({ nodes: ['node-a', 'node-b', 'node-c'] });
  [a, b, c] = cluster.nodes as [ClusterNode, ClusterNode, ClusterNode];
}, 120_000);
afterAll(async () => {
  for (const s of streams) s.close();
  await cluster?.close();
});

/** A new key of `role` for `customer`, made on `node`. */
async function keyOn(node: ClusterNode, customer: string, role = 'user'): Promise<string> {
  const res = await node.admin.json('POST', '/v1/keys', { customer, role });
  expect(res.status).toBe(201);
  return res.body.key as string;
}

/** The processed objects of an image, by variant: processed/<id>/<variant>.<12hex>.<ext>. */
function processedByVariant(keys: string[], id: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const k of keys.filter((k) => k.startsWith(`processed/${id}/`))) {
    const variant = k.split('/')[2]!.split('.')[0]!;
    (out[variant] ??= []).push(k);
  }
  return out;
}

describe('three nodes on one database and one bucket', () => {
  it('answers on every node what one node took: multipart, raw and tus uploads, their events, a tus upload finished on another node, keys', { timeout: 90_000 }, async () => {
    // A key made on B works on A (and C): keys are rows of the one database.
    const key = await keyOn(b, 'acme');
    const onA = a.as(key);
    const onB = b.as(key);
    const onC = c.as(key);
    const stream = await openSse(`${c.url}/v1/events`, onC.headers());
    streams.push(stream);
    expect(stream.status).toBe(200);

    // And one made with the CLI straight in the database, with no server involved.
    const cli = await run(['keys', 'create', '--database-url', cluster.databaseUrl, '--customer', 'acme', '--role', 'user']);
    expect(cli.code, cli.stderr).toBe(0);
    const cliKey = /drk_\S+/.exec(cli.stdout)?.[0];
    expect(cliKey).toBeDefined();
    expect((await a.as(cliKey!).json('GET', '/v1/images')).status).toBe(200);

    const multipartData = await solid(640, 480, 'jpeg', '#225588');
    const rawData = await solid(500, 400, 'png', '#882255');
    const tusData = fixture('ipx-bliss.jpg');
    const multipart = await onA.upload([{ name: 'm.jpg', data: multipartData, type: 'image/jpeg' }]);
    expect(multipart.status).toBe(202);
    const raw = await onA.uploadRaw(rawData, 'r.png', 'image/png');
    expect(raw.status).toBe(202);
    const tusA = new TusClient(onA);
    const created = await tusA.create(tusData.length, { filename: 't.jpg' });
    expect(created.status).toBe(201);
    const whole = await tusA.patch(created.location!, 0, tusData);
    expect(whole.status).toBe(204);
    const tusId = whole.headers.get('darkroom-image-id')!;

    // A tus upload begun on A and finished on B.
    const resumed = fixture('ipx-husky-snow.jpg');
    const begun = await tusA.create(resumed.length, { filename: 'resumed.jpg' });
    expect(begun.status).toBe(201);
    const half = Math.floor(resumed.length / 2);
    expect((await tusA.patch(begun.location!, 0, resumed.subarray(0, half))).status).toBe(204);
    const tusB = new TusClient(onB);
    const head = await tusB.head(begun.location!);
    expect(head.status).toBe(200);
    expect(head.offset).toBe(half);
    const last = await tusB.patch(begun.location!, half, resumed.subarray(half));
    expect(last.status).toBe(204);
    const resumedId = last.headers.get('darkroom-image-id')!;
    // Asked again on C, the finished upload names the same image.
    expect((await new TusClient(onC).head(begun.location!)).offset).toBe(resumed.length);

    const uploads: Array<[string, Buffer]> = [
      [multipart.body.id, multipartData],
      [raw.body.id, rawData],
      [tusId, tusData],
      [resumedId, resumed],
    ];
    for (const [id, data] of uploads) {
      const done = await onB.waitFor(id);
      expect(done).toMatchObject({ status: 'done', sha256: sha256(data) });
      for (const node of [onA, onB, onC]) {
        const record = await node.json('GET', `/v1/image/${id}`);
        expect(record.status).toBe(200);
        expect(record.body.status).toBe('done');
        const original = await node.download(id, 'original');
        expect(original.status).toBe(200);
        expect(original.body.equals(data)).toBe(true);
      }
      const thumbs = await Promise.all([onA, onB, onC].map((n) => n.download(id, 'thumb')));
      for (const t of thumbs) expect(t.status).toBe(200);
      expect(thumbs[1]!.body.equals(thumbs[0]!.body)).toBe(true);
      expect(thumbs[2]!.body.equals(thumbs[0]!.body)).toBe(true);
      await stream.waitFor((e) => e.event === 'image.status' && e.data.includes(id) && e.data.includes('"done"'), 10_000);
    }
    for (const node of [onB, onC]) {
      const list = await node.json('GET', '/v1/images?limit=100');
      expect(list.status).toBe(200);
      const ids = list.body.items.map((i: { id: string }) => i.id);
      for (const [id] of uploads) expect(ids).toContain(id);
    }
    // One upload was one image: the finished tus upload was taken in once, not by A and B both.
    const all = (await onC.json('GET', '/v1/images?limit=100')).body.items as Array<{ sha256: string }>;
    expect(all.filter((i) => i.sha256 === sha256(resumed))).toHaveLength(1);
  });

  it('the same last part of a tus upload sent to three nodes at once makes one image and answers only 204, 409 or 423', { timeout: 120_000 }, async () => {
    const key = await keyOn(c, 'tus-race');
    const data = fixture('ipx-bliss.jpg');
    const rounds = Number(process.env.DARKROOM_TUS_RACE_ROUNDS ?? 3);
    for (let round = 0; round < rounds; round++) {
      const created = await new TusClient(a.as(key)).create(data.length, { filename: `race${round}.jpg` });
      expect(created.status).toBe(201);
      const half = Math.floor(data.length / 2);
      expect((await new TusClient(a.as(key)).patch(created.location!, 0, data.subarray(0, half))).status).toBe(204);
      const answers = await Promise.all([a, b, c].map((n) => new TusClient(n.as(key)).patch(created.location!, half, data.subarray(half))));
      // Each answer is the finished upload (204 with the image id) or a conflict of offsets
      // (409) or the lock of the upload held elsewhere (423): never a second image, and never
      // an answer saying the upload is missing or gone.
      for (const res of answers) expect([204, 409, 423], `${JSON.stringify(res.body)}\n${[a, b, c].map((n) => n.state()).join("\n")}`).toContain(res.status);
      const ids = new Set(answers.filter((r) => r.status === 204).map((r) => r.headers.get('darkroom-image-id')));
      expect(ids.size).toBe(1);
      const head = await new TusClient(b.as(key)).head(created.location!);
      expect(head.offset).toBe(data.length);
      const id = [...ids][0]!;
      expect((await c.as(key).waitFor(id)).sha256).toBe(sha256(data));
    }
    const images = (await c.as(key).json('GET', '/v1/images?limit=100')).body.items as Array<{ id: string }>;
    expect(images).toHaveLength(rounds);
  });

  it('holds presets and signed links made on one node on every node: one generated signing key, kept in the database', { timeout: 60_000 }, async () => {
    const key = await keyOn(a, 'links-co');
    const data = fixture('imaginary-medium.jpg');
    const up = await a.as(key).upload([{ name: 'l.jpg', data, type: 'image/jpeg' }]);
    expect(up.status).toBe(202);
    const id = up.body.id as string;
    expect((await b.admin.json('PUT', '/v1/presets/cluster-card', { w: 120, h: 80, fit: 'cover', format: 'webp' })).status).toBe(200);
    // Made on C from the preset B stored; loaded, without a key, on A and B: each node verifies
    // with the same key (no --url-signing-keys: the one generated by the first node to start).
    const made = await c.as(key).json('POST', `/v1/image/${id}/links`, { preset: 'cluster-card', expiresIn: '1h' });
    expect(made.status, JSON.stringify(made.body)).toBe(201);
    const bodies: Buffer[] = [];
    for (const node of [a, b, c]) {
      const res = await fetch(made.body.url.replace(/^http:\/\/[^/]+/, node.url));
      expect(res.status, node.id).toBe(200);
      expect(res.headers.get('cache-control')).toMatch(/^public, max-age=\d+$/);
      bodies.push(Buffer.from(await res.arrayBuffer()));
    }
    expect(bodies[1]!.equals(bodies[0]!) && bodies[2]!.equals(bodies[0]!)).toBe(true);
    const changed = await fetch(made.body.url.replace(/^http:\/\/[^/]+/, b.url).replace('w=120', 'w=121'));
    expect(changed.status).toBe(403);
    await changed.arrayBuffer();
    const { rows } = await cluster.db.query('SELECT count(*)::int AS n FROM link_signing_key');
    expect(rows[0].n).toBe(1);
  });

  it('a node killed with SIGKILL mid-batch: another takes its jobs over within 60 s, every image done once, one object per variant besides those the delete journal holds', { timeout: 150_000 }, async () => {
    const key = await keyOn(a, 'batch');
    const onA = a.as(key);
    const ids: string[] = [];
    // Large enough that a batch of 30 takes the cluster a while.
    const images = await Promise.all(Array.from({ length: 30 }, (_, i) => solid(1800, 1400, 'jpeg', `#${(0x102030 + i * 0x050403).toString(16).slice(-6)}`)));
    for (let i = 0; i < images.length; i += 5) {
      const res = await onA.upload(images.slice(i, i + 5).map((data, j) => ({ name: `b${i + j}.jpg`, data, type: 'image/jpeg' })));
      expect(res.status, JSON.stringify(res.body)).toBe(202);
      const items = (Array.isArray(res.body) ? res.body : [res.body]) as Array<{ id: string }>;
      ids.push(...items.map((x) => x.id));
    }
    expect(ids).toHaveLength(30);

    // The victim: a node running a job of the batch right now (not A, whose clients we hold).
    const running = await eventually(async () => {
      const rows = (
        await cluster.db.query<{ lease_node: string; image_id: string }>(
          "SELECT lease_node, image_id FROM jobs WHERE status = 'running' AND image_id = ANY($1) AND lease_node <> 'node-a'",
          [ids],
        )
      ).rows;
      return rows.length ? rows : undefined;
    }, 30_000, 'a job of the batch running on B or C');
    const victim = cluster.node(running[0]!.lease_node);
    const survivor = victim === b ? c : b;
    const heldIds = running.filter((r) => r.lease_node === victim.id).map((r) => r.image_id);
    await victim.kill();
    const killedAt = Date.now();
    try {
      await afterKill();
    } finally {
      // The next tests want three nodes again.
      await victim.restart();
    }
    async function afterKill() {

    const onSurvivor = survivor.as(key);
    for (const id of heldIds) {
      expect((await onSurvivor.waitFor(id, ['done', 'failed'], 60_000)).status).toBe('done');
    }
    expect(Date.now() - killedAt).toBeLessThan(60_000 + 10_000);
    for (const id of ids) expect((await onSurvivor.waitFor(id, ['done', 'failed'], 60_000)).status).toBe('done');

    // Done exactly once: each image's job finished once, and the stats count 30 processed.
    const jobs = (
      await cluster.db.query<{ image_id: string; kind: string; status: string }>(
        "SELECT image_id, kind, status FROM jobs WHERE image_id = ANY($1) AND queue = 'image'",
        [ids],
      )
    ).rows;
    for (const id of ids) expect(jobs.filter((j) => j.image_id === id && j.kind === 'process_image' && j.status === 'done')).toHaveLength(1);
    const stats = await survivor.admin.json('GET', '/v1/stats?groupBy=customer');
    expect(stats.status).toBe(200);
    expect(stats.body.groups.find((g: { customer: string }) => g.customer === 'batch')).toMatchObject({ processed: 30 });

    // In the bucket: one object per variant that nothing journals, the one its row names.
    // What the dead node wrote without committing is journalled: a decided delete the janitor
    // carries out within a minute, or the intent of an upload that never committed, which falls
    // due INTENT_MS after it was made (services/blob-placement.ts). Nothing is left untracked.
    await eventually(async () => {
      const keys = await cluster.keys('processed/');
      const journalled = new Set((await cluster.db.query<{ key: string }>('SELECT key FROM blob_deletes')).rows.map((r) => r.key));
      const recorded = new Set(
        (await cluster.db.query<{ path: string }>("SELECT path FROM variants WHERE image_id = ANY($1) AND status = 'done'", [ids])).rows.map((r) => r.path),
      );
      return ids.every((id) => {
        const byVariant = processedByVariant(keys.filter((k) => !journalled.has(k)), id);
        return (
          Object.keys(byVariant).sort().join() === 'display,thumb' &&
          Object.values(byVariant).every((v) => v.length === 1 && recorded.has(v[0]!))
        );
      });
    }, 90_000, 'exactly one untracked object per variant of every image, the one its row names');
    }
  });

  /**
   * Uploads and GETs on every node in a loop while something is away: every answer noted with
   * its time, for the checks after.
   */
  function traffic(key: string, sample: Buffer) {
    const answers: Array<{ node: string; what: string; status: number | 'error'; ms: number; code?: string; retryAfter?: string | null; id?: string }> = [];
    let stopped = false;
    const loop = async (node: ClusterNode) => {
      const client = new ApiClient(node.url, key);
      while (!stopped) {
        let started = Date.now();
        try {
          const res = await client.upload([{ name: 'loop.jpg', data: sample, type: 'image/jpeg' }]);
          answers.push({ node: node.id, what: 'upload', status: res.status, ms: Date.now() - started, code: res.body?.error?.code, retryAfter: res.headers.get('retry-after'), id: res.body?.id });
          const id = res.body?.id ?? answers.find((x) => x.id)?.id;
          if (id) {
            started = Date.now();
            const got = await client.json('GET', `/v1/image/${id}`);
            answers.push({ node: node.id, what: 'get', status: got.status, ms: Date.now() - started, code: got.body?.error?.code, retryAfter: got.headers.get('retry-after') });
          }
        } catch (err) {
          answers.push({ node: node.id, what: `error ${(err as Error).message}`, status: 'error', ms: Date.now() - started });
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    const loops = cluster.nodes.map(loop);
    return {
      answers,
      async stop() {
        stopped = true;
        await Promise.all(loops);
      },
    };
  }

  /** The nodes' log lines about jobs that failed, for a failure's message. */
  const failuresLogged = () =>
    cluster.nodes
      .flatMap((n) => (n.child.stdout() + n.child.stderr()).split('\n'))
      .filter((l) => l.includes('job failed'))
      .join('\n');

  async function readyzOf(node: ClusterNode) {
    return (await node.admin.json('GET', '/readyz')).status;
  }

  /** Every answer 2xx, or 503 unavailable with Retry-After; none took past `limitMs`. */
  function expectOnly2xxOr503(answers: ReturnType<typeof traffic>['answers'], limitMs: number) {
    const bad = answers.filter(
      (x) => !(typeof x.status === 'number' && ((x.status >= 200 && x.status < 300) || (x.status === 503 && x.code === 'unavailable' && /^\d+$/.test(x.retryAfter ?? '')))),
    );
    expect(bad).toEqual([]);
    expect(answers.filter((x) => x.ms > limitMs)).toEqual([]);
  }

  it('PostgreSQL stopped for 10 s under traffic: 2xx or 503 unavailable, /readyz 503 everywhere, every accepted upload kept and processed', { timeout: 120_000 }, async () => {
    const key = await keyOn(a, 'outage-db');
    const sample = await solid(320, 240, 'jpeg', '#556677');
    const load = traffic(key, sample);
    await new Promise((r) => setTimeout(r, 1_500));
    cluster.pg.stop();
    try {
      for (const node of cluster.nodes) await eventually(async () => (await readyzOf(node)) === 503, 8_000, `/readyz 503 on ${node.state()}`);
      await new Promise((r) => setTimeout(r, 8_000));
      for (const node of cluster.nodes) expect(await readyzOf(node)).toBe(503);
    } finally {
      cluster.pg.start();
    }
    for (const node of cluster.nodes) await eventually(async () => (await readyzOf(node)) === 200, 30_000, `ready again: ${node.state()}`);
    await new Promise((r) => setTimeout(r, 1_000));
    await load.stop();

    // Statement timeout (15 s) + the client's margin (5 s) + a little.
    expectOnly2xxOr503(load.answers, 22_000);
    expect(load.answers.some((x) => x.status === 503)).toBe(true);
    const accepted = load.answers.filter((x) => x.what === 'upload' && x.status === 202).map((x) => x.id!);
    expect(accepted.length).toBeGreaterThan(0);
    const client = b.as(key);
    for (const id of accepted) {
      const record = await client.waitFor(id, ['done', 'failed'], 60_000);
      expect(record.status, `${JSON.stringify(record)}\n${failuresLogged()}`).toBe('done');
    }
  });

  it('the bucket stopped for 10 s under traffic: uploads 503, /readyz 503 everywhere, accepted uploads kept', { timeout: 120_000 }, async () => {
    const key = await keyOn(a, 'outage-s3');
    const sample = await solid(320, 240, 'jpeg', '#776655');
    const load = traffic(key, sample);
    await new Promise((r) => setTimeout(r, 1_500));
    await cluster.s3.stop();
    try {
      for (const node of cluster.nodes) await eventually(async () => (await readyzOf(node)) === 503, 8_000, `/readyz 503 on ${node.state()}`);
      await new Promise((r) => setTimeout(r, 8_000));
      for (const node of cluster.nodes) expect(await readyzOf(node)).toBe(503);
    } finally {
      await cluster.s3.restart();
    }
    for (const node of cluster.nodes) await eventually(async () => (await readyzOf(node)) === 200, 30_000, `ready again: ${node.state()}`);
    await new Promise((r) => setTimeout(r, 1_000));
    await load.stop();

    expectOnly2xxOr503(load.answers, 22_000);
    expect(load.answers.some((x) => x.what === 'upload' && x.status === 503)).toBe(true);
    const accepted = load.answers.filter((x) => x.what === 'upload' && x.status === 202).map((x) => x.id!);
    expect(accepted.length).toBeGreaterThan(0);
    const client = c.as(key);
    for (const id of accepted) {
      const record = await client.waitFor(id, ['done', 'failed'], 60_000);
      expect(record.status, `${JSON.stringify(record)}\n${failuresLogged()}`).toBe('done');
      expect((await client.download(id, 'original')).body.equals(sample)).toBe(true);
    }
  });

  it('runs the purge once per schedule slot with three nodes; expired variants answer 410 on every node', { timeout: 90_000 }, async () => {
    // Every 2 s, processed files living 4 s.
    const args = ['--purge-schedule', '*/2 * * * * *', '--processed-ttl', '4s'];
    // A finished purge job is removed (its effects are recorded elsewhere): a trigger of the
    // test's own notes every purge job queued.
    await cluster.db.query(`
      CREATE TABLE test_purges_queued (job_id BIGINT, at BIGINT);
      CREATE FUNCTION test_note_purge() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN INSERT INTO test_purges_queued VALUES (NEW.id, NEW.created_at); RETURN NEW; END $$;
      CREATE TRIGGER test_note_purge AFTER INSERT ON jobs FOR EACH ROW WHEN (NEW.kind = 'purge') EXECUTE FUNCTION test_note_purge();
    `);
    for (const node of cluster.nodes) await node.restart(args);
    const since = Date.now();
    const key = await keyOn(a, 'purge');
    const res = await a.as(key).upload([{ name: 'p.jpg', data: await solid(300, 200, 'jpeg', '#118844'), type: 'image/jpeg' }]);
    expect(res.status).toBe(202);
    const id = res.body.id as string;
    expect((await a.as(key).waitFor(id)).status).toBe('done');
    for (const node of cluster.nodes) {
      await eventually(async () => (await node.as(key).download(id, 'thumb')).status === 410, 20_000, `thumb 410 on ${node.id}`);
    }
    await eventually(async () => (await cluster.keys(`processed/${id}/`)).length === 0, 20_000, 'expired objects gone from the bucket');
    // Let a few more slots pass with all three nodes firing.
    await new Promise((r) => setTimeout(r, 4_000));

    const slots = (await cluster.db.query<{ slot: number }>("SELECT slot FROM schedule_slots WHERE slot >= $1 ORDER BY slot", [Math.floor(since / 1000) * 1000])).rows;
    const purges = (await cluster.db.query<{ n: number }>('SELECT count(*)::int AS n FROM test_purges_queued WHERE at >= $1', [since])).rows[0]!.n;
    expect(slots.length).toBeGreaterThanOrEqual(5);
    // Slots 2 s apart, each taken once; at most one purge job per slot however many nodes
    // fired (one fewer when a slot found the last one still queued: the lane keeps one).
    for (let i = 1; i < slots.length; i++) expect(slots[i]!.slot - slots[i - 1]!.slot).toBeGreaterThanOrEqual(2_000);
    expect(purges).toBeLessThanOrEqual(slots.length);
    expect(purges).toBeGreaterThanOrEqual(slots.length - 1);
  });
});
