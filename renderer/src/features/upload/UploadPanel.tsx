import { memo, useEffect, useRef, useState } from 'react';
import { Link } from '../../app/router';
import { formatBytes, formatDuration, formatSpeed } from '../../ui/format';
import { Icon } from '../../ui/Icon';
import { ProgressBar } from '../../ui/ProgressBar';
import { useUploadItems, useUploads } from './UploadContext';
import { UploadQueue, type UploadItem, type UploadTotals } from './uploadQueue';

/** The uploads of this session, with overall progress; floats over the page, collapsible. */
export function UploadPanel() {
  const items = useUploadItems();
  const { queue, interrupted, discard } = useUploads();
  const [collapsed, setCollapsed] = useState(false);
  // Closing the panel hides the interrupted list too (they stay resumable; adding the file continues it).
  const [hideInterrupted, setHideInterrupted] = useState(false);
  const shownInterrupted = hideInterrupted ? [] : interrupted;
  const waiting = items.some((i) => i.waitingUntil !== null);
  useTick(waiting);
  const totals = UploadQueue.totals(items);

  // Open while files go up; folded away a moment after all of them made it, out of the way.
  const settled = totals.count > 0 && totals.active === 0 && totals.failed === 0;
  const wasActive = useRef(false);
  useEffect(() => {
    const active = totals.active > 0;
    if (active && !wasActive.current) setCollapsed(false);
    wasActive.current = active;
  }, [totals.active]);
  useEffect(() => {
    if (!settled) return;
    const timer = setTimeout(() => setCollapsed(true), 4000);
    return () => clearTimeout(timer);
  }, [settled]);

  const announcement = useAnnouncements(items);

  if (items.length === 0 && shownInterrupted.length === 0) return null;
  const percent = overallPercent(totals);
  const { title, summary } = describeTotals(totals, shownInterrupted.length);

  return (
    <aside className={`upload-panel${collapsed ? ' is-collapsed' : ''}`} aria-label="Uploads">
      <p className="visually-hidden" aria-live="polite">
        {announcement}
      </p>
      <header className="upload-panel-header">
        <div className="upload-panel-heading">
          <h2>{title}</h2>
          <p>{summary}</p>
        </div>
        <button type="button" className="icon-button" onClick={() => setCollapsed((c) => !c)} aria-expanded={!collapsed} aria-label={collapsed ? 'Show uploads' : 'Hide uploads'}>
          <Icon name={collapsed ? 'chevronUp' : 'chevronDown'} />
        </button>
        {totals.active === 0 && (
          <button
            type="button"
            className="icon-button"
            onClick={() => {
              queue.clearFinished();
              setHideInterrupted(true);
            }}
            aria-label="Close the upload list"
          >
            <Icon name="x" />
          </button>
        )}
      </header>
      {totals.count > 0 && (
        <div className="upload-panel-progress">
          <ProgressBar value={percent} label="All uploads" tone={totals.active === 0 ? (totals.failed ? 'muted' : 'done') : 'accent'} />
        </div>
      )}
      {!collapsed && (
        <div className="upload-panel-body">
          {items.length > 0 && (
            <ul className="upload-list">
              {items.map((item) => (
                <UploadRow key={item.id} item={item} queue={queue} />
              ))}
            </ul>
          )}
          {shownInterrupted.length > 0 && (
            <section className="interrupted" aria-label="Interrupted uploads">
              <h3>
                <Icon name="offline" size={16} />
                Interrupted before the page was closed
              </h3>
              <p className="interrupted-hint">Add the same file again and it continues where it stopped.</p>
              <ul>
                {shownInterrupted.map((u) => (
                  <li key={u.storageKey}>
                    <span className="interrupted-name" title={u.filename}>
                      {u.filename}
                    </span>
                    <span className="interrupted-meta">
                      {u.offset !== undefined && u.size ? `${Math.floor((u.offset / u.size) * 100)}% of ${formatBytes(u.size)}` : formatBytes(u.size)}
                    </span>
                    <button type="button" className="button button-ghost button-sm" onClick={() => discard(u)} aria-label={`Discard the interrupted upload of ${u.filename}`}>
                      Discard
                    </button>
                  </li>
                ))}
              </ul>
            </section>
          )}
          {items.filter((i) => queue.cancellable(i)).length > 1 && (
            <footer className="upload-panel-footer">
              <button type="button" className="button button-ghost button-sm" onClick={() => queue.cancelAll()}>
                Cancel all
              </button>
            </footer>
          )}
        </div>
      )}
    </aside>
  );
}

/**
 * Uploads by bytes sent; imports (no byte progress) by files, or in a mixed set by their size
 * once done.
 */
