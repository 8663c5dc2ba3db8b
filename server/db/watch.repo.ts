import { sql as literal, type Selectable } from 'kysely';
import type { WatchFilesTable, WatchFoldersTable } from './schema.js';
import { params, type SqlExecutor } from './sql-executor.js';

export type WatchFolderRow = Selectable<WatchFoldersTable>;
export type WatchFileRow = WatchFilesTable;

export interface WatchFolderCounts {
  ingested: number;
  rejected: number;
  lastIngestedAt: number | null;
}

/** Watch folders added in settings, and the ledger of files each watch folder took. */
export interface WatchRepo {
  listFolders(): Promise<WatchFolderRow[]>;
  /** Adds a folder, or changes whether it is polled when it is there already. */
  addFolder(folder: string, poll: boolean, now: number): Promise<void>;
  removeFolder(folder: string): Promise<boolean>;
  findFile(file: string): Promise<WatchFileRow | undefined>;
  /** A file this folder ingested with these bytes (under whichever name), if any. */
  findIngestedBySha256(folder: string, sha256: string): Promise<WatchFileRow | undefined>;
  /** What became of a file: its ledger row, replaced when the path was seen before. */
  recordFile(row: WatchFileRow): Promise<void>;
  /** Files of the folder waiting to be ingested. */
  pendingFiles(folder: string): Promise<number>;
  /** Forgets the files of a folder no longer watched that wait for their turn; how many. */
  dropQueuedFiles(folder: string): Promise<number>;
  counts(folder: string): Promise<WatchFolderCounts>;
}

export function createWatchRepo(sql: SqlExecutor): WatchRepo {
  const listFolders = sql.prepare(params(), (db) => db.selectFrom('watch_folders').selectAll().orderBy('added_at').orderBy('path'));
  const folder = params<{ path: string; poll: number; added_at: number }>();
  const addFolder = sql.prepare(folder, (db) =>
    db
      .insertInto('watch_folders')
      .values({ path: folder.path, poll: folder.poll, added_at: folder.added_at })
      .onConflict((oc) => oc.column('path').doUpdateSet((eb) => ({ poll: eb.ref('excluded.poll') }))),
  );
  const byPath = params<{ path: string }>();
  const removeFolder = sql.prepare(byPath, (db) => db.deleteFrom('watch_folders').where('path', '=', byPath.path));
  const findFile = sql.prepare(byPath, (db) => db.selectFrom('watch_files').selectAll().where('path', '=', byPath.path));
  const bySha = params<{ folder: string; sha256: string }>();
  const ingestedBySha = sql.prepare(bySha, (db) =>
    db
      .selectFrom('watch_files')
      .selectAll()
      .where('folder', '=', bySha.folder)
      .where('sha256', '=', bySha.sha256)
      .where('outcome', '=', literal.lit('ingested'))
      .limit(1),
  );
  const file = params<WatchFileRow>();
  const recordFile = sql.prepare(file, (db) =>
    db
      .insertInto('watch_files')
      .values({
        path: file.path,
        folder: file.folder,
        size: file.size,
        mtime_ms: file.mtime_ms,
        sha256: file.sha256,
        outcome: file.outcome,
        image_id: file.image_id,
        error_code: file.error_code,
        seen_at: file.seen_at,
      })
      .onConflict((oc) =>
        oc.column('path').doUpdateSet((eb) => ({
          folder: eb.ref('excluded.folder'),
          size: eb.ref('excluded.size'),
          mtime_ms: eb.ref('excluded.mtime_ms'),
          sha256: eb.ref('excluded.sha256'),
          outcome: eb.ref('excluded.outcome'),
          image_id: eb.ref('excluded.image_id'),
          error_code: eb.ref('excluded.error_code'),
          seen_at: eb.ref('excluded.seen_at'),
        })),
      ),
  );
  // Files waiting for their ingest (the watch queue's jobs, queued or running), and dropping
  // those of a folder no longer watched. Queued ones are found through the watch queue's part of
  // jobs_due_by_queue, running ones among the few running jobs: never through an image backlog.
  // The status and queue are literals so the partial index applies.
  const ofFolder = params<{ folder: string }>();
  const pending = sql.prepare(ofFolder, (db, fns) =>
    db.selectNoFrom((eb) => [
      eb(
        eb
          .selectFrom('jobs')
          .select((j) => j.fn.countAll<number>().as('n'))
          .where('queue', '=', literal.lit('watch'))
          .where('status', '=', literal.lit('queued'))
          .where(fns.jsonText('payload', 'folder'), '=', ofFolder.folder),
        '+',
        eb
          .selectFrom('jobs')
          .select((j) => j.fn.countAll<number>().as('n'))
          .where('status', '=', literal.lit('running'))
          .where('queue', '=', literal.lit('watch'))
          .where(fns.jsonText('payload', 'folder'), '=', ofFolder.folder),
      ).as('n'),
    ]),
  );
  const dropQueued = sql.prepare(ofFolder, (db, fns) =>
    db
      .deleteFrom('jobs')
      .where('queue', '=', literal.lit('watch'))
      .where('status', '=', literal.lit('queued'))
      .where(fns.jsonText('payload', 'folder'), '=', ofFolder.folder),
  );
  const counts = sql.prepare(ofFolder, (db) =>
    db
      .selectFrom('watch_files')
      .select((eb) => {
        const isIngested = eb('outcome', '=', literal.lit('ingested'));
        const one = (when: typeof isIngested) => eb.case().when(when).then(literal.lit(1)).else(literal.lit(0)).end();
        return [
          eb.fn.coalesce(eb.fn.sum<number>(one(isIngested)), literal.lit(0)).as('ingested'),
          eb.fn.coalesce(eb.fn.sum<number>(one(eb('outcome', '=', literal.lit('rejected')))), literal.lit(0)).as('rejected'),
          eb.fn.max(eb.case().when(isIngested).then(eb.ref('seen_at')).end()).as('last'),
        ];
      })
      .where('folder', '=', ofFolder.folder),
  );

  return {
    listFolders: () => listFolders.all(),
    addFolder: async (path, poll, now) => void (await addFolder.run({ path, poll: poll ? 1 : 0, added_at: now })),
    removeFolder: async (path) => (await removeFolder.run({ path })) > 0,
    findFile: (path) => findFile.first({ path }),
    findIngestedBySha256: (folder, sha256) => ingestedBySha.first({ folder, sha256 }),
    recordFile: async (row) => void (await recordFile.run(row)),
    pendingFiles: async (folder) => Number((await pending.first({ folder }))!.n),
    dropQueuedFiles: (folder) => dropQueued.run({ folder }),
    async counts(folder) {
      const row = (await counts.first({ folder }))!;
      return { ingested: Number(row.ingested), rejected: Number(row.rejected), lastIngestedAt: row.last ?? null };
    },
  };
}
