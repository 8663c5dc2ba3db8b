/**
 * The services a cluster runs on, started privately for one benchmark and stopped after it: a
 * PostgreSQL server (initdb + pg_ctl from the machine's PostgreSQL programs, in a temporary
 * folder, on a free port, fsync off as in the tests) and an s3rver with one bucket.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startPostgresServer } from './postgres-server.js';
import { ROOT } from './processes.js';

/** s3rver's built-in account: the SDK's credential chain reads these, in the bench and in the servers it starts. */
export const S3RVER_CREDENTIALS = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' };

export interface PrivatePostgres {
  /** A new empty database's URL (each node migrates it at start, once under the advisory lock). */
  createDatabase(): Promise<string>;
  /** CPU seconds used so far by the server: the postmaster and its children, live and ended. */
  cpuSeconds(): number;
  stop(): void;
}

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const server = await startPostgresServer({ prefix: 'darkroom-bench-pg-', maxConnections: 200 });
  const { data, dir, port, run } = server;
  let made = 0;
  return {
    cpuSeconds() {
      const postmaster = Number(fs.readFileSync(path.join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
      let total = 0;
      for (const entry of fs.readdirSync('/proc')) {
        if (!/^\d+$/.test(entry)) continue;
        try {
          const fields = fs.readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1]!.split(' ');
          const pid = Number(entry);
          // utime, stime; the postmaster's cutime, cstime count its children that ended.
          if (pid === postmaster) total += Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
          else if (Number(fields[1]) === postmaster) total += Number(fields[11]) + Number(fields[12]);
        } catch {
          // the process ended meanwhile
        }
      }
      return total / 100; // clock ticks (USER_HZ = 100)
    },
    async createDatabase() {
      const name = `bench_${++made}`;
      // PostgreSQL's own createdb: only the PostgreSQL adapter imports pg (.dependency-cruiser.mjs).
      run('createdb', ['-h', dir, '-p', String(port), '-U', 'postgres', name]);
      return `postgres://postgres@127.0.0.1:${port}/${name}`;
    },
    stop: server.destroy,
  };
}

export interface PrivateS3rver {
  endpoint: string;
  bucket: string;
  pid: number;
  /** The Darkroom flags that make this bucket the primary store. */
  flags: string[];
  stop(): Promise<void>;
}

export async function startS3rver(bucket = 'bench'): Promise<PrivateS3rver> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-bench-s3rver-'));
  const proc: ChildProcess = spawn(
    process.execPath,
    [path.join(ROOT, 'scripts/s3rver.cjs'), '-d', dir, '-a', '127.0.0.1', '-p', '0', '--silent', '--configure-bucket', bucket],
    // s3rver's continuation tokens use a cipher OpenSSL 3 keeps in its legacy provider.
    { cwd: ROOT, env: { ...process.env, NODE_OPTIONS: '--openssl-legacy-provider' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  proc.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    proc.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /S3rver listening on [^:]+:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    proc.once('exit', (code) => reject(new Error(`s3rver exited (${code}):\n${out}\n${err}`)));
  });
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    bucket,
    pid: proc.pid!,
    flags: ['--storage', 's3', '--s3-bucket', bucket, '--s3-endpoint', endpoint, '--s3-force-path-style', 'true'],
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGKILL');
        await exited;
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
