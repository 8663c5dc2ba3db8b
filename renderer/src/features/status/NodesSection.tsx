import { useQuery } from '@tanstack/react-query';
import type { ClusterNode } from '../../api/schemas';
import { useSession } from '../../auth/SessionContext';
import { formatCount, formatDateTime, formatRelative } from '../../ui/format';
import { Icon } from '../../ui/Icon';
import { Badge } from '../../ui/StatusBadge';

/** Nodes write a heartbeat every 5 s: a few seconds is soon enough to see one stop answering. */
const POLL_MS = 5000;

/** How a node's state reads on the status page. */
const NODE_STATE: Record<ClusterNode['state'], { label: string; tone: 'done' | 'queued' | 'failed' }> = {
  up: { label: 'Up', tone: 'done' },
  stopped: { label: 'Stopped', tone: 'queued' },
  unreachable: { label: 'Not answering', tone: 'failed' },
};

/**
 * The nodes sharing this server's database (GET /v1/nodes): one with the embedded database, any
 * number in a cluster. A node that stopped answering (no heartbeat for 15 s, no clean stop) is
 * marked as such. Laid out like the watch folders' table (and stacked the same way on a phone).
 */
export function NodesSection() {
  const { api } = useSession();
  const nodes = useQuery({
    queryKey: ['nodes'],
    queryFn: ({ signal }) => api.get<{ items: ClusterNode[] }>('/v1/nodes', signal),
    refetchInterval: POLL_MS,
  });
  const items = nodes.data?.items ?? [];
  const unreachable = items.filter((n) => n.state === 'unreachable').length;

  return (
    <section className="status-section" aria-labelledby="nodes-heading">
      <div className="section-head">
        <div>
          <h2 id="nodes-heading" className="section-title">
            <Icon name="layers" size={19} />
            Nodes
          </h2>
          <p className="section-hint">The servers sharing this database. Each reports every few seconds; one that has not for 15 seconds, without stopping, is marked as not answering and its jobs are taken over by the others.</p>
        </div>
      </div>

      {unreachable > 0 && (
        <div className="notice notice-error" role="alert" data-testid="nodes-unreachable">
          <Icon name="alert" size={18} />
          <span>{unreachable === 1 ? 'A node has stopped answering.' : `${unreachable} nodes have stopped answering.`}</span>
        </div>
      )}

      <div className="panel panel-flush">
        {nodes.isPending ? (
          <p className="panel-empty">Loading…</p>
        ) : nodes.isError ? (
          <p className="panel-empty" role="alert">
            The nodes could not be loaded: {nodes.error.message}
          </p>
        ) : (
          <div className="table-scroll">
            <table className="table table-watch table-nodes" aria-labelledby="nodes-heading">
              <thead>
                <tr>
                  <th scope="col">Node</th>
                  <th scope="col">State</th>
                  <th scope="col">Version</th>
                  <th scope="col" className="num">
                    Jobs running
                  </th>
                  <th scope="col">Started</th>
                  <th scope="col">Last seen</th>
                </tr>
              </thead>
              <tbody>
                {items.map((node) => (
                  <NodeRow key={node.id} node={node} />
                ))}
              </tbody>
            </table>
          </div>
        )}
      </div>
    </section>
  );
}

function NodeRow({ node }: { node: ClusterNode }) {
  const state = NODE_STATE[node.state];
  return (
    <tr data-node-id={node.id} data-state={node.state}>
      <th scope="row" className="watch-folder">
        <span className="watch-path mono" title={node.id}>
          {node.id}
        </span>
        {node.self && <span className="watch-source">This node (answering now)</span>}
      </th>
      {/* data-label: the column's name, shown next to the value where rows stack (phones). */}
      <td data-label="State">
        <Badge tone={state.tone}>{state.label}</Badge>
      </td>
      <td data-label="Version">{node.version}</td>
      <td className="num" data-label="Jobs running">
        {node.state === 'up' ? formatCount(node.jobsRunning) : <span className="dim">—</span>}
      </td>
      <td data-label="Started">
        <time dateTime={node.startedAt} title={formatDateTime(node.startedAt)}>
          {formatRelative(node.startedAt)}
        </time>
      </td>
      <td data-label="Last seen">
        <time dateTime={node.lastSeenAt} title={formatDateTime(node.lastSeenAt)}>
          {formatRelative(node.lastSeenAt)}
        </time>
      </td>
    </tr>
  );
}
