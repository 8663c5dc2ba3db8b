import type { ReactNode } from 'react';
import type { ImageRecord } from '../api/schemas';

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
    <Badge tone={status} compact={compact}>
      {LABELS[status]}
    </Badge>
  );
}

/** A dot and a word in one of the status colours (the tones are the image statuses). */
export function Badge({ tone, compact = false, children, ...rest }: { tone: DisplayStatus; compact?: boolean; children: ReactNode; 'data-testid'?: string }) {
  return (
    <span className={`badge badge-${tone}${compact ? ' badge-compact' : ''}`} {...rest}>
      <span className="badge-dot" aria-hidden="true" />
      {children}
    </span>
  );
}
