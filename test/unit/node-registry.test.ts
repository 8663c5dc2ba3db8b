/** This node's row in the node registry (cluster/node-registry.ts), over a real SQLite database. */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createNodeRegistry } from '../../server/cluster/node-registry.js';
import { eventually } from '../helpers/eventually.js';
import { openTestSqlite } from '../helpers/database.js';

const logger = pino({ level: 'silent' });

describe('node registry', () => {
  it('beats with the jobs running, calls a silent node unreachable after three heartbeats, and marks a clean stop', async () => {
    const db = openTestSqlite();
    let now = 1_000_000;
    let running = 0;
    const clock = { now: () => now };
    const other = createNodeRegistry({ nodes: db.repos.nodes, nodeId: 'b', version: '1', clock, logger, jobsRunning: () => 0, soleNode: false, heartbeatMs: 60_000 });
    await other.start();
    const me = createNodeRegistry({ nodes: db.repos.nodes, nodeId: 'a', version: '1', clock, logger, jobsRunning: () => running, soleNode: false, heartbeatMs: 50 });
    now += 1_000;
    await me.start();
    running = 3;
    await eventually(async () => (await me.list()).find((n) => n.id === 'a')?.jobsRunning === 3, 5_000, 'the heartbeat carried the jobs running');
    // b has written nothing for more than three of ITS heartbeats as this node counts them (50 ms).
    expect((await me.list()).map((n) => `${n.id}:${n.state}:${n.self}`)).toEqual(['a:up:true', 'b:unreachable:false']);
    await me.stop();
    expect((await other.list()).find((n) => n.id === 'a')).toMatchObject({ state: 'stopped', jobsRunning: 0, self: false });
    await other.stop();
  });

  it('where it is the only node (SQLite), marks the others stopped at start; elsewhere leaves them be', async () => {
    const db = openTestSqlite();
    const clock = { now: () => Date.now() };
    await db.repos.nodes.register({ id: 'crashed', version: '1', at: Date.now() - 1_000 });
    const shared = createNodeRegistry({ nodes: db.repos.nodes, nodeId: 'a', version: '1', clock, logger, jobsRunning: () => 0, soleNode: false });
    await shared.start();
    expect((await shared.list()).find((n) => n.id === 'crashed')!.state).toBe('up');
    await shared.stop();
    const sole = createNodeRegistry({ nodes: db.repos.nodes, nodeId: 'b', version: '1', clock, logger, jobsRunning: () => 0, soleNode: true });
    await sole.start();
    expect((await sole.list()).map((n) => `${n.id}:${n.state}`).sort()).toEqual(['a:stopped', 'b:up', 'crashed:stopped']);
    await sole.stop();
  });

  it('registers again when its row was forgotten meanwhile', async () => {
    const db = openTestSqlite();
    const registry = createNodeRegistry({ nodes: db.repos.nodes, nodeId: 'a', version: '1', clock: { now: () => Date.now() }, logger, jobsRunning: () => 1, soleNode: false, heartbeatMs: 60_000 });
    await registry.start();
    await db.repos.nodes.forget(Date.now() + 1);
    expect(await registry.list()).toEqual([]);
    await registry.beat();
    expect(await registry.list()).toMatchObject([{ id: 'a', state: 'up' }]);
    await registry.stop();
  });
});
