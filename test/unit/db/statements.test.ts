/**
 * Every statement of every repository compiles and prepares on a migrated SQLite database. The
 * adapter prepares a statement at its first call (server/db/sqlite/executor.ts), so a query that
 * SQLite refuses (a column a migration never made, a dialect's function in the wrong place)
 * would otherwise surface only when that call first runs.
 */
import { describe, expect, it } from 'vitest';
import { createRepositories } from '../../../server/db/repositories.js';
import { openTestSqlite, sqliteStatementsOf } from '../../helpers/database.js';

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
