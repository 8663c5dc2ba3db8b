import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import type { WatchFolder } from '../../api/schemas';
import { useSession } from '../../auth/SessionContext';
import { desktopBridge, servedFromThisMachine } from '../../desktop/desktop';
import { Dialog } from '../../ui/Dialog';
import { formatCount, formatDateTime, formatRelative } from '../../ui/format';
import { Icon } from '../../ui/Icon';
import { Badge } from '../../ui/StatusBadge';
import { useToast } from '../../ui/Toasts';
import { AddWatchFolderDialog } from './AddWatchFolderDialog';
import { modeText, sourceText, WATCH_STATE } from './watchFolderText';
import { watchChangeError } from './watchErrors';

/** Counts move as files arrive; a few seconds is soon enough to see them move. */
const POLL_MS = 3000;

/** The watch folders (GET /v1/watch) with their counts; add and remove (POST, DELETE /v1/watch). */
export function WatchFoldersSection() {
  const { api } = useSession();
  const queryClient = useQueryClient();
  const toast = useToast();
  const bridge = desktopBridge();
  const [adding, setAdding] = useState(false);
  const [removing, setRemoving] = useState<WatchFolder | null>(null);
  const [problem, setProblem] = useState<string | null>(null);

  const folders = useQuery({
    queryKey: ['watch'],
    queryFn: ({ signal }) => api.get<{ items: WatchFolder[] }>('/v1/watch', signal),
    refetchInterval: POLL_MS,
  });
  const items = folders.data?.items ?? [];

  const added = (folder: WatchFolder) => {
    setProblem(null);
    const known = items.some((f) => f.id === folder.id);
    void queryClient.invalidateQueries({ queryKey: ['watch'] });
    toast(known ? `${folder.path} is already watched.` : `Watching ${folder.path}.`, known ? 'info' : 'success');
  };

  // The desktop app asks with the system's folder dialog; a browser cannot see the server's folders.
  const chooseAndAdd = useMutation({
    mutationFn: async () => {
      const path = await bridge!.chooseFolder();
      return path ? api.json<WatchFolder>('POST', '/v1/watch', { path }) : null;
    },
    onMutate: () => setProblem(null),
    onSuccess: (folder) => folder && added(folder),
    onError: (err) => setProblem(watchChangeError(err)),
  });

  const remove = useMutation({
    mutationFn: (folder: WatchFolder) => api.json<void>('DELETE', `/v1/watch/${folder.id}`),
    onSuccess: (_data, folder) => {
      setRemoving(null);
      setProblem(null);
      void queryClient.invalidateQueries({ queryKey: ['watch'] });
      toast(`${folder.path} is no longer watched.`, 'success');
    },
    onError: (err) => {
      setRemoving(null);
      setProblem(watchChangeError(err));
    },
  });

  const addFolder = () => (bridge ? chooseAndAdd.mutate() : setAdding(true));

  return (
    <section className="status-section" aria-labelledby="watch-heading">
      <div className="section-head">
        <div>
          <h2 id="watch-heading" className="section-title">
            <Icon name="eyeWatch" size={19} />
            Watch folders
          </h2>
          <p className="section-hint">Images saved into these folders, or folders inside them, are added to the library by themselves. The files stay where they are.</p>
        </div>
        <button type="button" className="button button-secondary" onClick={addFolder} disabled={chooseAndAdd.isPending}>
          <Icon name="plus" size={17} />
          {bridge ? 'Add folder…' : 'Add folder'}
        </button>
      </div>

      {!bridge && !servedFromThisMachine() && (
        <p className="notice notice-subtle">
          <Icon name="info" size={17} />
          <span>Folders can be added and removed only on the machine Darkroom runs on; from here you can see them.</span>
        </p>
      )}
      {problem && (
        <div className="notice notice-error" role="alert">
          <Icon name="alert" size={18} />
          <span>{problem}</span>
        </div>
      )}

      <div className="panel panel-flush">
        {folders.isPending ? (
          <p className="panel-empty">Loading…</p>
        ) : folders.isError ? (
          <p className="panel-empty" role="alert">
            The watch folders could not be loaded: {folders.error.message}
          </p>
        ) : items.length === 0 ? (
          <div className="empty-state empty-state-inset">
            <span className="empty-icon">
              <Icon name="folder" size={26} />
            </span>
            <h3>No folders are watched</h3>
            <p>Add a folder, and images saved into it appear in the library without uploading them.</p>
          </div>
        ) : (
          <div className="table-scroll">
            <table className="table table-watch" aria-labelledby="watch-heading">
              <thead>
                <tr>
                  <th scope="col">Folder</th>
                  <th scope="col">State</th>
                  <th scope="col">Detects files by</th>
                  <th scope="col" className="num">
                    Ingested
                  </th>
                  <th scope="col" className="num">
                    Rejected
                  </th>
                  <th scope="col" className="num">
                    Pending
                  </th>
                  <th scope="col">Last image</th>
                  <th scope="col">
                    <span className="visually-hidden">Remove</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {items.map((folder) => (
                  <WatchFolderRow key={folder.id} folder={folder} onRemove={() => setRemoving(folder)} />
                ))}
              </tbody>
            </table>
          </div>
        )}
      </div>

      <AddWatchFolderDialog open={adding} onClose={() => setAdding(false)} onAdded={added} />
      <Dialog
        open={removing !== null}
        onClose={() => setRemoving(null)}
        size="sm"
        title="Stop watching this folder?"
        description={
          removing && (
            <>
              <span className="mono">{removing.path}</span> is no longer watched. The images it brought in stay in the library, and its files are not taken
              again if you add it back.
            </>
          )
        }
        footer={
          <>
            <button type="button" className="button button-secondary" onClick={() => setRemoving(null)}>
              Keep watching
            </button>
            <button type="button" className="button button-danger" onClick={() => removing && remove.mutate(removing)} disabled={remove.isPending}>
              {remove.isPending ? 'Removing…' : 'Stop watching'}
            </button>
          </>
        }
      />
    </section>
  );
}

