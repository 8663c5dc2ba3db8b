/**
 * Every statement of every repository compiles and prepares on a migrated database of each
 * dialect. The adapters prepare a statement at its first call, so a query that the database
 * refuses (a column a migration never made, a dialect's function in the wrong place, on
 * PostgreSQL a parameter whose type it cannot infer) would otherwise surface only when that call
 * first runs.
 */
import { describe, expect, it } from 'vitest';
import { createRepositories } from '../../../server/db/repositories.js';
import { openTestPostgres, openTestSqlite, postgresStatementsOf, sqliteStatementsOf } from '../../helpers/database.js';

describe('repository statements on SQLite', () => {
  it('all compile against the migrated schema', () => {
    const db = openTestSqlite({ fsync: false });
    const statements = sqliteStatementsOf(createRepositories);
    expect(statements.length).toBeGreaterThan(100);
    const refused = statements.flatMap(({ sql }) => {
      try {
        db.connection.prepare(sql);
        return [];
      } catch (err) {
        return [`${(err as Error).message}: ${sql}`];
      }
    });
    expect(refused).toEqual([]);
  });
});

describe('repository statements on PostgreSQL', () => {
  it('all prepare against the migrated schema, every parameter of a type PostgreSQL can infer', async () => {
    const db = await openTestPostgres();
    const statements = postgresStatementsOf(createRepositories);
    expect(statements.length).toBeGreaterThan(100);
    const client = await db.pool.connect();
    try {
      const refused: string[] = [];
      for (const [i, { sql }] of statements.entries()) {
        try {
          await client.query(`PREPARE statement_${i} AS ${sql}`);
        } catch (err) {
          refused.push(`${(err as Error).message}: ${sql}`);
        }
      }
      expect(refused).toEqual([]);
    } finally {
      client.release();
    }
  });
});
