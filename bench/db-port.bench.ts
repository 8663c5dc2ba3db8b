/**
 * What the database port costs over calling better-sqlite3 directly, both in the same run with
 * alternating rounds: a key lookup (every request makes one), a unit of work of three writes
 * (the shape of an upload's commit), and what building and compiling a Kysely query on every
 * call would cost (why the port compiles each query once).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openSqliteDatabase } from '../server/db/sqlite/sqlite-database.js';
import { sqliteQueryBuilder } from '../server/db/sqlite/dialect.js';
import { median, type BenchEntry } from './report.js';

/** Microseconds per call of `fn` over `n` calls, awaited one after another. */
async function timeAsync(n: number, fn: (i: number) => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await fn(i);
  return Number(process.hrtime.bigint() - t0) / 1000 / n;
}

function timeSync(n: number, fn: (i: number) => unknown): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn(i);
  return Number(process.hrtime.bigint() - t0) / 1000 / n;
}

/** Runs both sides in alternating rounds after a warm-up; the medians of the rounds. */
async function alternate(rounds: number, n: number, direct: (n: number) => Promise<number> | number, port: (n: number) => Promise<number>) {
  await direct(Math.min(n, 500));
  await port(Math.min(n, 500));
  const directRuns: number[] = [];
  const portRuns: number[] = [];
  for (let r = 0; r < rounds; r++) {
    directRuns.push(await direct(n));
    portRuns.push(await port(n));
  }
  return { direct: median(directRuns), port: median(portRuns) };
}

export async function dbPortBench(options: { quick: boolean }): Promise<BenchEntry[]> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-bench-db-'));
  const db = openSqliteDatabase(path.join(dataDir, 'darkroom.db'));
  const entries: BenchEntry[] = [];
  const rounds = 7;
  try {
    const keys = 10_000;
    db.connection.transaction(() => {
      const insert = db.connection.prepare(
        `INSERT INTO api_keys (id, key_hash, key_prefix, customer, role, name, created_at) VALUES (?, ?, ?, 'acme', 'user', NULL, 1)`,
      );
      for (let i = 0; i < keys; i++) insert.run(`key_${i}`, `hash_${i}`, `drk_${i}`);
    })();

    // A key lookup, as the authentication of every request makes one.
    const byHash = db.connection.prepare(`SELECT * FROM api_keys WHERE key_hash = ?`);
    const n = options.quick ? 20_000 : 100_000;
    const lookup = await alternate(
      rounds,
      n,
      (count) => timeSync(count, (i) => byHash.get(`hash_${i % keys}`)),
      (count) => timeAsync(count, (i) => db.repos.keys.findByHash(`hash_${i % keys}`)),
    );
    entries.push({
      suite: 'db',
      name: 'key lookup through the port',
      value: lookup.port,
      unit: 'µs',
      baseline: { name: 'better-sqlite3 statement called directly', value: lookup.direct },
      ratio: lookup.direct / lookup.port,
      notes: `port overhead ${(lookup.port - lookup.direct).toFixed(2)} µs per call`,
    });

    // Three writes in one transaction, as an upload's commit makes several.
    const insert = db.connection.prepare(
      `INSERT INTO api_keys (id, key_hash, key_prefix, customer, role, name, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
    );
    const touch = db.connection.prepare(`UPDATE api_keys SET last_used_at = ? WHERE id = ?`);
    const revoke = db.connection.prepare(`UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`);
    let next = 0;
    const directUnit = db.connection.transaction((id: string) => {
      insert.run(id, `h_${id}`, 'drk_', 'acme', 'user', null, 1);
      touch.run(2, id);
      revoke.run(3, id);
    });
    const units = options.quick ? 5_000 : 20_000;
    const unit = await alternate(
      rounds,
      units,
      (count) => timeSync(count, () => directUnit(`direct_${next++}`)),
      (count) =>
        timeAsync(count, () =>
          db.unitOfWork(async (repos) => {
            const id = `port_${next++}`;
            await repos.keys.insert({ id, key_hash: `h_${id}`, key_prefix: 'drk_', customer: 'acme', role: 'user', name: null, created_at: 1 });
            await repos.keys.touch(id, 2);
            await repos.keys.revoke(id, 3);
          }),
        ),
    );
    entries.push({
      suite: 'db',
      name: 'unit of work (3 writes) through the port',
      value: unit.port,
      unit: 'µs',
      baseline: { name: 'better-sqlite3 transaction called directly', value: unit.direct },
      ratio: unit.direct / unit.port,
      notes: `port overhead ${(unit.port - unit.direct).toFixed(2)} µs per transaction`,
    });

    // What the port avoids: building and compiling the query with Kysely on every call.
    const compile = timeSync(n, (i) =>
      sqliteQueryBuilder
        .selectFrom('api_keys')
        .selectAll()
        .where('key_hash', '=', `hash_${i % keys}`)
        .compile(),
    );
    entries.push({
      suite: 'db',
      name: 'Kysely build + compile per call (not done: queries compile once)',
      value: compile,
      unit: 'µs',
      notes: 'the cost each call would add if queries were built per call',
    });
  } finally {
    db.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  return entries;
}
