import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import type { ApiKey } from '../../api/schemas';
import { useSession } from '../../auth/SessionContext';
import { ConfirmDialog } from '../../ui/ConfirmDialog';
import { formatDateTime, formatRelative } from '../../ui/format';
import { Icon } from '../../ui/Icon';
import { PageHeader } from '../../ui/PageHeader';
import { TablePanel } from '../../ui/TablePanel';
import { useToast } from '../../ui/Toasts';
import { CreateKeyDialog } from './CreateKeyDialog';

const ROLE_LABEL: Record<ApiKey['role'], string> = { user: 'User', business: 'Business', admin: 'Admin' };

const COLUMNS = [
  { label: 'Name' },
  { label: 'Customer' },
  { label: 'Role' },
  { label: 'Key' },
  { label: 'Created' },
  { label: 'Last used' },
  { label: 'Revoke', hidden: true },
];

/** API keys (admin): who can get in, create one (shown once), revoke one. */
export function KeysView() {
  const { api, me } = useSession();
  const queryClient = useQueryClient();
  const toast = useToast();
  const [creating, setCreating] = useState(false);
  const [revoking, setRevoking] = useState<ApiKey | null>(null);
  const keys = useQuery({ queryKey: ['keys'], queryFn: ({ signal }) => api.get<{ items: ApiKey[] }>('/v1/keys', signal) });

  const revoke = useMutation({
    mutationFn: (key: ApiKey) => api.json<void>('DELETE', `/v1/keys/${key.id}`),
    onSuccess: (_data, key) => {
      setRevoking(null);
      void queryClient.invalidateQueries({ queryKey: ['keys'] });
      toast(`Key ${key.name ?? key.prefix} revoked. It no longer works.`, 'success');
    },
    onError: (err) => toast(`Could not revoke: ${err.message}`, 'error'),
  });

  const items = [...(keys.data?.items ?? [])].sort((a, b) => b.createdAt.localeCompare(a.createdAt));

  return (
    <div className="page">
      <PageHeader
        title="API keys"
        subtitle="Each key belongs to one customer and has one role. Keys are stored hashed and shown only once."
        actions={
          <button type="button" className="button button-primary" onClick={() => setCreating(true)}>
            <Icon name="plus" size={17} />
            Create key
          </button>
        }
      />

      <TablePanel label="Active keys" what="keys" loading={keys.isPending} error={keys.error} count={items.length} columns={COLUMNS} className="table-keys">
        {items.map((key) => (
          <tr key={key.id} data-key-id={key.id}>
            <th scope="row">
              {key.name ?? <span className="dim">Unnamed</span>}
              {key.id === me.keyId && <span className="tag">This session</span>}
            </th>
            <td>{key.customer}</td>
            <td>
              <span className={`role role-${key.role}`}>{ROLE_LABEL[key.role]}</span>
            </td>
            <td>
              <span className="mono dim">{key.prefix}…</span>
            </td>
            <td>
              <time dateTime={key.createdAt} title={formatDateTime(key.createdAt)}>
                {formatRelative(key.createdAt)}
              </time>
            </td>
            <td>{key.lastUsedAt ? <time dateTime={key.lastUsedAt}>{formatRelative(key.lastUsedAt)}</time> : <span className="dim">Never</span>}</td>
            <td className="cell-action">
              <button
                type="button"
                className="button button-ghost-danger button-sm"
                onClick={() => setRevoking(key)}
                disabled={key.id === me.keyId}
                title={key.id === me.keyId ? 'You are signed in with this key' : undefined}
                aria-label={`Revoke ${key.name ?? key.prefix}`}
              >
                Revoke
              </button>
            </td>
          </tr>
        ))}
      </TablePanel>

      <CreateKeyDialog open={creating} onClose={() => setCreating(false)} onCreated={() => void queryClient.invalidateQueries({ queryKey: ['keys'] })} />

      <ConfirmDialog
        open={revoking !== null}
        onClose={() => setRevoking(null)}
        onConfirm={() => revoking && revoke.mutate(revoking)}
        title="Revoke this key?"
        description={
          revoking && (
            <>
              <strong>{revoking.name ?? revoking.prefix}</strong> ({revoking.customer}, {ROLE_LABEL[revoking.role].toLowerCase()}) stops working at once. Anything using it will get 401.
            </>
          )
        }
        confirmLabel="Revoke key"
        pendingLabel="Revoking…"
        pending={revoke.isPending}
      />
    </div>
  );
}
