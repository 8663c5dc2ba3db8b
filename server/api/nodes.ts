import { z } from 'zod';
import { Timestamp } from './common.js';

/** `up`: heard from lately; `stopped`: stopped cleanly; `unreachable`: neither stopped nor heard from for three heartbeats (15 s). */
export const NodeState = z.enum(['up', 'stopped', 'unreachable']).meta({ id: 'NodeState', description: 'up: heard from lately; stopped: stopped cleanly; unreachable: not heard from for three heartbeats (15 s) without stopping' });
export type NodeState = z.infer<typeof NodeState>;

/** One node of the cluster (every server process sharing the database), as the node registry knows it. */
export const ClusterNode = z
  .strictObject({
    id: z.string().meta({ description: 'Its --node-id (host name + pid by default)' }),
    version: z.string().meta({ description: 'The Darkroom version it runs' }),
    startedAt: Timestamp,
    lastSeenAt: Timestamp.meta({ description: 'Its last heartbeat (one every 5 s)' }),
    jobsRunning: z.number().int().min(0).meta({ description: 'Jobs it was running at its last heartbeat' }),
    state: NodeState,
    self: z.boolean().meta({ description: 'True for the node that answered' }),
  })
  .meta({ id: 'ClusterNode' });
export type ClusterNode = z.infer<typeof ClusterNode>;

/** `GET /v1/nodes` */
export const NodeList = z.strictObject({ items: z.array(ClusterNode).meta({ description: 'Most recently started first' }) });
export type NodeList = z.infer<typeof NodeList>;
