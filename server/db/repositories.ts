import { createBlobDeletesRepo, type BlobDeletesRepo } from './blob-deletes.repo.js';
import { createImagesRepo, type ImagesRepo } from './images.repo.js';
import { createIntegrityRepo, type IntegrityRepo } from './integrity.repo.js';
import { createJobsRepo, type JobsRepo } from './jobs.repo.js';
import { createKeysRepo, type KeysRepo } from './keys.repo.js';
import { createLinkSigningKeyRepo, type LinkSigningKeyRepo } from './link-signing-key.repo.js';
import { createNodesRepo, type NodesRepo } from './nodes.repo.js';
import { createPresetsRepo, type PresetsRepo } from './presets.repo.js';
import { createProgressRepo, type ProgressRepo } from './progress.repo.js';
import { createRendersRepo, type RendersRepo } from './renders.repo.js';
import { createSchedulesRepo, type SchedulesRepo } from './schedules.repo.js';
import { createUploadLocksRepo, type UploadLocksRepo } from './upload-locks.repo.js';
import { createFinishedUploadsRepo, type FinishedUploadsRepo } from './finished-uploads.repo.js';
import type { SqlExecutor } from './sql-executor.js';
import { createStatsRepo, type StatsRepo } from './stats.repo.js';
import { createSyncRepo, type SyncRepo } from './sync.repo.js';
import { createWatchRepo, type WatchRepo } from './watch.repo.js';
import { createWebhooksRepo, type WebhooksRepo } from './webhooks.repo.js';

/** Every repository, as the use cases get them: outside a unit of work, or inside one. */
export interface Repositories {
  blobDeletes: BlobDeletesRepo;
  images: ImagesRepo;
  integrity: IntegrityRepo;
  jobs: JobsRepo;
  keys: KeysRepo;
  linkSigningKey: LinkSigningKeyRepo;
  nodes: NodesRepo;
  presets: PresetsRepo;
  progress: ProgressRepo;
  renders: RendersRepo;
  schedules: SchedulesRepo;
  uploadLocks: UploadLocksRepo;
  finishedUploads: FinishedUploadsRepo;
  stats: StatsRepo;
  sync: SyncRepo;
  watch: WatchRepo;
  webhooks: WebhooksRepo;
}

/** Builds the repositories over one executor; an adapter calls this once per executor it has. */
export function createRepositories(sql: SqlExecutor): Repositories {
  return {
    blobDeletes: createBlobDeletesRepo(sql),
    images: createImagesRepo(sql),
    integrity: createIntegrityRepo(sql),
    jobs: createJobsRepo(sql),
    keys: createKeysRepo(sql),
    linkSigningKey: createLinkSigningKeyRepo(sql),
    nodes: createNodesRepo(sql),
    presets: createPresetsRepo(sql),
    progress: createProgressRepo(sql),
    renders: createRendersRepo(sql),
    schedules: createSchedulesRepo(sql),
    uploadLocks: createUploadLocksRepo(sql),
    finishedUploads: createFinishedUploadsRepo(sql),
    stats: createStatsRepo(sql),
    sync: createSyncRepo(sql),
    watch: createWatchRepo(sql),
    webhooks: createWebhooksRepo(sql),
  };
}
