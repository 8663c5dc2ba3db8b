import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { ApiError } from '../../api/client';
import type { StatsReport } from '../../api/schemas';
import { useSession } from '../../auth/SessionContext';
import { downloadWithKey } from '../../ui/download';
import { formatBytes, formatCount, formatMs } from '../../ui/format';
import { Icon } from '../../ui/Icon';
import { useToast } from '../../ui/Toasts';
import { StatsChart, type Measure } from './StatsChart';
import { lastDays, validRange, type DateRange } from './statsRange';

const PRESETS = [
  { days: 7, label: '7 days' },
  { days: 30, label: '30 days' },
  { days: 90, label: '90 days' },
];

/** Business statistics (CONTRACT §3 "Statistics"): totals, per day by format, per customer. */
export default function StatsView() {
  const { api } = useSession();
  const toast = useToast();
  const [range, setRange] = useState<DateRange>(() => lastDays(30));
  const [draft, setDraft] = useState<DateRange>(range);
  const [measure, setMeasure] = useState<Measure>('uploaded');
  const query = (groupBy: string) => `from=${range.from}&to=${range.to}&groupBy=${groupBy}`;

  const daily = useQuery({
    queryKey: ['stats', range, 'day,format'],
    queryFn: ({ signal }) => api.get<StatsReport>(`/v1/stats?${query('day,format')}`, signal),
    placeholderData: keepPreviousData,
  });
  const customers = useQuery({
    queryKey: ['stats', range, 'customer'],
    queryFn: ({ signal }) => api.get<StatsReport>(`/v1/stats?${query('customer')}`, signal),
    placeholderData: keepPreviousData,
  });

  const applyDraft = (next: DateRange) => {
    setDraft(next);
    if (validRange(next)) setRange(next);
  };

  const exportCsv = () =>
    void downloadWithKey(api, `/v1/stats.csv?${query('customer,format,day')}`, `darkroom-stats-${range.from}-to-${range.to}.csv`).catch((e: Error) =>
      toast(`Export failed: ${e.message}`, 'error'),
    );

  const error = daily.error ?? customers.error;
  const totals = daily.data?.totals;
  const activePreset = PRESETS.find((p) => {
    const r = lastDays(p.days);
    return r.from === range.from && r.to === range.to;
  });

  return (
    <div className="page">
      <div className="page-header">
        <div>
          <h1>Statistics</h1>
          <p className="page-subtitle">Every customer, by UTC day. Formats are those of the uploaded images.</p>
        </div>
        <div className="page-actions">
          <button type="button" className="button button-secondary" onClick={exportCsv} disabled={Boolean(error)}>
            <Icon name="download" size={17} />
            Export CSV
          </button>
        </div>
      </div>

      <div className="toolbar toolbar-wrap">
        <div className="segmented" role="group" aria-label="Period">
          {PRESETS.map((p) => (
            <button key={p.days} type="button" className="segmented-item" aria-pressed={activePreset?.days === p.days} onClick={() => applyDraft(lastDays(p.days))}>
              {p.label}
            </button>
          ))}
        </div>
        <div className="date-range">
          <label>
            <span>From</span>
            <input className="input input-sm" type="date" value={draft.from} max={draft.to} onChange={(e) => applyDraft({ ...draft, from: e.target.value })} />
          </label>
          <label>
            <span>To</span>
            <input className="input input-sm" type="date" value={draft.to} min={draft.from} onChange={(e) => applyDraft({ ...draft, to: e.target.value })} />
          </label>
        </div>
      </div>

      {error ? (
        <div className="notice notice-error" role="alert">
          <Icon name="alert" size={18} />
          <span>
            {error instanceof ApiError && error.status === 404
              ? 'This server does not offer statistics yet (GET /v1/stats is not available).'
              : `The statistics could not be loaded: ${error.message}`}
          </span>
        </div>
      ) : (
        <>
          <div className="stat-cards">
            <StatCard label="Uploaded" value={totals?.uploaded} testId="stats-total-uploaded" />
            <StatCard label="Processed" value={totals?.processed} testId="stats-total-processed" />
            <StatCard label="Failed" value={totals?.failed} tone={totals?.failed ? 'danger' : undefined} />
            <StatCard label="Rejected" value={totals?.rejected} hint="Refused uploads (415, 413, 422, 429, 507)" />
            <StatCard label="Data in" value={totals?.bytesIn} bytes />
            <StatCard label="Data out" value={totals?.bytesOut} bytes />
          </div>

          <section className="panel panel-chart" aria-labelledby="chart-heading">
            <div className="panel-head">
              <h2 id="chart-heading" className="panel-title">
                <Icon name="chart" size={17} />
                Per day, by format
              </h2>
              <div className="segmented segmented-sm" role="group" aria-label="Show">
                <button type="button" className="segmented-item" aria-pressed={measure === 'uploaded'} onClick={() => setMeasure('uploaded')}>
                  Uploaded
                </button>
                <button type="button" className="segmented-item" aria-pressed={measure === 'processed'} onClick={() => setMeasure('processed')}>
                  Processed
                </button>
              </div>
            </div>
            {daily.data ? <StatsChart groups={daily.data.groups} range={range} measure={measure} /> : <div className="chart chart-loading" aria-busy="true" />}
          </section>

          <section className="panel" aria-labelledby="customers-heading">
            <h2 id="customers-heading" className="panel-title">
              <Icon name="grid" size={17} />
              By customer
            </h2>
            <CustomerTable stats={customers.data} />
          </section>
        </>
      )}
    </div>
  );
}

