import {
  GetBucketLifecycleConfigurationCommand,
  PutBucketLifecycleConfigurationCommand,
  type LifecycleRule,
} from '@aws-sdk/client-s3';
import type { S3Bucket } from './bucket.js';
import { describeS3Error, statusOf } from './errors.js';

const DAY_MS = 24 * 3600 * 1000;
/** Multipart uploads left unfinished this long are abandoned for good (Darkroom restarts them). */
const INCOMPLETE_UPLOAD_DAYS = 7;

export type LifecycleOutcome = { applied: true; rules: LifecycleRule[] } | { applied: false; reason: string };

/**
 * Our rules for a bucket and prefix: processed files expire with the TTL (S3 counts whole days
 * from when an object was written, which is never before the file itself was written, so the
 * rule can only act after the purge should have), and incomplete multipart uploads are cleaned.
 * Rule ids name the prefix, so several Darkroom servers can share one bucket.
 */
export function darkroomRules(bucket: S3Bucket, processedTtlMs: number): LifecycleRule[] {
  const days = Math.max(1, Math.ceil(processedTtlMs / DAY_MS));
  const root = bucket.fullKey('');
  return [
    {
      ID: `darkroom ${root}processed/ expiry`.slice(0, 255),
      Status: 'Enabled',
      Filter: { Prefix: bucket.fullKey('processed/') },
      Expiration: { Days: days },
      NoncurrentVersionExpiration: { NoncurrentDays: 1 },
    },
    {
      ID: `darkroom ${root} incomplete uploads`.slice(0, 255),
      Status: 'Enabled',
      Filter: { Prefix: root },
      AbortIncompleteMultipartUpload: { DaysAfterInitiation: INCOMPLETE_UPLOAD_DAYS },
    },
  ];
}

/**
 * Sets our lifecycle rules, keeping every other rule of the bucket (S3 replaces the whole
 * configuration on each write, so the existing one is read and merged first). Servers without
 * lifecycle support (s3rver, some gateways) or credentials without the permission answer with
 * `applied: false` and a reason; the purge alone then removes expired processed objects.
 */
export async function applyLifecycleRules(bucket: S3Bucket, processedTtlMs: number, signal?: AbortSignal): Promise<LifecycleOutcome> {
  const ours = darkroomRules(bucket, processedTtlMs);
  const ourIds = new Set(ours.map((r) => r.ID));
  try {
    let existing: LifecycleRule[] = [];
    try {
      const current = await bucket.client.send(new GetBucketLifecycleConfigurationCommand({ Bucket: bucket.target.bucket }), {
        abortSignal: signal,
      });
      existing = current.Rules ?? [];
    } catch (err) {
      if ((err as { name?: string }).name !== 'NoSuchLifecycleConfiguration') throw err;
    }
    const rules = [...existing.filter((r) => !ourIds.has(r.ID)), ...ours];
    await bucket.client.send(
      new PutBucketLifecycleConfigurationCommand({ Bucket: bucket.target.bucket, LifecycleConfiguration: { Rules: rules } }),
      { abortSignal: signal },
    );
    return { applied: true, rules };
  } catch (err) {
    const name = (err as { name?: string }).name;
    const status = statusOf(err);
    if (name === 'NotImplemented' || name === 'MethodNotAllowed' || status === 501 || status === 405) {
      return { applied: false, reason: 'this S3 server does not support lifecycle rules' };
    }
    if (status === 403) return { applied: false, reason: `not allowed to set lifecycle rules (${describeS3Error(err)})` };
    return { applied: false, reason: describeS3Error(err) };
  }
}
