import { sql as literal, type Selectable } from 'kysely';
import type { VariantSpec } from '../../workers/types.js';
import type { ImagesTable, VariantsTable } from './schema.js';
import { params, type PreparedQuery, type SqlExecutor } from './sql-executor.js';

export type { ImageStatus, VariantStatus } from '../api/enums.js';
import type { ImageStatus } from '../api/enums.js';

/**
 * An image's row. `queued_at` is set by every insert and every new generation (older rows were
 * filled by the migration that added it), so a row always has one.
 */
export type ImageRow = Omit<Selectable<ImagesTable>, 'queued_at'> & { queued_at: number };
export type VariantRow = Selectable<VariantsTable>;

/** What an upload knows of its image; the rest starts as the database's defaults or empty. */
export type NewImage = Pick<
  ImageRow,
  'id' | 'customer' | 'filename' | 'bytes' | 'sha256' | 'format' | 'width' | 'height' | 'pages' | 'source' | 'created_at'
> & { raw_format?: string | null };

export interface ListQuery {
  customer?: string;
  status?: ImageStatus;
  limit: number;
  before?: { createdAt: number; id: string };
}

export interface VariantFile {
  width: number;
  height: number;
  bytes: number;
  path: string;
  etag: string;
  writtenAt: number;
  expiresAt: number;
}

/** Images, their variants and their extracted metadata. */
export interface ImagesRepo {
  /** A queued image and its variants, pending. */
  insert(image: NewImage, variants: VariantSpec[]): Promise<void>;
  findById(id: string): Promise<ImageRow | undefined>;
  /** The image's variants in the order they were added. */
  variantsOf(id: string): Promise<VariantRow[]>;
  findVariant(id: string, name: string): Promise<VariantRow | undefined>;
  /** How many images share these original bytes. */
  countBySha256(sha256: string): Promise<number>;
  delete(id: string): Promise<boolean>;
  /** A queued image starts processing; false when it was not queued (started already, or settled). */
  startProcessing(id: string): Promise<boolean>;
  metadata(id: string): Promise<Record<string, unknown> | undefined>;
  saveMetadata(id: string, data: unknown, at: number): Promise<void>;
  /** Newest first (created_at, then id, both descending), after the cursor when there is one. */
  list(query: ListQuery): Promise<ImageRow[]>;
  /** Processed files past their expiry, oldest first, in batches. */
  expiredVariants(now: number, limit: number): Promise<VariantRow[]>;
  /** False when the variant is no longer a done file past its expiry (processed again meanwhile). */
  markExpired(imageId: string, name: string, now: number): Promise<boolean>;
  /** A new generation: every variant back to pending (reprocess). Resolves to its number. */
  startGeneration(id: string, at: number): Promise<number>;
  completeVariant(imageId: string, name: string, file: VariantFile): Promise<void>;
  /** The variants still pending become failed. */
  failVariants(imageId: string): Promise<void>;
  finish(imageId: string, status: 'done' | 'failed', at: number): Promise<void>;
  setError(imageId: string, code: string, message: string): Promise<void>;
  /** Bytes of the variant files currently in place. */
  doneVariantBytes(imageId: string): Promise<number>;
  saveSummary(imageId: string, thumbhash: string, dominantColor: string): Promise<void>;
  /** The size of the embedded preview a camera RAW's variants were made from. */
  savePreview(imageId: string, preview: { width: number; height: number }): Promise<void>;
}

type ListParams = { customer: string; status: ImageStatus; createdAt: number; id: string; limit: number };

