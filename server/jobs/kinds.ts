/** Every job the runner knows. Start-up fails if one has no handler (see jobs/runner.ts). */
export const JOB_KINDS = ['extract_metadata', 'process_image'] as const;
export type JobKind = (typeof JOB_KINDS)[number];

/** Events written to the outbox, and the jobs each one starts. */
export const EVENT_JOBS = {
  'image.uploaded': ['extract_metadata', 'process_image'],
  'image.reprocess_requested': ['process_image'],
  'image.processed': [],
  'image.failed': [],
  'image.deleted': [],
  'variant.expired': [],
} as const satisfies Record<string, readonly JobKind[]>;
export type EventType = keyof typeof EVENT_JOBS;
