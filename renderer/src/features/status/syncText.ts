import type { SyncStatus } from '../../api/schemas';

/** What each object operation of the sync queue does, in words. */
const OPERATIONS: Record<string, string> = {
  put_original: 'Upload original',
  put_processed: 'Upload processed file',
  delete_original: 'Delete original',
  delete_processed: 'Delete processed file',
  delete_image: 'Delete processed files of a deleted image',
};

export const operationText = (op: string) => OPERATIONS[op] ?? op.replace(/_/g, ' ');

type Lifecycle = Extract<SyncStatus, { enabled: true }>['lifecycle'];

/** The bucket's lifecycle rule for processed files: a second line of defence behind the purge. */
export function lifecycleText(lifecycle: Lifecycle): string {
  switch (lifecycle.state) {
    case 'applied':
      return 'Set: the bucket also expires processed files';
    case 'pending':
      return 'Being set…';
    case 'unsupported':
      return 'Not supported by this bucket: the purge alone removes expired files';
  }
}
