/**
 * What `darkroom migrate` needs of the two databases, dialect-neutral: a single-node SQLite
 * database read table by table (sqlite/row-export.ts), and a PostgreSQL database written table
 * by table (postgres/row-import.ts). The copy itself (migrate/copy-installation.ts) speaks only
 * these, like every use case speaks ports.
 */

/** A row as the databases exchange it: column name → number, string, Buffer (BLOB) or null. */
export type CopiedRow = Record<string, unknown>;

export interface SourceTable {
  name: string;
  /** Every column, in the table's order. */
  columns: string[];
  /** Tables this one's foreign keys point at: copied before it. */
  parents: string[];
}

/** The database of a single-node installation, read in batches (memory flat in its size). */
export interface RowSource {
  tables(): SourceTable[];
  /** The table's rows in primary-key order, `batchSize` at a time. */
  batches(table: SourceTable, batchSize: number): AsyncIterable<CopiedRow[]>;
  /** Every original the images name, once each: its sha256 (its key) and size, in pages. */
  originals(batchSize: number): AsyncIterable<Array<{ sha256: string; bytes: number }>>;
  /** Every processed file a variant row records as there (`done`), in pages. */
  processedFiles(batchSize: number): AsyncIterable<Array<{ imageId: string; path: string; etag: string | null; bytes: number | null }>>;
  /** Whether this installation has an image with this id. */
  hasImage(id: string): boolean;
  close(): void;
}

/** The cluster's database, written idempotently: a row already there (by its keys) is kept. */
export interface RowSink {
  /** The columns the target has for a table; undefined when it has no such table. */
  columns(table: string): Promise<string[] | undefined>;
  /** Inserts the rows, skipping any whose key is there already; resolves to how many were new. */
  insert(table: string, columns: string[], rows: CopiedRow[]): Promise<number>;
  /** Every image id the target holds, read in pages. */
  imageIds(): AsyncIterable<string>;
  /** Moves every id generator (identity column, sequence) past the ids copied into it. */
  advanceSequences(): Promise<void>;
  close(): Promise<void>;
}
