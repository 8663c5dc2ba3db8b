/**
 * GET /v1/nodes: the node registry (CONTRACT §9: the nodes, with version, started, jobs running
 * and last seen, and which stopped answering), and what a restart does to it. With SQLite there
 * is one node at a time, so other nodes are rows put in the registry as other nodes write them.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import sharp from 'sharp';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../server/config.js';
import { startServer } from '../../server/main.js';
import { spawnServer, type ChildServer } from '../helpers/child.js';
import { ADMIN_KEY, ApiClient, startTestServer, tempDir, type TestServer } from '../helpers/server.js';

const VERSION = (JSON.parse(fs.readFileSync(path.join(import.meta.dirname, '../../package.json'), 'utf8')) as { version: string }).version;

describe('GET /v1/nodes', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ config: { nodeId: 'node-a' } });
  });
  afterAll(() => t.close());

  it('lists this node, up, with its version, start and heartbeat', async () => {
    const res = await t.admin.json('GET', '/v1/nodes');
    expect(res.status).toBe(200);
    expect(res.body.items).toEqual([
      { id: 'node-a', version: VERSION, startedAt: expect.any(String), lastSeenAt: expect.any(String), jobsRunning: 0, state: 'up', self: true },
    ]);
    expect(Date.now() - Date.parse(res.body.items[0].lastSeenAt)).toBeLessThan(10_000);
  });

  it('marks a node not heard from for three heartbeats unreachable, and one that stopped cleanly stopped', async () => {
    const nodes = t.server.parts.database.repos.nodes;
    const now = Date.now();
    await nodes.register({ id: 'node-b', version: '0.9.0', at: now - 60_000 });
    await nodes.heartbeat('node-b', now - 20_000, 2);
    await nodes.register({ id: 'node-c', version: VERSION, at: now - 30_000 });
    await nodes.markStopped('node-c', now - 10_000);
    // Started after this one.
    await nodes.register({ id: 'node-d', version: VERSION, at: now });
    await nodes.heartbeat('node-d', now, 1);
    const res = await t.admin.json('GET', '/v1/nodes');
    const byId = Object.fromEntries(res.body.items.map((n: { id: string }) => [n.id, n]));
    expect(byId['node-b']).toMatchObject({ state: 'unreachable', jobsRunning: 2, version: '0.9.0', self: false, lastSeenAt: new Date(now - 20_000).toISOString() });
    expect(byId['node-c']).toMatchObject({ state: 'stopped', jobsRunning: 0, self: false });
    expect(byId['node-d']).toMatchObject({ state: 'up', jobsRunning: 1, self: false });
    // Most recently started first.
    expect(res.body.items.map((n: { id: string }) => n.id)).toEqual(['node-d', 'node-a', 'node-c', 'node-b']);
  });

  it('is for admins: a user or business key gets 403, no key 401', async () => {
    expect((await (await t.client('user', 'acme')).json('GET', '/v1/nodes')).status).toBe(403);
    expect((await (await t.client('business', 'acme')).json('GET', '/v1/nodes')).status).toBe(403);
    expect((await new ApiClient(t.url, undefined).json('GET', '/v1/nodes')).status).toBe(401);
  });

  it('marks this node stopped when it stops cleanly', async () => {
    const dataDir = tempDir('darkroom-nodes-');
    const first = await startTestServer({ dataDir, config: { nodeId: 'first' } });
    await first.close();
    const second = await startTestServer({ dataDir, config: { nodeId: 'second' } });
    try {
      const items = (await second.admin.json('GET', '/v1/nodes')).body.items as Array<{ id: string; state: string }>;
      expect(items.map((n) => `${n.id}:${n.state}`)).toEqual(['second:up', 'first:stopped']);
    } finally {
      await second.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('--node-id in the logs', () => {
  it('is named in every line the server logs', async () => {
    const dataDir = tempDir('darkroom-node-log-');
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
    const server = await startServer(parseConfig({ dataDir, port: '0', workers: '1', adminKey: ADMIN_KEY, minFreeBytes: '1MB', nodeId: 'logging-node' }), {
      logger,
      print: () => {},
    });
    await fetch(`${server.url}/v1/nodes`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    await server.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
    const records = lines.map((l) => JSON.parse(l) as { node?: string; msg?: string });
    expect(records.map((r) => r.msg)).toEqual(expect.arrayContaining(['ready', 'shutting down', 'stopped']));
    expect(records.filter((r) => r.node !== 'logging-node')).toEqual([]);
  });
});

describe('a node killed mid-job and a restart under another node id', () => {
  const dataDir = tempDir('darkroom-node-kill-');
  let server: ChildServer | undefined;
  afterAll(() => {
    server?.proc.kill('SIGKILL');
    fs.rmSync(dataDir, { recursive: true, force: true });
  });
  const start = (nodeId: string) => spawnServer(['serve', '--data-dir', dataDir, '--port', '0', '--workers', '1', '--admin-key', ADMIN_KEY, '--node-id', nodeId]);

  it('resumes the job at once (SQLite: one node per data dir, so the dead one\'s jobs need no lease to lapse), and lists the dead node as stopped', async () => {
    server = await start('before-kill');
    let client = new ApiClient(server.url, ADMIN_KEY);
    const noise = Buffer.alloc(1000 * 800 * 3);
    for (let p = 0; p < noise.length; p++) noise[p] = (p * 29 + ((p / 3000) | 0)) & 0xff;
    const data = await sharp(noise, { raw: { width: 1000, height: 800, channels: 3 } }).resize(4000, 3200).jpeg({ quality: 92 }).toBuffer();
    const res = await client.upload([{ name: 'big.jpg', data }]);
    expect(res.status).toBe(202);
    const id = res.body.id as string;
    await client.waitFor(id, ['processing', 'done', 'failed'], 30_000);
    server.proc.kill('SIGKILL');
    expect(await server.exited).toBe('SIGKILL');

    server = await start('after-kill');
    const restarted = Date.now();
    client = new ApiClient(server.url, ADMIN_KEY);
    expect((await client.waitFor(id, ['done', 'failed'], 60_000)).status).toBe('done');
    // Well within a lease (30 s): nothing waited for the dead node's lease to lapse.
    expect(Date.now() - restarted).toBeLessThan(20_000);
    const items = (await client.json('GET', '/v1/nodes')).body.items as Array<{ id: string; state: string; self: boolean }>;
    expect(items.map((n) => `${n.id}:${n.state}`)).toEqual(['after-kill:up', 'before-kill:stopped']);

    const db = new Database(path.join(dataDir, 'darkroom.db'), { readonly: true });
    try {
      const job = db.prepare(`SELECT status, lease_node FROM jobs WHERE image_id = ? AND kind = 'process_image'`).get(id);
      expect(job).toEqual({ status: 'done', lease_node: 'after-kill' });
    } finally {
      db.close();
    }
  });
});
