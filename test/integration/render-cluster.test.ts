/**
 * Renders in a cluster (CONTRACT §9, §10): two node processes on one PostgreSQL database and one
 * bucket. Identical requests arriving at both nodes together are rendered once, through the
 * renders row one of them claims; the stored render is a hit on every node.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster, type ClusterNode } from '../helpers/cluster.js';
import { fixture } from '../helpers/images.js';
import type { ApiClient } from '../helpers/server.js';

let cluster: Cluster;
let a: ClusterNode;
let b: ClusterNode;

beforeAll(async () => {
  cluster = await startCluster({ nodes: ['node-a', 'node-b'], prefix: 'renders' });
  [a, b] = cluster.nodes as [ClusterNode, ClusterNode];
}, 120_000);
afterAll(() => cluster?.close());

async function render(client: ApiClient, id: string, query: string) {
  const res = await client.request('GET', `/v1/image/${id}/render${query}`);
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

/** The node's render answers by cache label, from its /metrics. */
async function counts(node: ClusterNode): Promise<Record<'hit' | 'miss' | 'shared', number>> {
  const text = await (await fetch(`${node.url}/metrics`)).text();
  const count = (label: string) => Number(new RegExp(`^darkroom_renders_total\\{[^}]*cache="${label}"[^}]*\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
  return { hit: count('hit'), miss: count('miss'), shared: count('shared') };
}

describe('renders across nodes', () => {
  it('renders 20 identical requests spread over two nodes once; the stored render is a hit on both', { timeout: 90_000 }, async () => {
    const made = await a.admin.json('POST', '/v1/keys', { customer: 'acme', role: 'user' });
    expect(made.status).toBe(201);
    const onA = a.as(made.body.key);
    const onB = b.as(made.body.key);
    const up = await onA.upload([{ name: 'bliss.jpg', data: fixture('ipx-bliss.jpg'), type: 'image/jpeg' }]);
    expect(up.status).toBe(202);
    const id = up.body.id as string;

    const query = '?w=1500&h=900&fit=cover&format=webp';
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => render(i % 2 ? onB : onA, id, query)));
    expect(answers.map((r) => r.status)).toEqual(Array(20).fill(200));
    expect(new Set(answers.map((r) => r.body.toString('base64'))).size).toBe(1);
    expect(new Set(answers.map((r) => r.headers.get('etag'))).size).toBe(1);
    const [ca, cb] = await Promise.all([counts(a), counts(b)]);
    expect(ca.miss + cb.miss).toBe(1);
    expect(ca.shared + cb.shared + ca.hit + cb.hit).toBe(19);

    // Stored once, in the bucket, and served from there by either node.
    expect((await cluster.keys(`processed/${id}/`)).filter((k) => k.split('/')[2]!.startsWith('r-'))).toHaveLength(1);
    for (const client of [onA, onB]) {
      const again = await render(client, id, query);
      expect(again.headers.get('darkroom-cache')).toBe('hit');
      expect(again.body.equals(answers[0]!.body)).toBe(true);
    }
  });
});
