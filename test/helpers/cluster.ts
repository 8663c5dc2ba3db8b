/**
 * A whole cluster for one test file (CONTRACT §9): one private PostgreSQL database, one s3rver
 * bucket and N server child processes sharing both (`--database-url`, `--storage s3`), each
 * with its own data dir and `--node-id`, on port 0. Child processes, not in-process servers:
 * a node must be killable with SIGKILL mid-job, and each has its own event loop, pools and
 * caches like a real deployment.
 */
import fs from 'node:fs';
import pg from 'pg';
import { spawnServer, type ChildServer } from './child.js';
import { privatePostgres, type PrivatePostgres } from './postgres.js';
import { startS3rver, type S3rver } from './s3rver.js';
import { ADMIN_KEY, ApiClient, tempDir } from './server.js';

export interface ClusterNode {
  id: string;
  dataDir: string;
  /** The running process (replaced by `restart`). */
  child: ChildServer;
  url: string;
  admin: ApiClient;
  /** A client with `key` on this node (a key made on any node works on all: one database). */
  as(key: string): ApiClient;
  /** For failure messages: whether it runs, and the end of what it logged. */
  state(): string;
  /** SIGKILL, and waits for the process to be gone. */
  kill(): Promise<void>;
  /** SIGTERM (a clean stop), and waits for it. */
  stop(): Promise<void>;
  /** Stops it cleanly and starts it again under the same id and data dir, with `extra` options (the last ones given when unset). */
  restart(extra?: string[]): Promise<void>;
}

export interface Cluster {
  pg: PrivatePostgres;
  databaseUrl: string;
  /** A pool on the cluster's database, for the tests' own looks at the records. */
  db: pg.Pool;
  s3: S3rver;
  prefix: string;
  nodes: ClusterNode[];
  node(id: string): ClusterNode;
  /** Every key in the bucket under the prefix (without it), sorted. */
  keys(under?: string): Promise<string[]>;
  close(): Promise<void>;
}

export interface ClusterOptions {
  nodes: string[];
  /** More command-line options, the same for every node. */
  args?: string[];
  prefix?: string;
}

/** Starts PostgreSQL, s3rver and the nodes; `close` stops them (PostgreSQL goes after the file). */
export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const prefix = options.prefix ?? 'cluster';
  const postgres = await privatePostgres();
  const databaseUrl = postgres.url(await postgres.createDatabase());
  const s3 = await startS3rver();
  const db = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  // The tests stop the database on purpose: an idle connection's error is expected then.
  db.on('error', () => undefined);
  const args = [
    'serve',
    '--database-url',
    databaseUrl,
    '--storage',
    's3',
    ...s3.flags(prefix),
    '--port',
    '0',
    '--workers',
    '1',
    '--admin-key',
    ADMIN_KEY,
    '--min-free-bytes',
    '1MB',
    ...(options.args ?? []),
  ];

  const makeNode = async (id: string): Promise<ClusterNode> => {
    const dataDir = tempDir(`darkroom-cluster-${id}-`);
    let extraArgs: string[] = [];
    const launch = () => spawnServer([...args, ...extraArgs, '--data-dir', dataDir, '--node-id', id]);
    const node: ClusterNode = {
      id,
      dataDir,
      child: await launch(),
      get url() {
        return node.child.url;
      },
      get admin() {
        return new ApiClient(node.child.url, ADMIN_KEY);
      },
      as: (key) => new ApiClient(node.child.url, key),
      state() {
        const { proc } = node.child;
        const exited = proc.exitCode ?? proc.signalCode;
        return `${id} ${exited === null ? 'running' : `exited (${exited})`}; its log ends:\n${(node.child.stdout() + node.child.stderr()).slice(-3000)}`;
      },
      async kill() {
        if (node.child.proc.exitCode === null && node.child.proc.signalCode === null) node.child.proc.kill('SIGKILL');
        await node.child.exited;
      },
      async stop() {
        if (node.child.proc.exitCode === null && node.child.proc.signalCode === null) node.child.proc.kill('SIGTERM');
        await node.child.exited;
      },
      async restart(extra) {
        if (extra) extraArgs = extra;
        await node.stop();
        node.child = await launch();
      },
    };
    return node;
  };
  // One after the other: the first migrates nothing (the template is migrated), but the nodes'
  // starts are cheaper on two cores taken in turn.
  const nodes: ClusterNode[] = [];
  try {
    for (const id of options.nodes) nodes.push(await makeNode(id));
  } catch (err) {
    for (const n of nodes) await n.kill();
    await s3.close();
    await db.end();
    throw err;
  }

  let closed = false;
  const cluster: Cluster = {
    pg: postgres,
    databaseUrl,
    db,
    s3,
    prefix,
    nodes,
    node: (id) => nodes.find((n) => n.id === id)!,
    async keys(under = '') {
      return [...(await s3.objects(`${prefix}/${under}`)).keys()].map((k) => k.slice(prefix.length + 1)).sort();
    },
    async close() {
      if (closed) return;
      closed = true;
      await Promise.all(nodes.map((n) => n.kill()));
      await db.end().catch(() => undefined);
      await s3.close();
      for (const n of nodes) fs.rmSync(n.dataDir, { recursive: true, force: true });
    },
  };
  return cluster;
}
