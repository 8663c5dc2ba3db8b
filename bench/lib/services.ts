/**
 * The services a cluster runs on, started privately for one benchmark and stopped after it: a
 * PostgreSQL server (initdb + pg_ctl from the machine's PostgreSQL programs, in a temporary
 * folder, on a free port, fsync off as in the tests) and an s3rver with one bucket.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from './processes.js';

/** s3rver's built-in account: the SDK's credential chain reads these, in the bench and in the servers it starts. */
export const S3RVER_CREDENTIALS = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' };

/** Debian installs PostgreSQL's programs off PATH, under /usr/lib/postgresql/<version>/bin. */
function postgresBin(): string {
  const onPath = spawnSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' }).stdout.trim();
  // The programs' own folder (a link on PATH may name initdb alone), where createdb is too.
  if (onPath) return path.dirname(fs.realpathSync(onPath));
  const root = '/usr/lib/postgresql';
  const versions = fs.existsSync(root)
    ? fs.readdirSync(root).filter((v) => fs.existsSync(path.join(root, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a))
    : [];
  if (!versions.length) throw new Error('the cluster benchmark needs PostgreSQL (initdb, pg_ctl): install it (Debian: apt-get install postgresql)');
  return path.join(root, versions[0]!, 'bin');
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export interface PrivatePostgres {
  /** A new empty database's URL (each node migrates it at start, once under the advisory lock). */
  createDatabase(): Promise<string>;
  /** CPU seconds used so far by the server: the postmaster and its children, live and ended. */
  cpuSeconds(): number;
  stop(): void;
}

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const bin = postgresBin();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-bench-pg-'));
  const data = path.join(dir, 'data');
  // PostgreSQL refuses to run as root: as root its programs run as the postgres account.
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
    fs.chownSync(dir, id('-u'), id('-g'));
  }
  const run = (program: string, args: string[]) => {
    const [command, all] = asRoot ? ['runuser', ['-u', 'postgres', '--', path.join(bin, program), ...args]] : [path.join(bin, program), args];
    const result = spawnSync(command, all, { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`${program} failed: ${result.stderr || result.stdout}`);
    return result.stdout;
  };
  run('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync']);
  const port = await freePort();
  const options = [`-p ${port}`, `-k ${dir}`, '-c listen_addresses=127.0.0.1', '-c fsync=off', '-c synchronous_commit=off', '-c full_page_writes=off', '-c max_connections=200'].join(' ');
  run('pg_ctl', ['-D', data, '-l', path.join(dir, 'log'), '-o', options, '-w', 'start']);
  let made = 0;
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    try {
      run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  };
  process.once('exit', stop);
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
    stop,
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
