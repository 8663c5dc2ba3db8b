import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import type { WebhookEndpoint, WebhookList, WebhookTestResponse } from '../../api/schemas';
import { useSession } from '../../auth/SessionContext';
import { ConfirmDialog } from '../../ui/ConfirmDialog';
import { Icon } from '../../ui/Icon';
import { PageHeader } from '../../ui/PageHeader';
import { TablePanel } from '../../ui/TablePanel';
import { useToast } from '../../ui/Toasts';
import { DeliveriesPanel } from './DeliveriesPanel';
import { EndpointDialog } from './EndpointDialog';

const POLL_MS = 5_000;

const COLUMNS = [{ label: 'URL' }, { label: 'Events' }, { label: 'State' }, { label: 'Pending' }, { label: 'Actions', hidden: true }];

/**
 * Webhook endpoints of the key's customer (roles user and admin): their state, add one (its
 * secret shown once), edit, enable or disable, send a test message, delete; the deliveries log
 * of the one selected.
 */
export function WebhooksView() {
  const { api } = useSession();
  const queryClient = useQueryClient();
  const toast = useToast();
  const [dialog, setDialog] = useState<{ editing: WebhookEndpoint | null } | null>(null);
  const [selected, setSelected] = useState<string | null>(null);
  const [deleting, setDeleting] = useState<WebhookEndpoint | null>(null);
  const endpoints = useQuery({ queryKey: ['webhooks'], queryFn: ({ signal }) => api.get<WebhookList>('/v1/webhooks', signal), refetchInterval: POLL_MS });
  const refresh = () => void queryClient.invalidateQueries({ queryKey: ['webhooks'] });

  const setEnabled = useMutation({
    mutationFn: ({ endpoint, enabled }: { endpoint: WebhookEndpoint; enabled: boolean }) => api.json<WebhookEndpoint>('PATCH', `/v1/webhooks/${endpoint.id}`, { enabled }),
    onSuccess: (endpoint) => {
      refresh();
      toast(endpoint.enabled ? 'Endpoint enabled' : 'Endpoint disabled', 'success');
    },
    onError: (err) => toast(`Could not change it: ${err.message}`, 'error'),
  });
  const sendTest = useMutation({
    mutationFn: (endpoint: WebhookEndpoint) => api.json<WebhookTestResponse>('POST', `/v1/webhooks/${endpoint.id}/test`),
    onSuccess: (_sent, endpoint) => {
      setSelected(endpoint.id);
      void queryClient.invalidateQueries({ queryKey: ['webhook-deliveries', endpoint.id] });
      toast('Test message queued', 'success');
    },
    onError: (err) => toast(`Could not send: ${err.message}`, 'error'),
  });
  const remove = useMutation({
    mutationFn: (endpoint: WebhookEndpoint) => api.json<void>('DELETE', `/v1/webhooks/${endpoint.id}`),
    onSuccess: (_data, endpoint) => {
      setDeleting(null);
      if (selected === endpoint.id) setSelected(null);
      refresh();
      toast('Endpoint removed', 'success');
    },
    onError: (err) => toast(`Could not remove: ${err.message}`, 'error'),
  });

  const items = endpoints.data?.items ?? [];
  const shown = items.find((e) => e.id === selected);

  return (
    <div className="page">
      <PageHeader
        title="Webhooks"
        subtitle="Darkroom POSTs your customer's image events to these URLs, signed per Standard Webhooks, and retries until they answer 2xx."
        actions={
          <button type="button" className="button button-primary" onClick={() => setDialog({ editing: null })}>
            <Icon name="plus" size={17} />
            Add endpoint
          </button>
        }
      />

      <TablePanel label="Endpoints" what="endpoints" loading={endpoints.isPending} error={endpoints.error} count={items.length} empty="No endpoints yet." columns={COLUMNS}>
        {items.map((e) => (
          <tr key={e.id} data-testid="webhook-row" data-webhook-id={e.id} data-enabled={String(e.enabled)} aria-selected={e.id === selected}>
            <th scope="row">
              <span className="mono">{e.url}</span>
              {e.description && <span className="dim"> · {e.description}</span>}
            </th>
            <td className="mono">{e.events.join(', ')}</td>
            <td>
              <span className={`badge badge-compact ${e.enabled ? 'badge-done' : 'badge-failed'}`}>{e.enabled ? 'Enabled' : 'Disabled'}</span>
              {e.disabledReason && <span className="dim"> {e.disabledReason}</span>}
            </td>
            <td>{e.backlog}</td>
            <td className="cell-action">
              <button type="button" className="button button-secondary button-sm" onClick={() => sendTest.mutate(e)} disabled={sendTest.isPending}>
                Send test
              </button>{' '}
              <button type="button" className="button button-secondary button-sm" onClick={() => setSelected(e.id)}>
                Deliveries
              </button>{' '}
              <button type="button" className="button button-secondary button-sm" onClick={() => setDialog({ editing: e })}>
                Edit
              </button>{' '}
              <button type="button" className="button button-secondary button-sm" onClick={() => setEnabled.mutate({ endpoint: e, enabled: !e.enabled })}>
                {e.enabled ? 'Disable' : 'Enable'}
              </button>{' '}
              <button type="button" className="button button-ghost-danger button-sm" onClick={() => setDeleting(e)} aria-label={`Delete ${e.url}`}>
                Delete
              </button>
            </td>
          </tr>
        ))}
      </TablePanel>

      {shown && <DeliveriesPanel endpoint={shown} />}

      <EndpointDialog open={dialog !== null} editing={dialog?.editing ?? null} onClose={() => setDialog(null)} onSaved={refresh} />
      <ConfirmDialog
        open={deleting !== null}
        onClose={() => setDeleting(null)}
        onConfirm={() => deleting && remove.mutate(deleting)}
        title="Remove this endpoint?"
        description={deleting && <>Nothing more is sent to {deleting.url}; its pending deliveries are dropped.</>}
        confirmLabel="Remove endpoint"
        pending={remove.isPending}
      />
    </div>
  );
}
