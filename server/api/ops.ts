import { z } from 'zod';

/** `GET /healthz` */
export const Health = z.strictObject({ status: z.literal('ok') });
export type Health = z.infer<typeof Health>;

/** `GET /readyz`: 200 when every check passes, else 503 with the same body. */
export const Readiness = z.strictObject({
  status: z.enum(['ready', 'not_ready']),
  node: z.string().meta({ description: 'The id of the node that answered (--node-id): behind a load balancer, which one this is' }),
  checks: z.record(z.string(), z.boolean()).meta({ description: 'Each check (database, workers, disk, …) and whether it passed' }),
});
export type Readiness = z.infer<typeof Readiness>;
