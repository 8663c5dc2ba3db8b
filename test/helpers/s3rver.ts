import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createS3Bucket, type S3Bucket } from '../../server/storage/s3/bucket.js';
import { ROOT } from './child.js';
import { eventually } from './eventually.js';
import { tempDir, type ApiClient } from './server.js';

/** s3rver's built-in account: any other access key is refused, as real S3 would. */
export const S3RVER_CREDENTIALS = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' };

/**
 * The SDK's standard credential chain reads these, in this test process and in the servers it
 * spawns; nothing in Darkroom itself does.
 */
export function useS3rverCredentials(): void {
  Object.assign(process.env, S3RVER_CREDENTIALS);
}

export interface S3rver {
  endpoint: string;
  bucket: string;
  port: number;
  dir: string;
  /** A client on the same bucket, without prefix, for the tests' own checks. */
  client: S3Bucket;
  /** The Darkroom options that sync to this bucket. */
  options(prefix?: string): { s3Bucket: string; s3Endpoint: string; s3ForcePathStyle: string; s3Prefix: string };
  /** The same as command-line flags. */
  flags(prefix?: string): string[];
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Freezes the process (SIGSTOP): connections stay open and requests hang, like a stuck server. */
  pause(): void;
  resume(): void;
  /** Starts it again on the same port and directory (objects and unfinished uploads kept). */
  restart(): Promise<void>;
  /** Every key in the bucket under `prefix`, with its size. */
  objects(prefix?: string): Promise<Map<string, number>>;
  /** sha256 (hex) of an object's bytes, read back over S3. */
  sha256Of(key: string): Promise<string>;
  close(): Promise<void>;
}

// s3rver with atomic object writes, as every store Darkroom supports has (scripts/s3rver.cjs says why).
const S3RVER_BIN = path.join(ROOT, 'scripts/s3rver.cjs');

function launch(dir: string, port: number, bucket: string): Promise<{ proc: ChildProcess; port: number }> {
  const proc = spawn(process.execPath, [S3RVER_BIN, '-d', dir, '-a', '127.0.0.1', '-p', String(port), '--silent', '--configure-bucket', bucket], {
    cwd: ROOT,
    // s3rver's continuation tokens use a cipher OpenSSL 3 keeps in its legacy provider.
    env: { ...process.env, NODE_OPTIONS: '--openssl-legacy-provider' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`s3rver did not start:\n${out}\n${err}`)), 20_000);
    const check = () => {
      const m = /S3rver listening on [^:]+:(\d+)/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      proc.stdout!.off('data', check);
      resolve({ proc, port: Number(m[1]) });
    };
    proc.stdout!.on('data', check);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`s3rver exited (${code}) before it was ready:\n${out}\n${err}`));
    });
  });
}

/** A real s3rver process with one bucket, in a temp directory. */
export async function startS3rver(bucket = 'darkroom-test'): Promise<S3rver> {
  useS3rverCredentials();
  const dir = tempDir('darkroom-s3rver-');
  let { proc, port } = await launch(dir, 0, bucket);
  const endpoint = `http://127.0.0.1:${port}`;
  const client = createS3Bucket({ bucket, prefix: '', endpoint, region: 'us-east-1', forcePathStyle: true });

  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill(signal);
    await exited;
  };

  return {
    endpoint,
    bucket,
    port,
    dir,
    client,
    options: (prefix = '') => ({ s3Bucket: bucket, s3Endpoint: endpoint, s3ForcePathStyle: 'true', s3Prefix: prefix }),
    flags: (prefix = '') => ['--s3-bucket', bucket, '--s3-endpoint', endpoint, '--s3-force-path-style', 'true', '--s3-prefix', prefix],
    stop,
    pause: () => void proc.kill('SIGSTOP'),
    resume: () => void proc.kill('SIGCONT'),
    async restart() {
      await stop();
      ({ proc } = await launch(dir, port, bucket));
    },
    async objects(prefix = '') {
      const keys = await client.list(prefix);
      const out = new Map<string, number>();
      for (const key of keys) out.set(key, (await client.head(key)).bytes);
      return out;
    },
    async sha256Of(key) {
      const { body } = await client.get(key);
      const hash = crypto.createHash('sha256');
      for await (const chunk of body) hash.update(chunk as Buffer);
      return hash.digest('hex');
    },
    async close() {
      proc.kill('SIGCONT');
      await stop('SIGKILL');
      client.destroy();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** What GET /v1/sync answers, as far as the tests read it. */
type SyncStatus = Record<string, any>;

/**
 * Polls GET /v1/sync until nothing waits for the bucket and nothing is on its way (and `also`
 * holds, e.g. the bucket is reachable again or so many bytes are synced); returns that status.
 */
export function syncIdle(client: ApiClient, also: (status: SyncStatus) => boolean = () => true, timeoutMs = 30_000, what = 'sync idle') {
  return eventually(async () => {
    const status = (await client.json('GET', '/v1/sync')).body as SyncStatus;
    return status.backlog.jobs === 0 && status.backlog.unreadEvents === 0 && status.inFlight.length === 0 && also(status) ? status : undefined;
  }, timeoutMs, what);
}
