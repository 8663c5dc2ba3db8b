/**
 * `darkroom verify` reads a data dir without changing its database: opened read-only, never
 * migrated, so it is safe beside a running server of another version. A schema it was not built
 * for is refused in one line. Real command, real data dir made by a real server.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS } from '../../server/db/sqlite/migrations/index.js';
import { SCHEMA_VERSION } from '../../server/db/sqlite/schema-version.js';
import { run } from '../helpers/child.js';
import { solid } from '../helpers/images.js';
import { startTestServer, tempDirs } from '../helpers/server.js';

const dir = tempDirs('darkroom-verify-schema-');
let template: string;

beforeAll(async () => {
  template = dir();
  const t = await startTestServer({ dataDir: template, config: { workers: '1' } });
  const res = await t.admin.upload([{ name: 'a.png', data: await solid(120, 80, 'png'), type: 'image/png' }]);
  expect((await t.admin.waitFor(res.body.id)).status).toBe('done');
  await t.close();
});


/** A copy of the data dir, its database changed by `change` (a schema of another version). */
function copyOf(change?: (db: Database.Database, file: string) => void) {
  const d = dir();
  fs.cpSync(template, d, { recursive: true });
  if (change) {
    const file = path.join(d, 'darkroom.db');
    const db = new Database(file);
    change(db, file);
    db.close();
  }
  return d;
}

const digest = (file: string) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
const versionOf = (d: string) => {
  const db = new Database(path.join(d, 'darkroom.db'), { readonly: true });
  try {
    const tables = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).all() as Array<{ name: string }>;
    return { version: db.pragma('user_version', { simple: true }), tables: tables.map((t) => t.name) };
  } finally {
    db.close();
  }
};
/** The schema version of the previous release: every migration but the last. */
const PREVIOUS_VERSION = MIGRATIONS[MIGRATIONS.length - 2]!.version;
/** The table the last migration (014) adds: there after the upgrade, not before. */
const ADDED_BY_LAST = 'renders';

/**
 * What the previous version left: the same rows in the schema of every migration but the last,
 * built by those migrations and filled from the current database, column by column.
 */
const previousVersion = (db: Database.Database, file: string) => {
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close(); // (copyOf closes it again: a no-op)
  const current = `${file}.current`;
  fs.renameSync(file, current);
  for (const suffix of ['-wal', '-shm']) fs.rmSync(`${file}${suffix}`, { force: true });
  const previous = new Database(file);
  previous.pragma('foreign_keys = OFF');
  previous.transaction(() => {
    for (const m of MIGRATIONS.slice(0, -1)) previous.exec(m.sql);
    previous.pragma(`user_version = ${PREVIOUS_VERSION}`);
  })();
  previous.prepare('ATTACH ? AS cur').run(current);
  const tables = previous.prepare(`SELECT name FROM main.sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`).all() as Array<{ name: string }>;
  const columnsOf = (schema: string, table: string) => (previous.pragma(`${schema}.table_info(${table})`) as Array<{ name: string }>).map((c) => c.name);
  for (const { name } of tables) {
    const theirs = new Set(columnsOf('cur', name));
    const shared = columnsOf('main', name).filter((c) => theirs.has(c));
    if (!shared.length) continue;
    const list = shared.map((c) => `"${c}"`).join(', ');
    previous.exec(`INSERT OR REPLACE INTO main."${name}" (${list}) SELECT ${list} FROM cur."${name}"`);
  }
  previous.exec('DETACH cur');
  previous.close();
  fs.rmSync(current);
};

describe('darkroom verify and the schema version', () => {
  it('reads a data dir of this version without writing to its database', async () => {
    const d = copyOf();
    const before = digest(path.join(d, 'darkroom.db'));
    const res = await run(['verify', '--data-dir', d]);
    expect(res.stdout).toMatch(/nothing missing, corrupt or orphaned/);
    expect(res.code).toBe(0);
    expect(digest(path.join(d, 'darkroom.db'))).toBe(before);
  });

  it('refuses, in one line and changing nothing, a database of the previous version (its server may still be running)', async () => {
    const d = copyOf(previousVersion);
    const before = digest(path.join(d, 'darkroom.db'));
    const res = await run(['verify', '--data-dir', d]);
    expect(res.code).toBe(2);
    expect(res.stderr.trim().split('\n')).toEqual([
      `darkroom: the database is at schema version ${PREVIOUS_VERSION}, older than this Darkroom's (${SCHEMA_VERSION}): start the server of this version once (it upgrades the database), then run this again`,
    ]);
    expect(res.stdout).toBe('');
    expect(versionOf(d)).toMatchObject({ version: PREVIOUS_VERSION });
    expect(versionOf(d).tables).not.toContain(ADDED_BY_LAST);
    expect(digest(path.join(d, 'darkroom.db'))).toBe(before);
  });

  it('refuses a database of a later version, also with --repair', async () => {
    const d = copyOf((db) => db.pragma(`user_version = ${SCHEMA_VERSION + 1}`));
    for (const args of [[], ['--repair']]) {
      const res = await run(['verify', '--data-dir', d, ...args]);
      expect(res.code).toBe(2);
      expect(res.stderr.trim()).toBe(
        `darkroom: the database is at schema version ${SCHEMA_VERSION + 1}, newer than this Darkroom's (${SCHEMA_VERSION}): use the Darkroom version that wrote it, or a later one`,
      );
    }
    expect(versionOf(d).version).toBe(SCHEMA_VERSION + 1);
    // The refused repair let go of the lock and left no marker of an unclean stop.
    expect(fs.existsSync(path.join(d, 'darkroom.pid'))).toBe(false);
  });

  it('--repair, holding the lock, brings a database of the previous version up to date like a start would', async () => {
    const d = copyOf(previousVersion);
    const res = await run(['verify', '--data-dir', d, '--repair']);
    expect(res.stdout).toMatch(/nothing missing, corrupt or orphaned/);
    expect(res.code).toBe(0);
    expect(versionOf(d).version).toBe(SCHEMA_VERSION);
    expect(versionOf(d).tables).toContain(ADDED_BY_LAST);
    expect((await run(['verify', '--data-dir', d])).code).toBe(0);
  });
});