export function createImagesRepo(sql: SqlExecutor): ImagesRepo {
  const image = params<Required<NewImage>>();
  const insertImage = sql.prepare(image, (db) =>
    db.insertInto('images').values({
      id: image.id,
      customer: image.customer,
      status: literal.lit('queued'),
      filename: image.filename,
      bytes: image.bytes,
      sha256: image.sha256,
      format: image.format,
      width: image.width,
      height: image.height,
      pages: image.pages,
      source: image.source,
      created_at: image.created_at,
      queued_at: image.created_at,
      raw_format: image.raw_format,
    }),
  );
  const variant = params<{ image_id: string; name: string; spec: string; format: string; position: number }>();
  const insertVariant = sql.prepare(variant, (db) =>
    db.insertInto('variants').values({
      image_id: variant.image_id,
      name: variant.name,
      spec: variant.spec,
      status: literal.lit('pending'),
      format: variant.format,
      position: variant.position,
    }),
  );

  const byId = params<{ id: string }>();
  const findById = sql.prepare(byId, (db) => db.selectFrom('images').selectAll().where('id', '=', byId.id));
  const variantsOf = sql.prepare(byId, (db) =>
    db.selectFrom('variants').selectAll().where('image_id', '=', byId.id).orderBy('position'),
  );
  const byName = params<{ id: string; name: string }>();
  const findVariant = sql.prepare(byName, (db) =>
    db.selectFrom('variants').selectAll().where('image_id', '=', byName.id).where('name', '=', byName.name),
  );
  const bySha = params<{ sha256: string }>();
  const countBySha = sql.prepare(bySha, (db) =>
    db.selectFrom('images').select((eb) => eb.fn.countAll<number>().as('n')).where('sha256', '=', bySha.sha256),
  );
  const deleteImage = sql.prepare(byId, (db) => db.deleteFrom('images').where('id', '=', byId.id));
  const startProcessing = sql.prepare(byId, (db) =>
    db
      .updateTable('images')
      .set({ status: literal.lit('processing') })
      .where('id', '=', byId.id)
      .where('status', '=', literal.lit('queued')),
  );

  const metadata = sql.prepare(byId, (db) => db.selectFrom('image_metadata').select('data').where('image_id', '=', byId.id));
  const extracted = params<{ id: string; data: string; at: number }>();
  const upsertMetadata = sql.prepare(extracted, (db) =>
    db
      .insertInto('image_metadata')
      .values({ image_id: extracted.id, data: extracted.data, extracted_at: extracted.at })
      .onConflict((oc) =>
        oc.column('image_id').doUpdateSet((eb) => ({ data: eb.ref('excluded.data'), extracted_at: eb.ref('excluded.extracted_at') })),
      ),
  );

  // The listing's filters are optional, so each combination is its own query, built the first
  // time it is asked for (at most eight) and kept like the others.
  const page = params<ListParams>();
  const listQueries = new Map<string, PreparedQuery<ListParams, ImageRow>>();
  const listQuery = (query: ListQuery) => {
    const shape = `${query.customer !== undefined}${query.status !== undefined}${query.before !== undefined}`;
    let prepared = listQueries.get(shape);
    if (!prepared) {
      prepared = sql.prepare(page, (db) => {
        let select = db.selectFrom('images').selectAll();
        if (query.customer !== undefined) select = select.where('customer', '=', page.customer);
        if (query.status !== undefined) select = select.where('status', '=', page.status);
        if (query.before !== undefined) {
          select = select.where((eb) =>
            eb.or([eb('created_at', '<', page.createdAt), eb.and([eb('created_at', '=', page.createdAt), eb('id', '<', page.id)])]),
          );
        }
        return select.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(page.limit);
      }) as PreparedQuery<ListParams, ImageRow>;
      listQueries.set(shape, prepared);
    }
    return prepared;
  };

  // The status is a literal so SQLite can use the partial index on expiring variants.
  const due = params<{ now: number; limit: number }>();
  const expiredVariants = sql.prepare(due, (db) =>
    db
      .selectFrom('variants')
      .selectAll()
      .where('status', '=', literal.lit('done'))
      .where('expires_at', '<=', due.now)
      .orderBy('expires_at')
      .limit(due.limit),
  );
  const expiring = params<{ id: string; name: string; now: number }>();
  const markExpired = sql.prepare(expiring, (db) =>
    db
      .updateTable('variants')
      .set({ status: literal.lit('expired'), path: null })
      .where('image_id', '=', expiring.id)
      .where('name', '=', expiring.name)
      .where('status', '=', literal.lit('done'))
      .where('expires_at', '<=', expiring.now),
  );

  const resetVariants = sql.prepare(byId, (db) =>
    db.updateTable('variants').set({ status: literal.lit('pending') }).where('image_id', '=', byId.id),
  );
  const generation = params<{ id: string; at: number }>();
  const nextGeneration = sql.prepare(generation, (db) =>
    db
      .updateTable('images')
      .set((eb) => ({
        generation: eb('generation', '+', literal.lit(1)),
        status: literal.lit('queued'),
        error_code: null,
        error_message: null,
        processed_at: null,
        queued_at: generation.at,
      }))
      .where('id', '=', generation.id)
      .returning('generation'),
  );

  const done = params<VariantFile & { id: string; name: string }>();
  const completeVariant = sql.prepare(done, (db) =>
    db
      .updateTable('variants')
      .set({
        status: literal.lit('done'),
        width: done.width,
        height: done.height,
        bytes: done.bytes,
        path: done.path,
        etag: done.etag,
        written_at: done.writtenAt,
        expires_at: done.expiresAt,
      })
      .where('image_id', '=', done.id)
      .where('name', '=', done.name),
  );
  const failVariants = sql.prepare(byId, (db) =>
    db
      .updateTable('variants')
      .set({ status: literal.lit('failed') })
      .where('image_id', '=', byId.id)
      .where('status', '=', literal.lit('pending')),
  );
  const finished = params<{ id: string; status: 'done' | 'failed'; at: number }>();
  const finish = sql.prepare(finished, (db) =>
    db.updateTable('images').set({ status: finished.status, processed_at: finished.at }).where('id', '=', finished.id),
  );
  const failure = params<{ id: string; code: string; message: string }>();
  const setError = sql.prepare(failure, (db) =>
    db.updateTable('images').set({ error_code: failure.code, error_message: failure.message }).where('id', '=', failure.id),
  );
  const doneBytes = sql.prepare(byId, (db) =>
    db
      .selectFrom('variants')
      .select((eb) => eb.fn.sum<number | null>('bytes').as('n'))
      .where('image_id', '=', byId.id)
      .where('status', '=', literal.lit('done')),
  );
  const summary = params<{ id: string; thumbhash: string; dominantColor: string }>();
  const saveSummary = sql.prepare(summary, (db) =>
    db.updateTable('images').set({ thumbhash: summary.thumbhash, dominant_color: summary.dominantColor }).where('id', '=', summary.id),
  );
  const preview = params<{ id: string; width: number; height: number }>();
  const savePreview = sql.prepare(preview, (db) =>
    db.updateTable('images').set({ preview_width: preview.width, preview_height: preview.height }).where('id', '=', preview.id),
  );

  return {
    async insert(image, variants) {
      await insertImage.run({ ...image, raw_format: image.raw_format ?? null });
      for (const [position, spec] of variants.entries()) {
        await insertVariant.run({ image_id: image.id, name: spec.name, spec: JSON.stringify(spec), format: spec.format, position });
      }
    },
    findById: (id) => findById.first({ id }) as Promise<ImageRow | undefined>,
    variantsOf: (id) => variantsOf.all({ id }),
    findVariant: (id, name) => findVariant.first({ id, name }),
    countBySha256: async (sha256) => Number((await countBySha.first({ sha256 }))!.n),
    delete: async (id) => (await deleteImage.run({ id })) > 0,
    startProcessing: async (id) => (await startProcessing.run({ id })) > 0,
    async metadata(id) {
      const row = await metadata.first({ id });
      return row ? (JSON.parse(row.data) as Record<string, unknown>) : undefined;
    },
    saveMetadata: async (id, data, at) => void (await upsertMetadata.run({ id, data: JSON.stringify(data), at })),
    list: (query) =>
      listQuery(query).all({
        customer: query.customer ?? '',
        status: query.status ?? 'queued',
        createdAt: query.before?.createdAt ?? 0,
        id: query.before?.id ?? '',
        limit: query.limit,
      }),
    expiredVariants: (now, limit) => expiredVariants.all({ now, limit }),
    markExpired: async (id, name, now) => (await markExpired.run({ id, name, now })) > 0,
    async startGeneration(id, at) {
      await resetVariants.run({ id });
      return (await nextGeneration.first({ id, at }))!.generation;
    },
    completeVariant: async (id, name, file) => void (await completeVariant.run({ ...file, id, name })),
    failVariants: async (id) => void (await failVariants.run({ id })),
    finish: async (id, to, at) => void (await finish.run({ id, status: to, at })),
    setError: async (id, code, message) => void (await setError.run({ id, code, message })),
    doneVariantBytes: async (id) => Number((await doneBytes.first({ id }))?.n ?? 0),
    saveSummary: async (id, thumbhash, dominantColor) => void (await saveSummary.run({ id, thumbhash, dominantColor })),
    savePreview: async (id, size) => void (await savePreview.run({ id, width: size.width, height: size.height })),
  };
}
