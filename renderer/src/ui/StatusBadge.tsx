import type { ImageRecord } from '../api/types';

export type DisplayStatus = ImageRecord['status'] | 'expired';

const LABELS: Record<DisplayStatus, string> = {
  queued: 'Queued',
  processing: 'Processing',
  done: 'Done',
  failed: 'Failed',
  expired: 'Expired',
};

/**
 * What a person should read about an image: its status, except that a processed image whose
 * variants have all passed their TTL shows as expired (reprocessing brings them back).
 */
export function displayStatus(image: Pick<ImageRecord, 'status' | 'variants'>): DisplayStatus {
  if (image.status === 'done' && image.variants.length > 0 && image.variants.every((v) => v.status === 'expired')) return 'expired';
  return image.status;
}

export function StatusBadge({ status, compact = false }: { status: DisplayStatus; compact?: boolean }) {
  return (
    <span className={`badge badge-${status}${compact ? ' badge-compact' : ''}`}>
      <span className="badge-dot" aria-hidden="true" />
      {LABELS[status]}
    </span>
  );
}