function overallPercent(totals: UploadTotals): number {
  if (totals.count > 0 && totals.active === 0) return 100;
  if (totals.imports.count === totals.count) {
    const counted = totals.count - totals.failed;
    return counted > 0 ? (totals.done / counted) * 100 : 0;
  }
  const whole = totals.bytes + totals.imports.bytes;
  return whole > 0 ? ((totals.sent + totals.imports.doneBytes) / whole) * 100 : 0;
}

/**
 * The panel's heading and the line under it. Imports have no byte progress (the server reads
 * the file from disk), so they are counted by files, and uploads by bytes.
 */
function describeTotals(totals: UploadTotals, interrupted: number): { title: string; summary: string } {
  const files = (n: number) => `${n} file${n === 1 ? '' : 's'}`;
  if (totals.count === 0) return { title: 'Interrupted uploads', summary: `${interrupted} can be continued` };
  const { imports } = totals;
  const activeImports = imports.active;
  const activeUploads = totals.active - activeImports;
  const onlyImports = imports.count === totals.count;
  if (totals.active > 0) {
    const title =
      activeUploads && activeImports
        ? `Uploading ${activeUploads}, importing ${activeImports}`
        : activeImports
          ? `Importing ${files(activeImports)}`
          : `Uploading ${files(activeUploads)}`;
    if (onlyImports) {
      return { title, summary: `${totals.done} of ${files(totals.count - totals.failed)} imported · read from disk, not uploaded` };
    }
    return {
      title,
      summary: `${formatBytes(totals.sent)} of ${formatBytes(totals.bytes)}${totals.speed > 0 ? ` · ${formatSpeed(totals.speed)} · ${formatDuration(totals.eta)} left` : ''}`,
    };
  }
  const verb = onlyImports ? 'imported' : 'uploaded';
  const noun = onlyImports ? 'import' : 'upload';
  const title =
    totals.failed > 0
      ? totals.done > 0
        ? `${totals.done} ${verb}, ${totals.failed} not ${verb}`
        : `${totals.failed} ${noun}${totals.failed === 1 ? '' : 's'} failed`
      : `${totals.done} ${noun}${totals.done === 1 ? '' : 's'} complete`;
  const summary = totals.done > 0 ? (onlyImports ? `${formatBytes(imports.doneBytes)} imported` : `${formatBytes(totals.sent)} sent`) : `Nothing was ${verb}`;
  return { title, summary };
}

const UploadRow = memo(function UploadRow({ item, queue }: { item: UploadItem; queue: UploadQueue }) {
  const percent = item.state === 'done' ? 100 : item.size > 0 ? (item.sent / item.size) * 100 : 0;
  const tone = item.state === 'error' ? 'error' : item.state === 'done' ? 'done' : item.reconnecting || item.waitingUntil ? 'muted' : 'accent';
  const name = item.path;
  const importing = item.method === 'import' && item.state === 'uploading';
  const noun = item.method === 'import' ? 'import' : 'upload';

  return (
    <li data-testid="upload-item" data-state={item.state} className={`upload-item state-${item.state}${item.reconnecting ? ' is-reconnecting' : ''}`}>
      <FilePreview file={item.file} />
      <div className="upload-main">
        <div className="upload-line">
          <span className="upload-name" title={name}>
            {name}
          </span>
          <span className="upload-percent">{item.state === 'error' || importing || (item.method === 'import' && item.state === 'queued') ? '' : `${Math.floor(percent)}%`}</span>
        </div>
        {/* A failed upload's bar says nothing useful to the eye; it stays for assistive technology. */}
        <div className={item.state === 'error' ? 'visually-hidden' : undefined}>
          <ProgressBar
            value={percent}
            label={`${item.method === 'import' ? 'Import' : 'Upload'} of ${name}`}
            tone={tone}
            size="sm"
            busy={importing ? 'Importing' : undefined}
          />
        </div>
        <p className={`upload-status${item.problem && item.state !== 'done' ? ` upload-status-${item.problem.kind}` : ''}`}>{statusLine(item)}</p>
      </div>
      <div className="upload-actions">
        {queue.cancellable(item) && (
          <button type="button" className="icon-button" onClick={() => queue.cancel(item.id)} aria-label={`Cancel the ${noun} of ${name}`}>
            <Icon name="x" size={17} />
          </button>
        )}
        {item.state === 'error' && item.problem?.retryable && (
          <button type="button" className="icon-button" onClick={() => queue.retry(item.id)} aria-label={`Retry the ${noun} of ${name}`}>
            <Icon name="retry" size={17} />
          </button>
        )}
        {item.state === 'error' && (
          <button type="button" className="icon-button" onClick={() => queue.remove(item.id)} aria-label={`Remove ${name} from the list`}>
            <Icon name="trash" size={16} />
          </button>
        )}
        {item.state === 'done' && item.imageId && (
          <Link to={`/images/${item.imageId}`} className="icon-button" aria-label={`Open ${name}`}>
            <Icon name="external" size={16} />
          </Link>
        )}
      </div>
    </li>
  );
});

