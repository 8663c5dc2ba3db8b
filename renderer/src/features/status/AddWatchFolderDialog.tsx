import { useMutation } from '@tanstack/react-query';
import { useId, useState, type FormEvent } from 'react';
import type { WatchFolder } from '../../api/schemas';
import { useSession } from '../../auth/SessionContext';
import { Dialog } from '../../ui/Dialog';
import { Icon } from '../../ui/Icon';
import { watchChangeError } from './watchErrors';

/**
 * Adds a watch folder by its path (in a browser, which cannot show the server machine's folders;
 * the desktop app uses the system's folder dialog instead). The server checks the path.
 */
export function AddWatchFolderDialog({ open, onClose, onAdded }: { open: boolean; onClose: () => void; onAdded: (folder: WatchFolder) => void }) {
  return (
    <Dialog
      open={open}
      onClose={onClose}
      title="Watch a folder"
      description="Images saved into this folder, or any folder inside it, are added to the library once they are completely written. The files stay where they are."
    >
      {/* The dialog shows its content only while open: each opening starts with a fresh form. */}
      <AddWatchFolderForm onClose={onClose} onAdded={onAdded} />
    </Dialog>
  );
}

function AddWatchFolderForm({ onClose, onAdded }: { onClose: () => void; onAdded: (folder: WatchFolder) => void }) {
  const { api } = useSession();
  const [path, setPath] = useState('');
  const [poll, setPoll] = useState(false);
  const pathId = useId();
  const hintId = useId();
  const errorId = useId();
  const pollHintId = useId();

  const add = useMutation({
    mutationFn: (input: { path: string; poll: boolean }) => api.json<WatchFolder>('POST', '/v1/watch', input),
    onSuccess: (folder) => {
      onAdded(folder);
      onClose();
    },
  });

  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!path.trim()) return;
    add.mutate({ path: path.trim(), poll });
  };
  const error = add.error ? watchChangeError(add.error) : null;

  return (
    <form className="form" onSubmit={submit} noValidate>
      <div className="field">
        <label className="field-label" htmlFor={pathId}>
          Folder
        </label>
        <input
          id={pathId}
          className="input input-mono"
          type="text"
          value={path}
          onChange={(e) => setPath(e.target.value)}
          placeholder="/home/me/Pictures/incoming"
          autoComplete="off"
          spellCheck={false}
          required
          aria-invalid={error ? true : undefined}
          aria-describedby={error ? `${hintId} ${errorId}` : hintId}
        />
        <span id={hintId} className="field-hint">
          The absolute path of a folder on the machine Darkroom runs on.
        </span>
        {error && (
          <span id={errorId} className="field-error" role="alert">
            <Icon name="alert" size={15} />
            {error}
          </span>
        )}
      </div>
      <label className="check">
        <input type="checkbox" checked={poll} onChange={(e) => setPoll(e.target.checked)} aria-describedby={pollHintId} />
        <span className="check-text">
          <span className="check-label">Check for new files regularly (polling)</span>
          <span id={pollHintId} className="field-hint">
            For network shares that do not report changes. Network folders Darkroom recognises are polled anyway.
          </span>
        </span>
      </label>
      <footer className="dialog-footer">
        <button type="button" className="button button-secondary" onClick={onClose}>
          Cancel
        </button>
        <button type="submit" className="button button-primary" disabled={add.isPending || !path.trim()}>
          {add.isPending ? 'Adding…' : 'Watch folder'}
        </button>
      </footer>
    </form>
  );
}
