import type { Db } from '../db/sqlite/connection.js';
import { createSyncRepo } from '../db/sync.repo.js';

/**
 * Start-up without --s3-bucket must not strand originals that live only in the bucket (evicted
 * by the capacity tier). Kept apart from the S3 sync itself so a server without S3 never loads
 * the AWS SDK (about 20 MB of memory).
 */
export function assertNoOriginalsOnlyInBucket(db: Db): void {
  const repo = createSyncRepo(db);
  const evicted = repo.evicted().originals;
  if (evicted > 0) {
    const target = repo.state().target;
    const where = target ? (JSON.parse(target) as { bucket: string; prefix: string }) : undefined;
    throw new Error(
      `${evicted} originals are kept only in S3 bucket "${where?.bucket ?? '?'}" (prefix "${where?.prefix ?? ''}"); start with --s3-bucket (and the same prefix and endpoint)`,
    );
  }
}
