import { sentence } from '../../ui/format';
import type { WatchFolder } from '../../api/schemas';

/** How a watch folder's state, mode and origin read on the status page. */
export const WATCH_STATE: Record<WatchFolder['state'], { label: string; tone: 'done' | 'queued' | 'failed' }> = {
  watching: { label: 'Watching', tone: 'done' },
  starting: { label: 'Starting', tone: 'queued' },
  unavailable: { label: 'Unavailable', tone: 'failed' },
  // Only while the server shuts down.
  stopped: { label: 'Stopped', tone: 'queued' },
};

export function modeText(folder: Pick<WatchFolder, 'mode' | 'pollingReason'>): { label: string; detail: string | null } {
  if (folder.mode === 'events') return { label: 'File events', detail: null };
  return { label: 'Polling', detail: folder.pollingReason ? sentence(folder.pollingReason) : null };
}

export const sourceText = (source: WatchFolder['source']) => (source === 'flag' ? 'Set by --watch at start-up' : 'Added in settings');
