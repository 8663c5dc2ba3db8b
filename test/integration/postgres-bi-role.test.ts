/**
 * The BI role where Darkroom's database role may not create roles (a managed database: the
 * application owns its database and nothing more). Its own private PostgreSQL, so that
 * `darkroom_bi` (a role of the whole server) does not exist yet.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgresDatabase } from '../../server/db/postgres/postgres-database.js';
import { privatePostgres, type PrivatePostgres } from '../helpers/postgres.js';

let postgres: PrivatePostgres;
let admin: pg.Client;

beforeAll(async () => {
  postgres = await privatePostgres();
  admin = new pg.Client({ connectionString: postgres.url('postgres') });
  await admin.connect();
  // The helper's template database was migrated as the superuser, which made darkroom_bi: gone
  // again, so that this server is one where nobody has made it yet.
  const template = new pg.Client({ connectionString: postgres.url('darkroom_template') });
  await template.connect();
  await template.query('DROP OWNED BY darkroom_bi');
  await template.end();
  await admin.query('DROP ROLE darkroom_bi');
  await admin.query('CREATE ROLE app LOGIN NOCREATEROLE');
  await admin.query('CREATE DATABASE app_one OWNER app');
  await admin.query('CREATE DATABASE app_two OWNER app');
});
afterAll(() => admin?.end());

const asApp = (database: string) => postgres.url(database).replace('postgres@', 'app@');

async function readAsTool(database: string) {
  const tool = new pg.Client({ connectionString: postgres.url(database).replace('postgres@', 'tool@') });
  await tool.connect();
  try {
    const views = await Promise.allSettled([tool.query('SELECT count(*) FROM darkroom_stats_daily'), tool.query('SELECT count(*) FROM darkroom_images')]);
    const table = await tool.query('SELECT 1 FROM images').then(
      () => 'read',
      (err: { code?: string }) => err.code,
    );
    return { views: views.map((v) => v.status), table };
  } finally {
    await tool.end();
  }
}

describe('the BI role, migrated by a role that may not create roles', () => {
  it('is left for an administrator, the migration succeeding and logging the SQL to run', async () => {
    const notices: string[] = [];
    const db = await openPostgresDatabase({ url: asApp('app_one'), onMigrationNotice: (m) => notices.push(m) });
    await db.close();
    expect((await admin.query("SELECT 1 FROM pg_roles WHERE rolname = 'darkroom_bi'")).rows).toEqual([]);
    // What the server logs: the SQL an administrator runs.
    expect(notices).toEqual([
      'role darkroom_bi is missing and app may not create roles; an administrator runs: CREATE ROLE darkroom_bi NOLOGIN; GRANT USAGE ON SCHEMA public TO darkroom_bi; GRANT SELECT ON public.darkroom_stats_daily, public.darkroom_images TO darkroom_bi;',
    ]);
    // The views are there all the same, the app's own.
    const app = new pg.Client({ connectionString: asApp('app_one') });
    await app.connect();
    expect((await app.query('SELECT count(*)::int AS n FROM darkroom_images')).rows).toEqual([{ n: 0 }]);
    await app.end();
  });

  it('works once an administrator has run the documented SQL (docs/statistics.md)', async () => {
    await admin.query('CREATE ROLE darkroom_bi NOLOGIN');
    await admin.query('CREATE ROLE tool LOGIN IN ROLE darkroom_bi');
    const one = new pg.Client({ connectionString: postgres.url('app_one') });
    await one.connect();
    await one.query('GRANT USAGE ON SCHEMA public TO darkroom_bi');
    await one.query('GRANT SELECT ON darkroom_stats_daily, darkroom_images TO darkroom_bi');
    await one.end();
    expect(await readAsTool('app_one')).toEqual({ views: ['fulfilled', 'fulfilled'], table: '42501' });
  });

  it('is granted the views by the migration itself where the role exists', async () => {
    const db = await openPostgresDatabase({ url: asApp('app_two') });
    await db.close();
    expect(await readAsTool('app_two')).toEqual({ views: ['fulfilled', 'fulfilled'], table: '42501' });
  });
});
