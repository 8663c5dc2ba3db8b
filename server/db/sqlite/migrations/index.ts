import * as initial from './001-initial.js';
import * as stats from './002-stats.js';
import * as watchFolders from './003-watch-folders.js';
import * as s3Sync from './004-s3-sync.js';
import * as fairQueue from './005-fair-queue.js';
import * as jobInterruptions from './006-job-interruptions.js';
import * as cameraRaw from './007-camera-raw.js';
import * as oneJobEngine from './008-one-job-engine.js';
import * as variantOrder from './009-variant-order.js';
import * as webhooks from './010-webhooks.js';
import * as clusterNodes from './011-cluster-nodes.js';
import * as blobDeletes from './012-blob-deletes.js';
import * as uploadLocks from './013-upload-locks.js';
import * as renders from './014-renders.js';
import * as presetsAndLinkKeys from './015-presets-and-link-keys.js';
import * as finishedUploads from './016-finished-uploads.js';

/**
 * Ordered schema migrations. A migration is never edited once released: add a new one.
 * They live in TypeScript modules rather than .sql files so the compiled app (and the
 * packaged desktop app) carries them without a copy step.
 */
export const MIGRATIONS: ReadonlyArray<{ version: number; name: string; sql: string }> = [
  { version: 1, name: 'initial', sql: initial.sql },
  { version: 2, name: 'stats', sql: stats.sql },
  { version: 3, name: 'watch-folders', sql: watchFolders.sql },
  { version: 4, name: 's3-sync', sql: s3Sync.sql },
  { version: 5, name: 'fair-queue', sql: fairQueue.sql },
  { version: 6, name: 'job-interruptions', sql: jobInterruptions.sql },
  { version: 7, name: 'camera-raw', sql: cameraRaw.sql },
  { version: 8, name: 'one-job-engine', sql: oneJobEngine.sql },
  { version: 9, name: 'variant-order', sql: variantOrder.sql },
  { version: 10, name: 'webhooks', sql: webhooks.sql },
  { version: 11, name: 'cluster-nodes', sql: clusterNodes.sql },
  { version: 12, name: 'blob-deletes', sql: blobDeletes.sql },
  { version: 13, name: 'upload-locks', sql: uploadLocks.sql },
  { version: 14, name: 'renders', sql: renders.sql },
  { version: 15, name: 'presets-and-link-keys', sql: presetsAndLinkKeys.sql },
  { version: 16, name: 'finished-uploads', sql: finishedUploads.sql },
];
