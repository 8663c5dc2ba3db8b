import type { SyncRepo } from '../db/sync.repo.js';

/**
 * Start-up without --s3-bucket must not strand originals that live only in the bucket (evicted
 * by the capacity tier). Kept apart from the S3 sync itself so a server without S3 never loads
 * the AWS SDK (about 20 MB of memory).
 */
export async function assertNoOriginalsOnlyInBucket(sync: Pick<SyncRepo, 'evicted' | 'state'>): Promise<void> {
  const evicted = (await sync.evicted()).originals;
  if (evicted > 0) {
    const target = (await sync.state()).target;
    const where = target ? (JSON.parse(target) as { bucket: string; prefix: string }) : undefined;
    throw new Error(
      `${evicted} originals are kept only in S3 bucket "${where?.bucket ?? '?'}" (prefix "${where?.prefix ?? ''}"); start with --s3-bucket (and the same prefix and endpoint)`,
    );
  }
}
