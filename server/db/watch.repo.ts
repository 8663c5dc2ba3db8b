import type { Db } from './connection.js';

export interface WatchFolderRow {
  path: string;
  poll: number;
  added_at: number;
}

export interface WatchFileRow {
  path: string;
  folder: string;
  size: number;
  mtime_ms: number;
  sha256: string | null;
  outcome: 'ingested' | 'rejected';
  image_id: string | null;
  error_code: string | null;
  seen_at: number;
}

export interface WatchFolderCounts {
  ingested: number;
  rejected: number;
  lastIngestedAt: number | null;
}

/** Watch folders added in settings, and the ledger of files each watch folder took. */
export function createWatchRepo(db: Db) {
  const listFolders = db.prepare<[], WatchFolderRow>(`SELECT * FROM watch_folders ORDER BY added_at, path`);
  const insertFolder = db.prepare<[string, number, number]>(
    `INSERT INTO watch_folders (path, poll, added_at) VALUES (?, ?, ?)
     ON CONFLICT (path) DO UPDATE SET poll = excluded.poll`,
  );
  const deleteFolder = db.prepare<[string]>(`DELETE FROM watch_folders WHERE path = ?`);
  const fileByPath = db.prepare<[string], WatchFileRow>(`SELECT * FROM watch_files WHERE path = ?`);
  const ingestedBySha = db.prepare<[string, string], WatchFileRow>(
    `SELECT * FROM watch_files WHERE folder = ? AND sha256 = ? AND outcome = 'ingested' LIMIT 1`,
  );
  const upsertFile = db.prepare<[WatchFileRow]>(
    `INSERT INTO watch_files (path, folder, size, mtime_ms, sha256, outcome, image_id, error_code, seen_at)
     VALUES (@path, @folder, @size, @mtime_ms, @sha256, @outcome, @image_id, @error_code, @seen_at)
     ON CONFLICT (path) DO UPDATE SET folder = excluded.folder, size = excluded.size, mtime_ms = excluded.mtime_ms,
       sha256 = excluded.sha256, outcome = excluded.outcome, image_id = excluded.image_id,
       error_code = excluded.error_code, seen_at = excluded.seen_at`,
  );
  // Files waiting for their ingest (the watch queue's jobs, queued or running), and dropping
  // those of a folder no longer watched. Queued ones are found through the watch queue's part of
  // jobs_due_by_queue, running ones among the few running jobs: never through an image backlog.
  const pending = db.prepare<{ folder: string }, { n: number }>(
    `SELECT (SELECT count(*) FROM jobs WHERE queue = 'watch' AND status = 'queued' AND json_extract(payload, '$.folder') = @folder)
          + (SELECT count(*) FROM jobs WHERE status = 'running' AND queue = 'watch' AND json_extract(payload, '$.folder') = @folder) AS n`,
  );
  const dropQueued = db.prepare<[string]>(
    `DELETE FROM jobs WHERE queue = 'watch' AND status = 'queued' AND json_extract(payload, '$.folder') = ?`,
  );
  const counts = db.prepare<[string], { ingested: number; rejected: number; last: number | null }>(
    `SELECT coalesce(sum(outcome = 'ingested'), 0) AS ingested, coalesce(sum(outcome = 'rejected'), 0) AS rejected,
            max(CASE WHEN outcome = 'ingested' THEN seen_at END) AS last
     FROM watch_files WHERE folder = ?`,
  );

  return {
    listFolders: () => listFolders.all(),
    addFolder: (folder: string, poll: boolean, now: number) => void insertFolder.run(folder, poll ? 1 : 0, now),
    removeFolder: (folder: string) => deleteFolder.run(folder).changes > 0,
    findFile: (file: string) => fileByPath.get(file),
    findIngestedBySha256: (folder: string, sha256: string) => ingestedBySha.get(folder, sha256),
    recordFile: (row: WatchFileRow) => void upsertFile.run(row),
    /** Files of the folder waiting to be ingested. */
    pendingFiles: (folder: string) => pending.get({ folder })!.n,
    /** Forgets the files of a folder no longer watched that wait for their turn. */
    dropQueuedFiles: (folder: string) => dropQueued.run(folder).changes,
    counts(folder: string): WatchFolderCounts {
      const row = counts.get(folder)!;
      return { ingested: row.ingested, rejected: row.rejected, lastIngestedAt: row.last };
    },
  };
}

export type WatchRepo = ReturnType<typeof createWatchRepo>;
