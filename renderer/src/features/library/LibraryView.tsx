import { useCallback, useState } from 'react';
import type { ImageStatus } from '../../api/schemas';
import { navigate, useLocation } from '../../app/router';
import { Dropzone } from '../upload/Dropzone';
import { ImageGrid } from './ImageGrid';
import { useLiveConnection } from './LiveEvents';
import type { StatusFilter } from './libraryCache';

const FILTERS: Array<{ value: StatusFilter; label: string }> = [
  { value: 'all', label: 'All' },
  { value: 'queued', label: 'Queued' },
  { value: 'processing', label: 'Processing' },
  { value: 'done', label: 'Done' },
  { value: 'failed', label: 'Failed' },
];

const isStatus = (s: string | null): s is ImageStatus => s === 'queued' || s === 'processing' || s === 'done' || s === 'failed';

export function LibraryView() {
  const { search } = useLocation();
  const raw = search.get('status');
  const filter: StatusFilter = isStatus(raw) ? raw : 'all';
  const [count, setCount] = useState<{ loaded: number; more: boolean }>({ loaded: 0, more: false });
  const onCount = useCallback((loaded: number, more: boolean) => setCount({ loaded, more }), []);
  const connection = useLiveConnection();

  return (
    <div className="page">
      <div className="page-header">
        <div>
          <h1>Library</h1>
          <p className="page-subtitle">
            {count.loaded > 0 ? `${count.loaded.toLocaleString()}${count.more ? '+' : ''} image${count.loaded === 1 ? '' : 's'}` : 'Uploads and their processed variants'}
            <span className={`live-indicator live-${connection}`}>
              <span className="live-dot" aria-hidden="true" />
              {connection === 'live' ? 'Live' : connection === 'reconnecting' ? 'Reconnecting…' : 'Connecting…'}
            </span>
          </p>
        </div>
      </div>

      <Dropzone compact={count.loaded > 0 || filter !== 'all'} />

      <div className="toolbar">
        <div className="segmented" role="group" aria-label="Filter by status">
          {FILTERS.map((f) => (
            <button
              key={f.value}
              type="button"
              className="segmented-item"
              aria-pressed={filter === f.value}
              onClick={() => navigate(f.value === 'all' ? '/' : `/?status=${f.value}`, { replace: true })}
            >
              {f.label}
            </button>
          ))}
        </div>
      </div>

      <ImageGrid key={filter} filter={filter} onCount={onCount} />
    </div>
  );
}
