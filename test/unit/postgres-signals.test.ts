/**
 * The PostgreSQL adapter of the cluster signals port (db/postgres/postgres-signals.ts): two
 * adapters on one private PostgreSQL database, as two nodes would have them.
 */
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import type { SignalChannel, SignalPayloads } from '../../server/cluster/signals.js';
import { NOTIFY_STATEMENT, notification, openPostgresSignals, type PostgresSignals } from '../../server/db/postgres/postgres-signals.js';
import { privatePostgres } from '../helpers/postgres.js';

const opened: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const o of opened.splice(0).reverse()) await o.close();
});

async function database() {
  const server = await privatePostgres();
  return server.url(await server.createDatabase());
}

async function signalsOn(url: string): Promise<PostgresSignals> {
  const signals = await openPostgresSignals({ url, reconnect: { minMs: 50, maxMs: 500 } });
  opened.push(signals);
  await signals.listening();
  return signals;
}

/** Every payload `signals` receives on `channel`, in order. */
function received<C extends SignalChannel>(signals: PostgresSignals, channel: C): Array<SignalPayloads[C]> {
  const got: Array<SignalPayloads[C]> = [];
  signals.subscribe(channel, (payload) => got.push(payload));
  return got;
}

async function until(check: () => boolean, ms = 5_000) {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('cluster signals on PostgreSQL', () => {
  it('delivers a publish on one node to the other, in the order published, and to its own subscribers once', async () => {
    const url = await database();
    const a = await signalsOn(url);
    const b = await signalsOn(url);
    const onA = received(a, 'image.status');
    const onB = received(b, 'image.status');
    const jobsOnB = received(b, 'jobs');
    const sent = Array.from({ length: 50 }, (_, i) => ({ id: `img-${i}`, customer: 'acme', status: i % 2 ? 'done' : 'processing' }) as const);
    for (const event of sent) a.publish('image.status', event);
    // The publisher's own subscribers at once, synchronously.
    expect(onA).toEqual(sent);
    await until(() => onB.length === sent.length);
    expect(onB).toEqual(sent);
    a.publish('jobs', {});
    await until(() => jobsOnB.length === 1);
    // Nothing comes back to the publisher through LISTEN a second time, and B's own channel is
    // not crossed with another's.
    await pause(300);
    expect(onA).toHaveLength(sent.length);
    expect(onB).toHaveLength(sent.length);
    expect(jobsOnB).toEqual([{}]);
    expect(a.crossProcess).toBe(true);
  });

  it('delivers a NOTIFY of a transaction at its commit only, and nothing of one rolled back', async () => {
    const url = await database();
    const b = await signalsOn(url);
    const onB = received(b, 'jobs.cancelled');
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    opened.push({ close: () => client.end() });
    const send = (ids: number[]) => {
      const [name, text] = notification('jobs.cancelled', { ids }, 'another-node');
      return client.query(NOTIFY_STATEMENT, [[name], [text]]);
    };

    await client.query('BEGIN');
    await send([1]);
    await client.query('ROLLBACK');
    await client.query('BEGIN');
    await send([2]);
    await pause(300);
    // Not before the commit…
    expect(onB).toEqual([]);
    await client.query('COMMIT');
    // …then, and only the committed one.
    await until(() => onB.length === 1);
    await pause(300);
    expect(onB).toEqual([{ ids: [2] }]);
  });

  it('listens again after its connection is terminated, and tells its runners to look for jobs at once', async () => {
    const url = await database();
    const a = await signalsOn(url);
    const b = await signalsOn(url);
    const onB = received(b, 'image.status');
    const jobsOnB = received(b, 'jobs');
    const before = b.listenerPid();
    expect(before).toBeTypeOf('number');

    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    opened.push({ close: () => admin.end() });
    const { rows } = await admin.query<{ ok: boolean }>('SELECT pg_terminate_backend($1) AS ok', [before]);
    expect(rows[0]!.ok).toBe(true);

    // Back, on a new connection, and the missed notifications stand for a look at the queue.
    await until(() => b.listenerPid() !== undefined && b.listenerPid() !== before);
    await until(() => jobsOnB.length === 1);
    a.publish('image.status', { id: 'after', customer: 'acme', status: 'done' });
    await until(() => onB.length === 1);
    expect(onB).toEqual([{ id: 'after', customer: 'acme', status: 'done' }]);
  });

  it('keeps trying while the database is down, and listens again when it is back', async () => {
    const server = await privatePostgres();
    const url = server.url(await server.createDatabase());
    const a = await signalsOn(url);
    const b = await signalsOn(url);
    const onB = received(b, 'image.status');
    server.stop();
    try {
      await until(() => b.listenerPid() === undefined);
      // A publish while down is dropped for other nodes (signals are hints), not thrown.
      a.publish('image.status', { id: 'lost', customer: 'acme', status: 'done' });
      await pause(700);
    } finally {
      server.start();
    }
    await b.listening();
    await a.listening();
    a.publish('image.status', { id: 'back', customer: 'acme', status: 'done' });
    await until(() => onB.some((e) => e.id === 'back'));
    expect(onB.map((e) => e.id)).toEqual(['back']);
  });
});
