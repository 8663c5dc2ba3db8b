import type { CopiedRow, RowSource, SourceTable } from '../row-copy.js';
import type { Db } from './connection.js';

interface ExportedTable extends SourceTable {
  /** The columns rows are paged by: the primary key, or SQLite's rowid for a table without one. */
  keyColumns: string[];
}

const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;

/**
 * A single-node SQLite database read for `darkroom migrate` (db/row-copy.ts), table by table,
 * in pages by primary key: each page is one short query (`WHERE (key) > (last) ORDER BY key
 * LIMIT n`), so no statement stays open across the copy's awaits and memory is one page.
 */
export function sqliteRowSource(db: Db): RowSource {
  const tables: ExportedTable[] = (db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").pluck().all() as string[]).map(
    (name) => {
      const info = db.pragma(`table_info(${quote(name)})`) as Array<{ name: string; pk: number }>;
      const keys = info.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk).map((c) => c.name);
      const parents = (db.pragma(`foreign_key_list(${quote(name)})`) as Array<{ table: string }>).map((f) => f.table).filter((t) => t !== name);
      return { name, columns: info.map((c) => c.name), keyColumns: keys.length ? keys : ['rowid'], parents: [...new Set(parents)] };
    },
  );
  const hasImage = db.prepare('SELECT 1 FROM images WHERE id = ?').pluck();
  // Both page by an index: images_by_sha256, and the variants' primary key.
  const originalsAfter = db.prepare('SELECT sha256, max(bytes) AS bytes FROM images WHERE sha256 > ? GROUP BY sha256 ORDER BY sha256 LIMIT ?');
  const processedAfter = db.prepare(
    "SELECT image_id AS imageId, name, path, etag, bytes FROM variants WHERE (image_id, name) > (?, ?) AND status = 'done' AND path IS NOT NULL ORDER BY image_id, name LIMIT ?",
  );

  return {
    tables: () => tables,

    async *batches(table: SourceTable, batchSize: number): AsyncIterable<CopiedRow[]> {
      const { keyColumns } = table as ExportedTable;
      const key = keyColumns.map(quote).join(', ');
      const select = `SELECT ${keyColumns.includes('rowid') ? 'rowid, ' : ''}* FROM ${quote(table.name)}`;
      const first = db.prepare(`${select} ORDER BY ${key} LIMIT ?`);
      const next = db.prepare(`${select} WHERE (${key}) > (${keyColumns.map(() => '?').join(', ')}) ORDER BY ${key} LIMIT ?`);
      let last: unknown[] | undefined;
      for (;;) {
        const rows = (last ? next.all(...last, batchSize) : first.all(batchSize)) as CopiedRow[];
        if (!rows.length) return;
        last = keyColumns.map((c) => rows.at(-1)![c]);
        if (keyColumns.includes('rowid')) for (const row of rows) delete row.rowid;
        yield rows;
        if (rows.length < batchSize) return;
      }
    },

    async *originals(batchSize: number) {
      let after = '';
      for (;;) {
        const rows = originalsAfter.all(after, batchSize) as Array<{ sha256: string; bytes: number }>;
        if (rows.length) yield rows;
        if (rows.length < batchSize) return;
        after = rows.at(-1)!.sha256;
      }
    },

    async *processedFiles(batchSize: number) {
      let after = ['', ''];
      for (;;) {
        const rows = processedAfter.all(...after, batchSize) as Array<{ imageId: string; name: string; path: string; etag: string | null; bytes: number | null }>;
        if (rows.length) yield rows.map(({ name: _name, ...file }) => file);
        if (rows.length < batchSize) return;
        after = [rows.at(-1)!.imageId, rows.at(-1)!.name];
      }
    },

    hasImage: (id: string) => hasImage.get(id) !== undefined,

    close: () => db.close(),
  };
}