function StatCard({ label, value, bytes, testId, tone, hint }: { label: string; value: number | undefined; bytes?: boolean; testId?: string; tone?: 'danger'; hint?: string }) {
  return (
    <div className={`stat-card${tone ? ` stat-card-${tone}` : ''}`} title={hint}>
      <span className="stat-label">{label}</span>
      {value === undefined ? (
        <span className="stat-value stat-loading" aria-busy="true">
          —
        </span>
      ) : bytes ? (
        <span className="stat-value">{formatBytes(value)}</span>
      ) : (
        // The hooks' text is the plain number, so it can be compared with the API.
        <span className="stat-value" data-testid={testId}>
          {value}
        </span>
      )}
    </div>
  );
}

function CustomerTable({ stats }: { stats: StatsReport | undefined }) {
  if (!stats) return <p className="panel-empty">Loading…</p>;
  const rows = [...stats.groups].sort((a, b) => b.uploaded - a.uploaded || String(a.customer).localeCompare(String(b.customer)));
  if (rows.length === 0) return <p className="panel-empty">No uploads in this period.</p>;
  return (
    <div className="table-scroll">
      <table className="table">
        <thead>
          <tr>
            <th scope="col">Customer</th>
            <th scope="col" className="num">
              Uploaded
            </th>
            <th scope="col" className="num">
              Processed
            </th>
            <th scope="col" className="num">
              Failed
            </th>
            <th scope="col" className="num">
              Data in
            </th>
            <th scope="col" className="num">
              Data out
            </th>
            <th scope="col" className="num">
              p50
            </th>
            <th scope="col" className="num">
              p95
            </th>
          </tr>
        </thead>
        <tbody>
          {rows.map((g) => (
            <tr key={g.customer ?? '—'}>
              <th scope="row">{g.customer ?? '—'}</th>
              <td className="num">{formatCount(g.uploaded)}</td>
              <td className="num">{formatCount(g.processed)}</td>
              <td className="num">{formatCount(g.failed)}</td>
              <td className="num">{formatBytes(g.bytesIn)}</td>
              <td className="num">{formatBytes(g.bytesOut)}</td>
              <td className="num">{formatMs(g.p50Ms)}</td>
              <td className="num">{formatMs(g.p95Ms)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
