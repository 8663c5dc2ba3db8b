import { sql as literal, type Kysely, type Selectable } from 'kysely';
import type { Database, VariantsTable } from './schema.js';
import { params, type SqlExecutor } from './sql-executor.js';

/**
 * The records the data-dir checks compare the files on disk against (start-up reconciliation
 * after an unclean stop, `darkroom verify`): which originals and processed files the database
 * says exist. Read-only; whoever acts on a difference reads again before acting.
 */
export interface IntegrityRepo {
  /** The originals recorded with a sha256 in [from, to), each once, in no particular order. */
  originalsBetween(from: string, to: string): Promise<RecordedOriginal[]>;
  /** One recorded original, or undefined when no image uses these bytes. */
  original(sha256: string): Promise<RecordedOriginal | undefined>;
  /** Up to `limit` ids of the images using an original, oldest first. */
  imagesUsing(sha256: string, limit: number): Promise<string[]>;
  /** An image's status, undefined when there is no such image. */
  imageStatus(id: string): Promise<string | undefined>;
  /** The paths an image's variant rows name, in any status. */
  pathsNamedBy(imageId: string): Promise<string[]>;
  /** Variants marked done that name a file, in (image, name) order, `limit` after the given one. */
  doneVariantsAfter(imageId: string, name: string, limit: number): Promise<DoneVariant[]>;
  /** One variant marked done that names a file, or undefined. */
  doneVariant(imageId: string, name: string): Promise<DoneVariant | undefined>;
  /** How many distinct originals are recorded, and their bytes (each counted once). */
  originalsTotal(): Promise<{ originals: number; bytes: number }>;
}

export interface RecordedOriginal {
  sha256: string;
  bytes: number;
  /** From the S3 sync's bookkeeping: whether the copy on local disk is the one in use (null: never synced). */
  local: 0 | 1 | null;
  /** A verified copy is in the bucket. */
  synced: boolean;
}

export type DoneVariant = Pick<Selectable<VariantsTable>, 'image_id' | 'name' | 'path' | 'etag' | 'bytes' | 'expires_at'>;

/** An original's row as the dialects give it: `synced` is 0/1 on SQLite, a boolean elsewhere. */
type OriginalRow = Omit<RecordedOriginal, 'synced' | 'local'> & { local: number | null; synced: unknown };

const asRecordedOriginal = (row: OriginalRow): RecordedOriginal => ({
  sha256: row.sha256,
  bytes: row.bytes,
  local: row.local === null ? null : row.local ? 1 : 0,
  synced: Boolean(row.synced),
});

export function createIntegrityRepo(sql: SqlExecutor): IntegrityRepo {
  // An original is the bytes its images share (the largest size recorded for them), with the
  // S3 sync's row when there is one. s3_originals has one row per sha256, so grouping by its
  // columns too changes nothing and keeps the select valid where every selected column must be
  // grouped or aggregated (PostgreSQL).
  const originals = (db: Kysely<Database>) =>
    db
      .selectFrom('images as i')
      .leftJoin('s3_originals as o', 'o.sha256', 'i.sha256')
      .select((eb) => [
        'i.sha256 as sha256',
        eb.fn.max<number>('i.bytes').as('bytes'),
        'o.local as local',
        eb('o.synced_at', 'is not', null).as('synced'),
      ])
      .groupBy(['i.sha256', 'o.local', 'o.synced_at']);

  const range = params<{ from: string; to: string }>();
  const between = sql.prepare(range, (db) => originals(db).where('i.sha256', '>=', range.from).where('i.sha256', '<', range.to));
  const bySha = params<{ sha256: string }>();
  const one = sql.prepare(bySha, (db) => originals(db).where('i.sha256', '=', bySha.sha256));
  const using = params<{ sha256: string; limit: number }>();
  const imagesUsing = sql.prepare(using, (db) =>
    db.selectFrom('images').select('id').where('sha256', '=', using.sha256).orderBy('created_at').limit(using.limit),
  );
  const byId = params<{ id: string }>();
  const imageStatus = sql.prepare(byId, (db) => db.selectFrom('images').select('status').where('id', '=', byId.id));
  const byImage = params<{ imageId: string }>();
  // Its variants' files and its stored renders' (SQLite migration 014): both live under the image's processed prefix.
  const pathsNamedBy = sql.prepare(byImage, (db) =>
    db
      .selectFrom('variants')
      .select('path')
      .where('image_id', '=', byImage.imageId)
      .where('path', 'is not', null)
      .unionAll(db.selectFrom('renders').select('path').where('image_id', '=', byImage.imageId).where('path', 'is not', null)),
  );

  const doneColumns = ['image_id', 'name', 'path', 'etag', 'bytes', 'expires_at'] as const;
  const page = params<{ imageId: string; name: string; limit: number }>();
  const donePage = sql.prepare(page, (db) =>
    db
      .selectFrom('variants')
      .select(doneColumns)
      // A literal, as the partial index on done variants is written.
      .where('status', '=', literal.lit('done'))
      .where('path', 'is not', null)
      .where((eb) => eb(eb.refTuple('image_id', 'name'), '>', eb.tuple(page.imageId, page.name)))
      .orderBy('image_id')
      .orderBy('name')
      .limit(page.limit),
  );
  const variant = params<{ imageId: string; name: string }>();
  const doneVariant = sql.prepare(variant, (db) =>
    db
      .selectFrom('variants')
      .select(doneColumns)
      .where('image_id', '=', variant.imageId)
      .where('name', '=', variant.name)
      .where('status', '=', literal.lit('done'))
      .where('path', 'is not', null),
  );
  const totals = sql.prepare(params(), (db) =>
    db
      .selectFrom((sub) => sub.selectFrom('images').select((eb) => eb.fn.max<number>('bytes').as('bytes')).groupBy('sha256').as('o'))
      .select((eb) => [eb.fn.countAll<number>().as('originals'), eb.fn.sum<number | null>('o.bytes').as('bytes')]),
  );

  return {
    originalsBetween: async (from, to) => (await between.all({ from, to })).map(asRecordedOriginal),
    original: async (sha256) => {
      const row = await one.first({ sha256 });
      return row && asRecordedOriginal(row);
    },
    imagesUsing: async (sha256, limit) => (await imagesUsing.all({ sha256, limit })).map((row) => row.id),
    imageStatus: async (id) => (await imageStatus.first({ id }))?.status,
    pathsNamedBy: async (imageId) => (await pathsNamedBy.all({ imageId })).map((row) => row.path!),
    doneVariantsAfter: (imageId, name, limit) => donePage.all({ imageId, name, limit }),
    doneVariant: (imageId, name) => doneVariant.first({ imageId, name }),
    originalsTotal: async () => {
      const row = await totals.first();
      return { originals: row?.originals ?? 0, bytes: row?.bytes ?? 0 };
    },
  };
}
