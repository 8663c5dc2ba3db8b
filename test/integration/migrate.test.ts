/**
 * `darkroom migrate` (CONTRACT §9): a single-node installation, populated by a real server, is
 * copied into a private PostgreSQL and an s3rver bucket, interrupted once (the process killed
 * mid-copy) and run again, and then served by a cluster node: every image, download, key and
 * statistic as before. A damaged file is reported and fails the run.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DARKROOM_BIN, ROOT, run } from '../helpers/child.js';
import { sha256 } from '../helpers/hash.js';
import { solid } from '../helpers/images.js';
import { privatePostgres, type PrivatePostgres } from '../helpers/postgres.js';
import { startS3rver, type S3rver } from '../helpers/s3rver.js';
import { ADMIN_KEY, ApiClient, listFiles, startTestServer, tempDirs, type TestServer } from '../helpers/server.js';

// The source of a migration is the embedded default: SQLite and files in the data dir, whatever
// database the rest of the suite runs on.
delete process.env.DARKROOM_TEST_DATABASE;

const dir = tempDirs('darkroom-migrate-');
const PREFIX = 'cluster';
let s3: S3rver;
let postgres: PrivatePostgres;
let source: string;
let single: TestServer | undefined;
let userKey: string;
let businessKey: string;
/** Each image with its owner's key, which the cluster must accept too. */
const images: Array<{ id: string; key: string; original: Buffer; variants: Record<string, Buffer> }> = [];
let statsBefore: unknown;
/** A signed link made by the single server (with the key it generated): it must load on the cluster. */
let linkUrl: string;
/** Originals and processed files of the installation: what the bucket must end up holding. */
let fileCount = 0;

beforeAll(async () => {
  [s3, postgres] = await Promise.all([startS3rver(), privatePostgres()]);
  source = dir();
  single = await startTestServer({ dataDir: source, config: { workers: '1' } });
  const acme = await single.client('user', 'acme');
  const globex = await single.client('user', 'globex');
  userKey = acme.key!;
  const uploads: Array<[ApiClient, Buffer, string]> = [
    [acme, await solid(90, 60, 'jpeg', '#aa2200'), 'a.jpg'],
    [acme, await solid(40, 70, 'png', '#0022aa'), 'b.png'],
    [acme, await solid(50, 50, 'webp', '#22aa00'), 'c.webp'],
    [globex, await solid(64, 32, 'jpeg', '#777777'), 'd.jpg'],
  ];
  for (const [client, data, name] of uploads) {
    const res = await client.uploadRaw(data, name);
    expect(res.status).toBe(202);
    const record = await client.waitFor(res.body.id);
    expect(record.status).toBe('done');
    const variants: Record<string, Buffer> = {};
    for (const v of record.variants as Array<{ name: string }>) variants[v.name] = (await client.download(record.id, v.name)).body;
    images.push({ id: record.id, key: client.key!, original: data, variants });
    fileCount += 1 + Object.keys(variants).length;
  }
  const business = await single.client('business', 'acme');
  businessKey = business.key!;
  expect((await single.admin.json('PUT', '/v1/presets/moved', { w: 20, format: 'png' })).status).toBe(200);
  const link = await acme.json('POST', `/v1/image/${images[0]!.id}/links`, { preset: 'moved' });
  expect(link.status).toBe(201);
  linkUrl = link.body.url;
  statsBefore = (await business.json('GET', '/v1/stats?groupBy=customer,format')).body;
}, 120_000);
afterAll(async () => {
  await single?.close();
  await s3?.close();
});

const s3Flags = (prefix = PREFIX) => ['--storage', 's3', ...s3.flags(prefix)];
const migrate = (dataDir: string, databaseUrl: string, extra: string[]) => run(['migrate', '--data-dir', dataDir, '--database-url', databaseUrl, ...extra]);

async function count(url: string, table: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return Number((await client.query(`SELECT count(*) AS n FROM ${table}`)).rows[0].n);
  } finally {
    await client.end();
  }
}

