import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { WebhookDelivery, WebhookDeliveryPage, WebhookEndpoint } from '../../api/schemas';
import { useSession } from '../../auth/SessionContext';
import { formatDateTime, formatRelative } from '../../ui/format';
import { useToast } from '../../ui/Toasts';

const POLL_MS = 2_000;
const STATUS_BADGE: Record<WebhookDelivery['status'], string> = { pending: 'badge-queued', delivered: 'badge-done', failed: 'badge-failed' };

/** The deliveries log of one endpoint, newest first, refreshed while open: status, answer code, error; retry one. */
export function DeliveriesPanel({ endpoint }: { endpoint: WebhookEndpoint }) {
  const { api } = useSession();
  const queryClient = useQueryClient();
  const toast = useToast();
  const key = ['webhook-deliveries', endpoint.id];
  const deliveries = useQuery({
    queryKey: key,
    queryFn: ({ signal }) => api.get<WebhookDeliveryPage>(`/v1/webhooks/${endpoint.id}/deliveries?limit=50`, signal),
    refetchInterval: POLL_MS,
  });
  const retry = useMutation({
    mutationFn: (delivery: WebhookDelivery) => api.json<WebhookDelivery>('POST', `/v1/webhooks/${endpoint.id}/deliveries/${delivery.id}/retry`),
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: key });
      toast('Sending it again', 'success');
    },
    onError: (err) => toast(`Could not retry: ${err.message}`, 'error'),
  });

  return (
    <section className="panel panel-flush" aria-label={`Deliveries to ${endpoint.url}`}>
      <h2 className="panel-title panel-title-inset">Deliveries to {endpoint.url}</h2>
      {deliveries.isPending ? (
        <p className="panel-empty">Loading…</p>
      ) : deliveries.isError ? (
        <p className="panel-empty" role="alert">
          The deliveries could not be loaded: {deliveries.error.message}
        </p>
      ) : deliveries.data.items.length === 0 ? (
        <p className="panel-empty">Nothing sent yet. "Send test" sends a webhook.test message.</p>
      ) : (
        <div className="table-scroll">
          <table className="table">
            <thead>
              <tr>
                <th scope="col">Event</th>
                <th scope="col">Status</th>
                <th scope="col">Response</th>
                <th scope="col">Attempts</th>
                <th scope="col">Created</th>
                <th scope="col">Next attempt</th>
                <th scope="col">
                  <span className="visually-hidden">Retry</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {deliveries.data.items.map((d) => (
                <tr key={d.id} data-testid="webhook-delivery" data-delivery-id={d.id} data-status={d.status} data-event={d.event}>
                  <th scope="row" className="mono">
                    {d.event}
                  </th>
                  <td>
                    <span className={`badge badge-compact ${STATUS_BADGE[d.status]}`}>{d.status}</span>
                  </td>
                  <td title={d.lastError ?? undefined}>
                    {d.lastStatus ?? <span className="dim">—</span>}
                    {d.lastError && <span className="dim"> {d.lastError}</span>}
                  </td>
                  <td>{d.attempts}</td>
                  <td>
                    <time dateTime={d.createdAt} title={formatDateTime(d.createdAt)}>
                      {formatRelative(d.createdAt)}
                    </time>
                  </td>
                  <td>{d.nextAttemptAt ? <time dateTime={d.nextAttemptAt}>{formatDateTime(d.nextAttemptAt)}</time> : <span className="dim">—</span>}</td>
                  <td className="cell-action">
                    <button type="button" className="button button-secondary button-sm" onClick={() => retry.mutate(d)} disabled={retry.isPending} aria-label={`Retry delivery ${d.id}`}>
                      Retry
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
