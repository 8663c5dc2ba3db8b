import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { ExifTool } from 'exiftool-vendored';

const MiB = 1024 * 1024;

/**
 * Address space one ExifTool process may use (RLIMIT_AS, where the system has `ulimit -v`).
 * ExifTool reads a RAW by seeking to the parts it needs; the largest thing it holds is one
 * embedded preview (a few MB, tens for medium format), so a malformed file that announces
 * gigabytes ends in Perl's "Out of memory" rather than in the server's memory.
 */
export const EXIFTOOL_MEMORY_BYTES = 512 * MiB;

/**
 * ExifTool runs as a Perl process that reads commands from its stdin (`-stay_open True -@ -`).
 * When stdin reaches its end, ExifTool does not exit: it polls it every 10 ms, for ever. A Node
 * process that ends without ending it (killed, crashed) would leave it behind. This preamble
 * checks once a second whether its parent is still the one that started it and exits if not;
 * it then runs ExifTool itself (`do`, with `$0` set so ExifTool finds its library). SA_RESTART
 * keeps the tick from breaking ExifTool's reads off with EINTR (Perl does not restart them).
 * `-config ''` keeps a config file in the server user's home from changing what ExifTool does.
 */
const PARENT_WATCH = [
  'use POSIX ();',
  'my $parent = getppid();',
  'POSIX::sigaction(POSIX::SIGALRM(), POSIX::SigAction->new(sub { POSIX::_exit(0) if getppid() != $parent; alarm 1 }, POSIX::SigSet->new(), POSIX::SA_RESTART()));',
  'alarm 1;',
  '$0 = shift @ARGV;',
  'do $0;',
  'die $@ if $@;',
].join(' ');

/** The vendored ExifTool script (exiftool-vendored.pl). */
function exiftoolScript(): string {
  return path.join(path.dirname(createRequire(import.meta.url).resolve('exiftool-vendored.pl/package.json')), 'bin', 'exiftool');
}

export interface ExifToolLimits {
  /** How long one ExifTool command may take before its process is killed. */
  taskTimeoutMs: number;
  /** How long an idle ExifTool process is kept before it is ended (0: until end()). */
  idleMs: number;
}

/**
 * An ExifTool with one Perl process at most, bounded in memory and time: a command that takes
 * longer than `taskTimeoutMs` kills its process and fails (it is never retried: a malformed file
 * that hung it once would hang it again). End it with `end()`.
 */
export function createExifTool(limits: ExifToolLimits): ExifTool {
  const script = exiftoolScript();
  const args = ['-e', PARENT_WATCH, script, '-config', '', '-stay_open', 'True', '-@', '-'];
  return new ExifTool({
    maxProcs: 1,
    maxTasksPerProcess: 200,
    taskTimeoutMillis: Math.max(100, limits.taskTimeoutMs),
    taskRetries: 0,
    maxIdleMsPerProcess: limits.idleMs,
    // Geolocation and time-zone inference read no files, but nothing here needs them.
    geolocation: false,
    backfillTimezones: false,
    checkPerl: false,
    useMWG: false,
    processFactory: () =>
      process.platform === 'win32'
        ? spawn('perl', args, { stdio: 'pipe', env: exiftoolEnv() })
        : // `ulimit -v` in kilobytes; exec so the Perl process is the one the cluster watches.
          spawn('/bin/sh', ['-c', 'ulimit -v "$0" 2>/dev/null; exec "$@"', String(EXIFTOOL_MEMORY_BYTES / 1024), 'perl', ...args], {
            stdio: 'pipe',
            env: exiftoolEnv(),
          }),
  });
}

/** Only what Perl needs: no proxies or the server's secrets in a process that reads untrusted files. */
function exiftoolEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { LANG: 'C' };
  for (const name of ['PATH', 'SYSTEMROOT', 'TMPDIR', 'TEMP', 'TMP']) if (process.env[name]) env[name] = process.env[name];
  return env;
}

/**
 * A path ExifTool may be given. Commands reach ExifTool one argument a line, so a path could
 * carry more arguments (a newline), pass for an option (a leading `-`) or, as an output name, be
 * read as a format (`%f`); only absolute paths of the data directory are ever given, and
 * anything else is refused before it gets there.
 */
export function exiftoolPath(file: string): string {
  // eslint-disable-next-line no-control-regex
  if (!path.isAbsolute(file) || /[\u0000-\u001f\u007f]/.test(file)) throw new Error(`not a path ExifTool may read: ${JSON.stringify(file)}`);
  return path.normalize(file);
}

/** An output path for ExifTool's `-W`: `%` starts a format code there, `%%` is a plain `%`. */
export const exiftoolOutputPath = (file: string) => exiftoolPath(file).replace(/%/g, '%%');

/** The longest one ExifTool command of a task may take: reading tags or a preview takes milliseconds. */
export const EXIFTOOL_COMMAND_TIMEOUT_MS = 30_000;

/**
 * Runs `use` with an ExifTool of its own, ended (its Perl process gone) before this returns.
 * Tasks in the worker threads each start one: at most one Perl process per busy thread, none
 * while idle, and none outliving its task, whatever becomes of the thread afterwards (the pool
 * ends idle threads without notice). A command may take at most what is left of the job's time.
 */
export async function withExifTool<T>(stop: { timeLeft(): number; check(): void }, use: (exiftool: ExifTool) => Promise<T>): Promise<T> {
  stop.check();
  const exiftool = createExifTool({ taskTimeoutMs: Math.min(EXIFTOOL_COMMAND_TIMEOUT_MS, stop.timeLeft()), idleMs: 0 });
  try {
    return await use(exiftool);
  } finally {
    await exiftool.end();
  }
}
