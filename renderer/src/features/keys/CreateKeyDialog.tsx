import { useMutation } from '@tanstack/react-query';
import { useEffect, useId, useState, type FormEvent } from 'react';
import { ApiError } from '../../api/client';
import type { CreatedKey, Role } from '../../api/schemas';
import { useSession } from '../../auth/SessionContext';
import { Dialog } from '../../ui/Dialog';
import { CopyableValue } from '../../ui/CopyableValue';
import { Field, FormError } from '../../ui/Field';

const ROLES: Array<{ value: Role; label: string; description: string }> = [
  { value: 'user', label: 'User', description: "Uploads, lists, reads and deletes its customer's images." },
  { value: 'business', label: 'Business', description: 'Reads statistics for all customers. Cannot see images.' },
  { value: 'admin', label: 'Admin', description: 'Everything, including managing keys.' },
];

/** Creates a key and shows it once, with a copy button and a ready-made login link. */
export function CreateKeyDialog({ open, onClose, onCreated }: { open: boolean; onClose: () => void; onCreated: () => void }) {
  const { api } = useSession();
  const [customer, setCustomer] = useState('');
  const [role, setRole] = useState<Role>('user');
  const [name, setName] = useState('');
  const [created, setCreated] = useState<CreatedKey | null>(null);
  const errorId = useId();

  useEffect(() => {
    if (!open) return;
    setCustomer('');
    setRole('user');
    setName('');
    setCreated(null);
    create.reset();
  }, [open]);

  const create = useMutation({
    mutationFn: () => api.json<CreatedKey>('POST', '/v1/keys', { customer: customer.trim(), role, ...(name.trim() ? { name: name.trim() } : {}) }),
    onSuccess: (key) => {
      setCreated(key);
      onCreated();
    },
  });

  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate();
  };

  const loginLink = created ? `${window.location.origin}/#key=${created.key}` : '';

  if (created) {
    return (
      <Dialog
        open={open}
        onClose={onClose}
        title="Key created"
        description="Copy it now: Darkroom stores only a hash of it, so it cannot be shown again."
        footer={
          <button type="button" className="button button-primary" onClick={onClose}>
            Done
          </button>
        }
      >
        <CopyableValue label={`${created.customer} · ${created.role}${created.name ? ` · ${created.name}` : ''}`} value={created.key} copyLabel="Copy key" what="Key" testId="created-key" />
        <CopyableValue label="Login link for the web UI" value={loginLink} copyLabel="Copy link" what="Login link" subtle />
      </Dialog>
    );
  }

  const error = create.error instanceof ApiError ? create.error.message : create.error?.message;
  return (
    <Dialog
      open={open}
      onClose={onClose}
      title="Create an API key"
      footer={
        <>
          <button type="button" className="button button-secondary" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" form="create-key-form" className="button button-primary" disabled={create.isPending || !customer.trim()}>
            {create.isPending ? 'Creating…' : 'Create key'}
          </button>
        </>
      }
    >
      <form id="create-key-form" className="form" onSubmit={submit}>
        <Field label="Customer" hint={'Letters, digits, ".", "_" or "-". Images uploaded with the key belong to this customer.'}>
          {(id) => (
            <input
              id={id}
              className="input"
              value={customer}
              onChange={(e) => setCustomer(e.target.value)}
              placeholder="acme"
              autoComplete="off"
              required
              aria-describedby={error ? errorId : undefined}
              autoFocus
            />
          )}
        </Field>
        <fieldset className="field">
          <legend className="field-label">Role</legend>
          <div className="role-options">
            {ROLES.map((r) => (
              <label key={r.value} className={`preset${role === r.value ? ' is-selected' : ''}`}>
                <input type="radio" name="role" value={r.value} checked={role === r.value} onChange={() => setRole(r.value)} />
                <span className="preset-text">
                  <span className="preset-label">{r.label}</span>
                  <span className="preset-description">{r.description}</span>
                </span>
              </label>
            ))}
          </div>
        </fieldset>
        <Field label="Name" optional>
          {(id) => <input id={id} className="input" value={name} onChange={(e) => setName(e.target.value)} placeholder="Photo desk laptop" autoComplete="off" maxLength={100} />}
        </Field>
        <FormError id={errorId} message={error} />
      </form>
    </Dialog>
  );
}
