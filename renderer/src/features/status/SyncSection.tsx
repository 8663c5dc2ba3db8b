import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { ReactNode } from 'react';
import type { SyncFailure, SyncInFlight, SyncStatus } from '../../api/schemas';
import { useSession } from '../../auth/SessionContext';
import { formatBytes, formatCount, formatDateTime, formatRelative } from '../../ui/format';
import { Icon } from '../../ui/Icon';
import { ProgressBar } from '../../ui/ProgressBar';
import { Badge, type DisplayStatus } from '../../ui/StatusBadge';
import { useToast } from '../../ui/Toasts';
import { lifecycleText, operationText } from './syncText';

/** Uploads to the bucket move fast; every two seconds shows them moving without loading the server. */
const POLL_MS = 2000;

type EnabledSync = Extract<SyncStatus, { enabled: true }>;

/** Replication to the S3 bucket (GET /v1/sync), and a retry of what failed (POST /v1/sync/retry). */
export function SyncSection() {
  const { api } = useSession();
  const queryClient = useQueryClient();
  const toast = useToast();
  const sync = useQuery({
    queryKey: ['sync'],
    queryFn: ({ signal }) => api.get<SyncStatus>('/v1/sync', signal),
    refetchInterval: POLL_MS,
  });
  const retry = useMutation({
    mutationFn: () => api.json<{ requeued: number }>('POST', '/v1/sync/retry'),
    onSuccess: ({ requeued }) => {
      void queryClient.invalidateQueries({ queryKey: ['sync'] });
      toast(`${requeued} failed operation${requeued === 1 ? '' : 's'} back in the queue.`, 'success');
    },
    onError: (err) => toast(`Could not retry: ${err.message}`, 'error'),
  });
  const status = sync.data;
  const failed = status?.enabled ? status.failed.jobs : 0;

  return (
    <section className="status-section" aria-labelledby="sync-heading">
      <div className="section-head">
        <div>
          <h2 id="sync-heading" className="section-title">
            <Icon name="cloud" size={19} />
            S3 sync
            {status && <ReachabilityBadge status={status} />}
          </h2>
          <p className="section-hint">Originals and processed files are copied to an S3 bucket and checked there; deletes and expiries follow.</p>
        </div>
        {failed > 0 && (
          <button type="button" className="button button-secondary" onClick={() => retry.mutate()} disabled={retry.isPending}>
            <Icon name="retry" size={17} />
            {retry.isPending ? 'Retrying…' : 'Retry failed'}
          </button>
        )}
      </div>

      {sync.isPending ? (
        <div className="panel">
          <p className="panel-empty">Loading…</p>
        </div>
      ) : sync.isError ? (
        <div className="notice notice-error" role="alert">
          <Icon name="alert" size={18} />
          <span>The sync status could not be loaded: {sync.error.message}</span>
        </div>
      ) : !status!.enabled ? (
        <div className="panel">
          <div className="empty-state empty-state-inset">
            <span className="empty-icon">
              <Icon name="cloud" size={26} />
            </span>
            <h3>S3 sync is not enabled</h3>
            <p>
              Start the server with <code>--s3-bucket</code> (and <code>--s3-endpoint</code> for MinIO, R2 and other S3-compatible storage) to keep a copy of
              every image in a bucket.
            </p>
          </div>
        </div>
      ) : (
        <EnabledSyncStatus status={status as EnabledSync} />
      )}
    </section>
  );
}

function ReachabilityBadge({ status }: { status: SyncStatus }) {
  const [tone, label]: [DisplayStatus, string] = !status.enabled ? ['queued', 'Off'] : status.reachable ? ['done', 'Connected'] : ['failed', 'Unreachable'];
  return (
    <Badge tone={tone} data-testid="sync-state">
      {label}
    </Badge>
  );
}