describe('darkroom migrate', () => {
  it('refuses while a server holds the data dir', async () => {
    const url = postgres.url(await postgres.createEmptyDatabase());
    const refused = await migrate(source, url, s3Flags());
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/stop it before migrating/);
    await single!.close();
    single = undefined;
  });

  let url: string;
  it('copies the installation into PostgreSQL and the bucket, interrupted once and run again', async () => {
    url = postgres.url(await postgres.createEmptyDatabase());
    // The first run is killed as soon as it has copied a file, the bucket frozen meanwhile so
    // that it cannot get further before the kill lands.
    const child = spawn(process.execPath, [DARKROOM_BIN, 'migrate', '--data-dir', source, '--database-url', url, ...s3Flags()], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<string | number>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? code ?? -1)));
    let err = '';
    child.stderr.on('data', (chunk: Buffer) => {
      err += chunk.toString();
      if (/^copied /m.test(err) && child.exitCode === null && !child.killed) {
        s3.pause();
        child.kill('SIGKILL');
      }
    });
    child.stdout.resume();
    expect(await exited).toBe('SIGKILL');
    s3.resume();
    const partial = (await s3.objects(`${PREFIX}/`)).size;
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(fileCount);
    // Files go first: no row names a file that is not in the bucket yet.
    expect(await count(url, 'images')).toBe(0);

    const resumed = await migrate(source, url, s3Flags());
    expect(resumed.stderr).not.toMatch(/^failed/m);
    expect(resumed.code).toBe(0);
    const files = /files: (\d+) copied \((\d+) bytes\), (\d+) already in the bucket/.exec(resumed.stdout);
    expect(files, resumed.stdout).not.toBeNull();
    expect(Number(files![3])).toBeGreaterThanOrEqual(partial);
    expect(Number(files![1]) + Number(files![3])).toBe(fileCount);
    expect(resumed.stdout).toMatch(/ images: 4 \/ 4$/m);
    expect(resumed.stdout).toMatch(/ variants: \d+ \/ \d+$/m);
    expect(resumed.stdout).toMatch(/ nodes: not copied/m);
    expect(await count(url, 'images')).toBe(4);

    // Every object is what the data dir holds, verified by its sha256.
    for (const image of images) expect(await s3.sha256Of(`${PREFIX}/originals/${sha256(image.original)}`)).toBe(sha256(image.original));
    expect((await s3.objects(`${PREFIX}/`)).size).toBe(fileCount);

    // Run again: nothing new, nothing failed.
    const again = await migrate(source, url, s3Flags());
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/files: 0 copied \(0 bytes\), (\d+) already in the bucket/);
    expect(again.stdout).toMatch(/ images: 0 \/ 4$/m);
  }, 120_000);

  it('leaves a cluster node serving every image, download, key and statistic', async () => {
    const node = await startTestServer({ dataDir: dir(), config: { databaseUrl: url, storage: 's3', ...s3.options(PREFIX), workers: '1' } });
    try {
      for (const image of images) {
        const owner = new ApiClient(node.url, image.key);
        const record = await owner.json('GET', `/v1/image/${image.id}`);
        expect([record.status, record.body.status]).toEqual([200, 'done']);
        const original = await owner.download(image.id, 'original');
        expect([original.status, original.body.equals(image.original)]).toEqual([200, true]);
        for (const [name, bytes] of Object.entries(image.variants)) {
          const variant = await owner.download(image.id, name);
          expect([name, variant.status, variant.body.equals(bytes)]).toEqual([name, 200, true]);
        }
      }
      const user = new ApiClient(node.url, userKey);
      const business = new ApiClient(node.url, businessKey);
      expect((await business.json('GET', '/v1/stats?groupBy=customer,format')).body).toEqual(statsBefore);

      // Presets and the generated link-signing key came along: a link made before still loads.
      expect((await new ApiClient(node.url, ADMIN_KEY).json('GET', '/v1/presets')).body.items.map((p: { name: string }) => p.name)).toEqual(['moved']);
      const linked = await fetch(linkUrl.replace(/^http:\/\/[^/]+/, node.url));
      expect(linked.status).toBe(200);
      expect(linked.headers.get('content-type')).toBe('image/png');
      await linked.arrayBuffer();

      // The copied ids do not collide with new ones: an upload on the cluster is processed.
      const added = await user.uploadRaw(await solid(20, 20, 'png', '#123456'), 'new.png');
      expect(added.status).toBe(202);
      expect((await user.waitFor(added.body.id)).status).toBe('done');
    } finally {
      await node.close();
    }
  }, 120_000);

  it('refuses a database that holds another installation', async () => {
    const other = postgres.url(await postgres.createDatabase());
    const client = new pg.Client({ connectionString: other });
    await client.connect();
    await client.query(
      "INSERT INTO images (id, customer, status, filename, bytes, sha256, format, width, height, source, created_at) VALUES ('someone-elses', 'x', 'done', 'x.png', 1, $1, 'png', 1, 1, 'upload', 0)",
      ['0'.repeat(64)],
    );
    await client.end();
    const refused = await migrate(source, other, s3Flags('other'));
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/another installation \(image someone-elses is not in this data dir\)/);
    expect(await count(other, 'images')).toBe(1);
  });

  it('without --storage s3 copies the rows only, and says that a cluster needs the files in its bucket', async () => {
    const only = postgres.url(await postgres.createEmptyDatabase());
    const copied = await migrate(source, only, []);
    expect(copied.code).toBe(0);
    expect(copied.stdout).toMatch(/ images: 4 \/ 4$/m);
    expect(copied.stdout).toMatch(/files: not copied.*run migrate again with --storage s3/);
  });

  it('reports a damaged file, copies no row, and exits 1', async () => {
    const damaged = dir();
    fs.cpSync(source, damaged, { recursive: true });
    const victim = images[1]!;
    const file = listFiles(damaged).find((f) => f.includes(sha256(victim.original)));
    expect(file).toBeDefined();
    const full = path.isAbsolute(file!) ? file! : path.join(damaged, file!);
    const bytes = fs.readFileSync(full);
    bytes[bytes.length >> 1]! ^= 0xff;
    fs.writeFileSync(full, bytes);

    const target = postgres.url(await postgres.createEmptyDatabase());
    const result = await migrate(damaged, target, s3Flags('damaged'));
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(new RegExp(`failed originals/${sha256(victim.original)}: its bytes hash to [0-9a-f]{64}, not the recorded ${sha256(victim.original)}`));
    expect(result.stdout).toMatch(/rows: none copied/);
    expect(await count(target, 'images')).toBe(0);
    expect((await s3.objects(`damaged/originals/${sha256(victim.original)}`)).size).toBe(0);
  }, 60_000);
});