function statusLine(item: UploadItem): string {
  if (item.method === 'import') return importStatusLine(item);
  const resumed = item.resumedFrom > 0 ? ` · continued from ${formatBytes(item.resumedFrom)}` : '';
  switch (item.state) {
    case 'queued':
      if (item.waitingUntil) {
        const seconds = Math.max(0, Math.ceil((item.waitingUntil - Date.now()) / 1000));
        return `${item.problem?.title ?? 'Waiting'} — trying again in ${seconds} s`;
      }
      return `Waiting · ${formatBytes(item.size)}`;
    case 'uploading':
      if (item.reconnecting) return `${item.problem?.title ?? 'Connection lost'} — reconnecting, the upload continues where it stopped`;
      if (item.sent === 0 && item.speed === 0) return `Starting · ${formatBytes(item.size)}`;
      return `${formatBytes(item.sent)} of ${formatBytes(item.size)}${item.speed > 0 ? ` · ${formatSpeed(item.speed)} · ${formatDuration(item.eta)} left` : ''}${resumed}`;
    case 'done':
      return `Uploaded · ${formatBytes(item.size)}${resumed}`;
    case 'error':
      return item.problem ? `${item.problem.title}. ${item.problem.detail}` : 'Not uploaded';
  }
}

/** An import has no byte progress to show: it waits, is being read by the server, is done, or failed. */
function importStatusLine(item: UploadItem): string {
  switch (item.state) {
    case 'queued':
      if (item.waitingUntil) {
        const seconds = Math.max(0, Math.ceil((item.waitingUntil - Date.now()) / 1000));
        return `${item.problem?.title ?? 'Waiting'} — trying again in ${seconds} s`;
      }
      return `Waiting to import · ${formatBytes(item.size)}`;
    case 'uploading':
      return `Importing… · ${formatBytes(item.size)} read from disk`;
    case 'done':
      return `Imported · ${formatBytes(item.size)}`;
    case 'error':
      return item.problem ? `${item.problem.title}. ${item.problem.detail}` : 'Not imported';
  }
}

const PREVIEWABLE = /^image\/(jpeg|png|webp|gif|avif|svg\+xml)$/;
const PREVIEW_MAX_BYTES = 15 * 1024 * 1024;

/** A small local preview of the file being sent (no download needed), or a file icon. */
function FilePreview({ file }: { file: File }) {
  const [url, setUrl] = useState<string>();
  const [broken, setBroken] = useState(false);
  useEffect(() => {
    if (!PREVIEWABLE.test(file.type) || file.size === 0 || file.size > PREVIEW_MAX_BYTES) return;
    const objectUrl = URL.createObjectURL(file);
    setUrl(objectUrl);
    return () => URL.revokeObjectURL(objectUrl);
  }, [file]);
  return (
    <span className="upload-preview" aria-hidden="true">
      {/* Files the browser cannot show (not really images, or too large to decode) get the icon. */}
      {url && !broken ? <img src={url} alt="" onError={() => setBroken(true)} /> : <Icon name="image" size={20} />}
    </span>
  );
}

/**
 * What a screen reader should hear: each upload that finished or failed, once. (The progress
 * itself changes too often to be read out.)
 */
function useAnnouncements(items: UploadItem[]): string {
  const seen = useRef(new Map<string, UploadItem['state']>());
  const [message, setMessage] = useState('');
  useEffect(() => {
    const news: string[] = [];
    for (const item of items) {
      const before = seen.current.get(item.id);
      if (before !== item.state) {
        const verb = item.method === 'import' ? 'imported' : 'uploaded';
        if (item.state === 'done') news.push(`${item.path} ${verb}.`);
        if (item.state === 'error' && item.problem) news.push(`${item.path} not ${verb}: ${item.problem.title}.`);
      }
      seen.current.set(item.id, item.state);
    }
    if (news.length) setMessage(news.join(' '));
  }, [items]);
  return message;
}

/** Re-renders once a second while something counts down. */
function useTick(active: boolean) {
  const [, setNow] = useState(0);
  useEffect(() => {
    if (!active) return;
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [active]);
}