function EnabledSyncStatus({ status }: { status: EnabledSync }) {
  const { backlog, inFlight, failed, synced, localOriginals, outage } = status;
  const inFlightBytes = inFlight.reduce((sum, f) => sum + (f.bytes ?? 0), 0);
  const inFlightDone = inFlight.reduce((sum, f) => sum + f.bytesDone, 0);
  return (
    <>
      {outage && (
        <div className="notice notice-error" role="alert">
          <Icon name="offline" size={18} />
          <span>
            <strong>The bucket cannot be reached</strong>
            {outage.since && (
              <>
                {' '}
                since <time dateTime={outage.since}>{formatDateTime(outage.since)}</time>
              </>
            )}
            .{outage.lastError && <> Last error: {outage.lastError}.</>}
            {outage.nextProbeAt && <> Asking again {formatRelative(outage.nextProbeAt)}.</>} Uploads and processing go on; what waits is synced when the
            bucket is back.
          </span>
        </div>
      )}

      <div className="panel sync-target">
        <dl className="sync-facts">
          <Fact label="Bucket">
            <span className="mono">{status.url}</span>
          </Fact>
          <Fact label="Endpoint">{status.endpoint ? <span className="mono">{status.endpoint}</span> : 'Amazon S3'}</Fact>
          <Fact label="Region">{status.region}</Fact>
          <Fact label="Lifecycle rule">{lifecycleText(status.lifecycle)}</Fact>
        </dl>
      </div>

      <div className="stat-cards">
        <Metric
          label="Waiting"
          value={formatCount(backlog.jobs)}
          sub={
            backlog.jobs > 0
              ? `${formatBytes(backlog.bytes)} to upload${backlog.oldestQueuedAt ? ` · oldest ${formatRelative(backlog.oldestQueuedAt)}` : ''}`
              : backlog.unreadEvents > 0
                ? `${formatCount(backlog.unreadEvents)} changes being read`
                : 'Nothing waiting'
          }
        />
        <Metric label="In flight" value={formatCount(inFlight.length)} sub={inFlight.length ? `${formatBytes(inFlightDone)} of ${formatBytes(inFlightBytes)}` : 'Idle'} />
        <Metric label="Failed" value={formatCount(failed.jobs)} sub={failed.jobs ? 'Retry once the cause is fixed' : 'None'} tone={failed.jobs ? 'danger' : undefined} />
        <Metric label="Synced" value={formatBytes(synced.bytes)} sub={`${formatCount(synced.objects)} objects · ${formatCount(synced.deletedObjects)} deleted`} />
        <Metric
          label="Local originals"
          value={formatBytes(localOriginals.bytes)}
          sub={`${localOriginals.maxBytes === null ? 'No limit' : `Limit ${formatBytes(localOriginals.maxBytes)}`} · ${formatCount(localOriginals.evicted)} only in the bucket`}
        />
      </div>

      {inFlight.length > 0 && (
        <div className="panel">
          <h3 className="panel-title">
            <Icon name="upload" size={17} />
            In flight
          </h3>
          <ul className="sync-ops" aria-label="Operations in flight">
            {inFlight.map((op) => (
              <InFlightRow key={`${op.op}:${op.key}`} op={op} />
            ))}
          </ul>
        </div>
      )}

      {failed.recent.length > 0 && (
        <div className="panel panel-flush">
          <h3 className="panel-title panel-title-inset">
            <Icon name="alert" size={17} />
            Failed{failed.jobs > failed.recent.length ? ` (the ${failed.recent.length} most recent of ${formatCount(failed.jobs)})` : ''}
          </h3>
          <FailedTable failures={failed.recent} />
        </div>
      )}
    </>
  );
}

function Fact({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div className="sync-fact">
      <dt>{label}</dt>
      <dd>{children}</dd>
    </div>
  );
}

function Metric({ label, value, sub, tone }: { label: string; value: string; sub: string; tone?: 'danger' }) {
  return (
    <div className={`stat-card${tone ? ` stat-card-${tone}` : ''}`} role="group" aria-label={label}>
      <span className="stat-label">{label}</span>
      <span className="stat-value">{value}</span>
      <span className="stat-sub">{sub}</span>
    </div>
  );
}

function InFlightRow({ op }: { op: SyncInFlight }) {
  const measurable = op.bytes !== null && op.bytes > 0;
  const percent = measurable ? (op.bytesDone / op.bytes!) * 100 : 0;
  const details = [
    measurable ? `${formatBytes(op.bytesDone)} of ${formatBytes(op.bytes)}` : null,
    op.resumedBytes > 0 ? `${formatBytes(op.resumedBytes)} kept from before a restart` : null,
    op.attempt > 1 ? `attempt ${op.attempt}` : null,
  ].filter(Boolean);
  return (
    <li className="sync-op">
      <div className="sync-op-line">
        <span className="sync-op-name">{operationText(op.op)}</span>
        <span className="sync-op-key mono" title={op.key}>
          {op.key}
        </span>
        {measurable && <span className="sync-op-percent">{Math.floor(percent)}%</span>}
      </div>
      <ProgressBar value={percent} label={`${operationText(op.op)} ${op.key}`} size="sm" busy={measurable ? undefined : 'Working'} />
      {details.length > 0 && <p className="sync-op-status">{details.join(' · ')}</p>}
    </li>
  );
}

function FailedTable({ failures }: { failures: SyncFailure[] }) {
  return (
    <div className="table-scroll">
      <table className="table table-failed">
        <thead>
          <tr>
            <th scope="col">Operation</th>
            <th scope="col">Object</th>
            <th scope="col" className="num">
              Attempts
            </th>
            <th scope="col">Last error</th>
            <th scope="col">Failed</th>
          </tr>
        </thead>
        <tbody>
          {failures.map((f) => (
            <tr key={f.id}>
              <th scope="row">{operationText(f.op)}</th>
              <td>
                <span className="mono sync-key" title={f.key}>
                  {f.key}
                </span>
              </td>
              <td className="num">{formatCount(f.attempts)}</td>
              <td className="sync-error">{f.lastError ?? '—'}</td>
              <td>{f.failedAt ? <time dateTime={f.failedAt} title={formatDateTime(f.failedAt)}>{formatRelative(f.failedAt)}</time> : '—'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
