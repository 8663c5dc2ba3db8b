/** How the queue's progress shows on the dock, taskbar and tray, and the words of the notification. Pure. */

export interface EngineProgress {
  pending: number;
  processed: number;
  failed: number;
  total: number;
}

export interface ProgressView {
  /** Dock / launcher badge: images still to do; 0 hides it. */
  badgeCount: number;
  /** Taskbar / dock progress bar from 0 to 1; -1 hides it. */
  fraction: number;
  tooltip: string;
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

export function progressView(p: EngineProgress): ProgressView {
  if (p.pending <= 0 || p.total <= 0) return { badgeCount: 0, fraction: -1, tooltip: 'Darkroom — idle' };
  const done = p.processed + p.failed;
  return {
    badgeCount: p.pending,
    // Never shown as full while work remains, never as empty once work started: both read as "stuck".
    fraction: Math.min(0.99, Math.max(0.01, done / p.total)),
    tooltip: `Darkroom — ${done} of ${plural(p.total, 'image')} processed`,
  };
}

/** The notification when a batch finished, or undefined when there is nothing to say. */
export function batchNotice(batch: { processed: number; failed: number }): { title: string; body: string } | undefined {
  const { processed, failed } = batch;
  if (processed + failed === 0) return undefined;
  if (failed === 0) return { title: 'Images ready', body: `${plural(processed, 'image')} processed.` };
  if (processed === 0) return { title: 'Processing failed', body: `${plural(failed, 'image')} could not be processed.` };
  return { title: 'Images ready', body: `${plural(processed, 'image')} processed, ${failed} failed.` };
}
