import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnServer, type ChildServer } from '../helpers/child.js';
import { eventually } from '../helpers/eventually.js';
import { ADMIN_KEY, ApiClient, tempDir } from '../helpers/server.js';

const dataDir = tempDir('darkroom-watch-crash-');
const folder = tempDir('darkroom-watch-crash-photos-');
const FILES = 40;
let server: ChildServer | undefined;

afterAll(() => {
  server?.proc.kill('SIGKILL');
  for (const d of [dataDir, folder]) fs.rmSync(d, { recursive: true, force: true });
});

const start = () => spawnServer(['serve', '--data-dir', dataDir, '--port', '0', '--workers', '1', '--admin-key', ADMIN_KEY, '--watch', folder]);

async function watched(client: ApiClient): Promise<{ ingested: number; rejected: number; pending: number }> {
  const res = await client.json('GET', '/v1/watch');
  return res.body.items[0].counts;
}

describe('kill -9 during watch-folder ingests', () => {
  it('loses no file and takes none twice: the files waiting are jobs, found again after the restart', async () => {
    for (let i = 0; i < FILES; i++) {
      const data = await sharp(crypto.randomBytes(500 * 400 * 3), { raw: { width: 500, height: 400, channels: 3 } }).jpeg({ quality: 95 }).toBuffer();
      fs.writeFileSync(path.join(folder, `p${String(i).padStart(2, '0')}.jpg`), data);
    }
    // Untouched for longer than the write-finish wait: taken as soon as they are found.
    const past = new Date(Date.now() - 60_000);
    for (const name of fs.readdirSync(folder)) fs.utimesSync(path.join(folder, name), past, past);

    server = await start();
    let client = new ApiClient(server.url, ADMIN_KEY);
    // Some files ingested, others still waiting: then kill.
    await eventually(async () => {
      const c = await watched(client);
      return c.ingested >= 1 && c.ingested < FILES - 2;
    }, 30_000, 'ingest under way');
    server.proc.kill('SIGKILL');
    expect(await server.exited).toBe('SIGKILL');
    const db = new Database(path.join(dataDir, 'darkroom.db'), { readonly: true });
    const waiting = db.prepare(`SELECT count(*) AS n FROM jobs WHERE kind = 'watch_ingest'`).get() as { n: number };
    db.close();
    expect(waiting.n).toBeGreaterThan(0);

    server = await start();
    client = new ApiClient(server.url, ADMIN_KEY);
    await eventually(async () => {
      const c = await watched(client);
      return c.ingested === FILES && c.pending === 0;
    }, 60_000, 'every file ingested');
    const images = (await client.json('GET', '/v1/images?limit=100')).body.items as Array<{ filename: string }>;
    expect(images.map((i) => i.filename).sort()).toEqual(fs.readdirSync(folder).sort());
    const after = new Database(path.join(dataDir, 'darkroom.db'), { readonly: true });
    try {
      expect(after.prepare(`SELECT count(*) AS n FROM jobs WHERE kind = 'watch_ingest'`).get()).toEqual({ n: 0 });
    } finally {
      after.close();
    }
  });
});
