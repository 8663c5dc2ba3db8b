import fs from 'node:fs';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../helpers/child.js';
import { S3RVER_CREDENTIALS, startS3rver, syncIdle, type S3rver } from '../helpers/s3rver.js';
import { solid } from '../helpers/images.js';
import { ADMIN_KEY, startTestServer, tempDir } from '../helpers/server.js';

let s3: S3rver;
const dataDir = tempDir('darkroom-s3-startup-');

beforeAll(async () => {
  s3 = await startS3rver('startup-bucket');
});
afterAll(async () => {
  await s3?.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const serve = (flags: string[], env: NodeJS.ProcessEnv = S3RVER_CREDENTIALS) =>
  run(['serve', '--data-dir', dataDir, '--port', '0', '--admin-key', ADMIN_KEY, '--s3-force-path-style', 'true', ...flags], {
    DARKROOM_LOG_LEVEL: 'info',
    ...env,
  });

/** Start-up failed with exactly one line on stderr, nothing on stdout. */
function oneLine(result: { code: number | null; stdout: string; stderr: string }): string {
  expect(result.code).toBe(1);
  expect(result.stdout).toBe('');
  const lines = result.stderr.trimEnd().split('\n');
  expect(lines, result.stderr).toHaveLength(1);
  return lines[0]!;
}

describe('start-up checks the bucket', () => {
  it('fails with one line when the endpoint is unreachable', async () => {
    const endpoint = `http://127.0.0.1:${await closedPort()}`;
    const line = oneLine(await serve(['--s3-bucket', 'startup-bucket', '--s3-endpoint', endpoint]));
    expect(line).toBe(`darkroom: S3 bucket "startup-bucket" at ${endpoint} is unreachable: ECONNREFUSED (the endpoint is unreachable)`);
  });

  it('fails with one line when the credentials are wrong', async () => {
    const line = oneLine(
      await serve(['--s3-bucket', 'startup-bucket', '--s3-endpoint', s3.endpoint], { AWS_ACCESS_KEY_ID: 'WRONG', AWS_SECRET_ACCESS_KEY: 'WRONG' }),
    );
    expect(line).toMatch(new RegExp(`^darkroom: S3 bucket "startup-bucket" at ${s3.endpoint} refused the credentials \\(403`));
  });

  it('fails with one line when the bucket does not exist', async () => {
    const line = oneLine(await serve(['--s3-bucket', 'no-such-bucket', '--s3-endpoint', s3.endpoint]));
    expect(line).toBe(`darkroom: S3 bucket "no-such-bucket" at ${s3.endpoint}: the bucket does not exist`);
  });

  it('refuses --local-originals-max-bytes without a bucket', async () => {
    const result = await run(['serve', '--data-dir', dataDir, '--port', '0', '--local-originals-max-bytes', '10GB']);
    expect(oneLine(result)).toBe('darkroom: invalid --local-originals-max-bytes: needs --s3-bucket (evicted originals are fetched back from the bucket)');
  });

  it('leaves the data dir untouched when it fails', () => {
    expect(fs.readdirSync(dataDir)).toEqual([]);
  });
});

describe('without a bucket', () => {
  it('answers GET /v1/sync with enabled: false, and syncs what is stored once a bucket is given', async () => {
    const t = await startTestServer();
    try {
      expect((await t.admin.json('GET', '/v1/sync')).body).toEqual({ enabled: false });
      expect((await t.admin.json('POST', '/v1/sync/retry')).body).toEqual({ requeued: 0 });
      const user = await t.client('user', 'acme');
      expect((await user.json('GET', '/v1/sync')).status).toBe(403);
      expect(await (await fetch(`${t.url}/metrics`)).text()).not.toContain('darkroom_sync_');

      // Sync turned on later for this data dir: what is already stored goes to the bucket.
      const res = await t.admin.upload([{ name: 'before.png', data: await solid(320, 240, 'png', '#abcdef') }]);
      const record = await t.admin.waitFor(res.body.id);
      await t.close();
      const synced = await startTestServer({ dataDir: t.dataDir, config: s3.options('later'), start: { s3: { pollMs: 50 } } });
      try {
        await syncIdle(synced.admin, (status) => status.synced.objects === 3, 30_000, 'existing files synced');
        expect([...(await s3.objects('later/')).keys()].sort()).toEqual(
          [`later/originals/${record.sha256}`, `later/processed/${record.id}/display.webp`, `later/processed/${record.id}/thumb.webp`].sort(),
        );
        expect(await s3.sha256Of(`later/originals/${record.sha256}`)).toBe(record.sha256);
      } finally {
        await synced.close();
      }
    } finally {
      await t.close();
      fs.rmSync(t.dataDir, { recursive: true, force: true });
    }
  });
});
