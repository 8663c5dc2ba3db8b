/**
 * A PostgreSQL server of its own in a temporary folder, for a benchmark or a test file: initdb,
 * pg_ctl start on a free port (fsync off: it need not survive a power cut), pg_ctl stop, the
 * folder removed. The machine's PostgreSQL programs are used where Debian puts them.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** Debian installs PostgreSQL's programs off PATH, under /usr/lib/postgresql/<version>/bin. */
export function postgresBin(): string {
  const onPath = spawnSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' }).stdout.trim();
  // The programs' own folder (a link on PATH may name initdb alone), where createdb is too.
  if (onPath) return path.dirname(fs.realpathSync(onPath));
  const root = '/usr/lib/postgresql';
  const versions = fs.existsSync(root)
    ? fs
        .readdirSync(root)
        .filter((v) => fs.existsSync(path.join(root, v, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (!versions.length) {
    throw new Error(
      'this needs PostgreSQL (initdb, pg_ctl): none on PATH nor in /usr/lib/postgresql/*/bin. ' +
        'Install it (Debian: apt-get install postgresql; .ci/run does) and run it again.',
    );
  }
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

export interface PostgresServer {
  port: number;
  /** The folder of its socket (for PostgreSQL's own programs, `-h`). */
  dir: string;
  /** Its data folder (postmaster.pid names the server's process). */
  data: string;
  url(database: string): string;
  /** Runs one of PostgreSQL's programs, as the postgres account when this process is root. */
  run(program: string, args: string[]): string;
  start(): void;
  /** `fast` ends connections and stops; `immediate` does not wait for anything. */
  stop(mode?: 'fast' | 'immediate'): void;
  /** Stops it if it runs and removes its folder; once. */
  destroy(): void;
}

/** Initialises and starts a server; it is destroyed at the latest when this process exits. */
export async function startPostgresServer(options: { prefix: string; maxConnections: number }): Promise<PostgresServer> {
  const bin = postgresBin();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), options.prefix));
  const data = path.join(dir, 'data');
  // PostgreSQL refuses to run as root: as root its programs run as the postgres account, which
  // then owns the folder.
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
  const settings = [
    `-p ${port}`,
    `-k ${dir}`,
    '-c listen_addresses=127.0.0.1',
    '-c fsync=off',
    '-c synchronous_commit=off',
    '-c full_page_writes=off',
    `-c max_connections=${options.maxConnections}`,
  ].join(' ');
  const start = () => void run('pg_ctl', ['-D', data, '-l', path.join(dir, 'log'), '-o', settings, '-w', 'start']);
  const stop = (mode: 'fast' | 'immediate' = 'fast') => void run('pg_ctl', ['-D', data, '-m', mode, '-w', 'stop']);
  let destroyed = false;
  const destroy = () => {
    if (destroyed) return;
    destroyed = true;
    try {
      stop('immediate');
    } catch {
      // Already stopped.
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', destroy);
  start();
  return { port, dir, data, url: (database) => `postgres://postgres@127.0.0.1:${port}/${database}`, run, start, stop, destroy };
}
