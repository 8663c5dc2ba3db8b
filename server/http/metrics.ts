import client from 'prom-client';

/**
 * Prometheus metrics, in a registry per server instance (tests run several servers in one
 * process). Gauges read their value from the database when scraped, so they are never stale.
 */
export function createMetrics(
  sources: {
    queuedJobs: () => Promise<number>;
    runningJobs: () => Promise<number>;
    /** Pending webhook deliveries per endpoint id. */
    webhookBacklog?: () => Promise<Array<{ endpoint_id: string; n: number }>>;
  },
  labels: { node?: string } = {},
) {
  const registry = new client.Registry();
  // Every series carries the node it came from (--node-id): a cluster's nodes are scraped
  // one by one and told apart by it, whatever Prometheus's own target labels say.
  if (labels.node) registry.setDefaultLabels({ node: labels.node });
  client.collectDefaultMetrics({ register: registry, prefix: 'darkroom_process_' });

  const uploads = new client.Counter({
    name: 'darkroom_uploads_total',
    help: 'Uploads by outcome (accepted, or the error code that refused them)',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  new client.Gauge({
    name: 'darkroom_jobs_queued',
    help: 'Jobs waiting to run',
    registers: [registry],
    async collect() {
      this.set(await sources.queuedJobs());
    },
  });
  new client.Gauge({
    name: 'darkroom_jobs_running',
    help: 'Jobs running now',
    registers: [registry],
    async collect() {
      this.set(await sources.runningJobs());
    },
  });
  const processing = new client.Histogram({
    name: 'darkroom_processing_seconds',
    help: 'Time a job took, by kind and outcome',
    labelNames: ['kind', 'outcome'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [registry],
  });
  const httpDuration = new client.Histogram({
    name: 'darkroom_http_request_seconds',
    help: 'HTTP request duration by route and status class',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5, 30],
    registers: [registry],
  });
  const renders = new client.Counter({
    name: 'darkroom_renders_total',
    help: 'Render answers: hit (from the stored render), miss (rendered by this node), shared (waited for an identical request\'s render)',
    labelNames: ['cache'] as const,
    registers: [registry],
  });
  const purged = new client.Counter({
    name: 'darkroom_purged_files_total',
    help: 'Processed files removed by retention',
    registers: [registry],
  });

  const webhookDeliveries = new client.Counter({
    name: 'darkroom_webhook_deliveries_total',
    help: 'Webhook delivery attempts by outcome: delivered, retry (to be tried again), failed (out of attempts), gone (410: endpoint disabled)',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  const webhookLatency = new client.Histogram({
    name: 'darkroom_webhook_delivery_seconds',
    help: 'Time a webhook delivery attempt took, until its answer or its failure, by outcome',
    labelNames: ['outcome'] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  new client.Gauge({
    name: 'darkroom_webhook_backlog',
    help: 'Webhook deliveries pending, per endpoint',
    labelNames: ['endpoint'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const b of (await sources.webhookBacklog?.()) ?? []) this.set({ endpoint: b.endpoint_id }, b.n);
    },
  });

  return { registry, uploads, processing, httpDuration, purged, renders, webhookDeliveries, webhookLatency };
}

export type Metrics = ReturnType<typeof createMetrics>;
