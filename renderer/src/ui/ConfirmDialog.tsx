import type { ReactNode } from 'react';
import { Dialog } from './Dialog';

/**
 * Asks before something that cannot be undone (revoke a key, delete a preset): the safe choice
 * first, the destructive one in red, disabled while it runs.
 */
export function ConfirmDialog({
  open,
  onClose,
  onConfirm,
  title,
  description,
  confirmLabel,
  pendingLabel,
  pending,
  keepLabel = 'Keep it',
}: {
  open: boolean;
  onClose: () => void;
  onConfirm: () => void;
  title: string;
  description: ReactNode;
  confirmLabel: string;
  /** Shown on the button while it runs ("Revoking…"). */
  pendingLabel?: string;
  pending: boolean;
  keepLabel?: string;
}) {
  return (
    <Dialog
      open={open}
      onClose={onClose}
      size="sm"
      title={title}
      description={description}
      footer={
        <>
          <button type="button" className="button button-secondary" onClick={onClose}>
            {keepLabel}
          </button>
          <button type="button" className="button button-danger" onClick={onConfirm} disabled={pending}>
            {pending && pendingLabel ? pendingLabel : confirmLabel}
          </button>
        </>
      }
    />
  );
}
