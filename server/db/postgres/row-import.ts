import type { Pool } from 'pg';
import type { CopiedRow, RowSink } from '../row-copy.js';
import { openPostgresDatabase } from './postgres-database.js';

const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;

/** PostgreSQL takes at most 65535 parameters in one statement. */
const MAX_PARAMETERS = 65_535;

/**
 * The cluster's PostgreSQL database written by `darkroom migrate` (db/row-copy.ts). Every
 * insert is `ON CONFLICT DO NOTHING`: a row already there (by its primary key or another
 * unique key) is kept, so a copy interrupted anywhere is finished by running it again.
 *
 * One table is not copied as rows: `job_queues`, the fair queue's count of waiting jobs per
 * customer, which the jobs' own triggers keep (001-initial.ts). Copying its `waiting` would
 * count every copied queued job twice; only the order customers were served in is carried over.
 */
export function postgresRowSink(pool: Pool, close: () => Promise<void>): RowSink {
  const columnsOf = new Map<string, string[]>();

  async function columns(table: string): Promise<string[] | undefined> {
    if (!columnsOf.has(table)) {
      const { rows } = await pool.query<{ column_name: string }>(
        'SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position',
        [table],
      );
      if (rows.length) columnsOf.set(table, rows.map((r) => r.column_name));
    }
    return columnsOf.get(table);
  }

  return {
    columns,

    async insert(table: string, cols: string[], rows: CopiedRow[]): Promise<number> {
      if (!rows.length) return 0;
      const copied = table === 'job_queues' ? cols.filter((c) => c !== 'waiting') : cols;
      const onConflict =
        table === 'job_queues' ? 'ON CONFLICT (customer) DO UPDATE SET served_seq = excluded.served_seq WHERE job_queues.served_seq < excluded.served_seq' : 'ON CONFLICT DO NOTHING';
      const perStatement = Math.max(1, Math.floor(MAX_PARAMETERS / copied.length));
      let inserted = 0;
      for (let start = 0; start < rows.length; start += perStatement) {
        const chunk = rows.slice(start, start + perStatement);
        const values: unknown[] = [];
        const tuples = chunk.map((row) => `(${copied.map((c) => `$${values.push(row[c] ?? null)}`).join(', ')})`);
        const result = await pool.query(`INSERT INTO ${quote(table)} (${copied.map(quote).join(', ')}) VALUES ${tuples.join(', ')} ${onConflict}`, values);
        inserted += result.rowCount ?? 0;
      }
      return inserted;
    },

    async *imageIds(): AsyncIterable<string> {
      let after = '';
      for (;;) {
        const { rows } = await pool.query<{ id: string }>('SELECT id FROM images WHERE id > $1 ORDER BY id LIMIT 1000', [after]);
        for (const row of rows) yield row.id;
        if (rows.length < 1000) return;
        after = rows.at(-1)!.id;
      }
    },

    async advanceSequences(): Promise<void> {
      // Identity columns (jobs.id, outbox.id): the next id generated is past every copied one.
      const { rows } = await pool.query<{ table_name: string; column_name: string }>(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema() AND is_identity = 'YES'",
      );
      for (const { table_name: table, column_name: column } of rows) {
        await pool.query(
          `SELECT setval(pg_get_serial_sequence($1, $2), greatest((SELECT max(${quote(column)}) FROM ${quote(table)}), 1), (SELECT count(*) > 0 FROM ${quote(table)}))`,
          [table, column],
        );
      }
      // The fair queue's serving order (001-initial.ts): the next customer served is numbered
      // after those served before the copy.
      await pool.query(
        "SELECT setval('job_queues_served', greatest((SELECT max(served_seq) FROM job_queues), 1), (SELECT coalesce(max(served_seq), 0) > 0 FROM job_queues))",
      );
    },

    close,
  };
}

/** Opens the target database for a copy, its schema created or brought up to date first. */
export async function openPostgresRowSink(url: string, onMigrationNotice?: (message: string) => void): Promise<RowSink> {
  // Statements of a copy are batches of thousands of rows: more time than a request's.
  const db = await openPostgresDatabase({ url, poolSize: 2, statementTimeoutMs: 120_000, onMigrationNotice });
  return postgresRowSink(db.pool, () => db.close());
}