function WatchFolderRow({ folder, onRemove }: { folder: WatchFolder; onRemove: () => void }) {
  const state = WATCH_STATE[folder.state];
  const mode = modeText(folder);
  return (
    <tr data-watch-id={folder.id}>
      <th scope="row" className="watch-folder">
        <span className="watch-path mono" title={folder.path}>
          {folder.path}
        </span>
        <span className="watch-source">{sourceText(folder.source)}</span>
      </th>
      {/* data-label: the column's name, shown next to the value where rows stack (phones). */}
      <td data-label="State">
        <Badge tone={state.tone}>{state.label}</Badge>
        {folder.error && <span className="cell-error">{folder.error}</span>}
      </td>
      <td data-label="Detects files by">
        {mode.label}
        {mode.detail && <span className="cell-sub">{mode.detail}</span>}
      </td>
      <td className="num" data-label="Ingested">
        {formatCount(folder.counts.ingested)}
      </td>
      <td className={`num${folder.counts.rejected ? ' num-warning' : ''}`} data-label="Rejected">
        {formatCount(folder.counts.rejected)}
      </td>
      <td className="num" data-label="Pending">
        {formatCount(folder.counts.pending)}
      </td>
      <td data-label="Last image">
        {folder.lastIngestedAt ? (
          <time dateTime={folder.lastIngestedAt} title={formatDateTime(folder.lastIngestedAt)}>
            {formatRelative(folder.lastIngestedAt)}
          </time>
        ) : (
          <span className="dim">None yet</span>
        )}
      </td>
      <td className="cell-action">
        {/* A --watch folder is configuration: it goes when the option goes, not from here. */}
        {folder.source === 'settings' && (
          <button type="button" className="button button-ghost-danger button-sm" onClick={onRemove} aria-label={`Stop watching ${folder.path}`}>
            Remove
          </button>
        )}
      </td>
    </tr>
  );
}
