import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { ExifTool } from 'exiftool-vendored';

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
 * it then runs ExifTool itself (`do`, with `$0` set so ExifTool finds its library).
 *
 * The handler must be a "safe" (deferred) one: POSIX::sigaction installs handlers that run the
 * Perl sub from inside the C signal handler, wherever the interpreter happens to be, unless the
 * action says `safe(1)` (POSIX, perlipc "Deferred Signals"). An alarm landing while Perl compiles
 * ExifTool's modules or reads a file then corrupts the interpreter: SIGSEGV, glibc's malloc
 * assertions, "Attempt to free unreferenced scalar", a process gone in the middle of a command.
 * That takes a busy machine, where starting ExifTool takes longer than the first second. A safe
 * handler runs between Perl operations. SA_RESTART keeps the signal from breaking a blocking
 * read off with EINTR (ExifTool ends stay-open mode on a failed read of its commands); while it
 * waits on a stdin that has ended it polls, so the check still runs.
 * `-config ''` keeps a config file in the server user's home from changing what ExifTool does.
 */
export const PARENT_WATCH = [
  'use POSIX ();',
  'my $parent = getppid();',
  'my $watch = POSIX::SigAction->new(sub { POSIX::_exit(0) if getppid() != $parent; alarm 1 }, POSIX::SigSet->new(), POSIX::SA_RESTART());',
  '$watch->safe(1);',
  'POSIX::sigaction(POSIX::SIGALRM(), $watch) or die "sigaction: $!";',
  'alarm 1;',
  '$0 = shift @ARGV;',
  'do $0;',
  'die $@ if $@;',
].join(' ');

/**
 * The ExifTool script exiftool-vendored ships (its dependency exiftool-vendored.pl), found from
 * exiftool-vendored itself: the version it was released with, wherever the package manager put it.
 */
function exiftoolScript(): string {
  const vendored = createRequire(createRequire(import.meta.url).resolve('exiftool-vendored'));
  return path.join(path.dirname(vendored.resolve('exiftool-vendored.pl/package.json')), 'bin', 'exiftool');
}

export interface ExifToolLimits {
  /** How long one ExifTool command may take, its process starting included, before it fails. */
  taskTimeoutMs: number;
  /** How long an idle ExifTool process is kept before it is ended (0: until end()). */
  idleMs: number;
}

/**
 * ExifTool did not carry out a command: its process could not start, died, timed out or answered
 * something that is not an answer. It says nothing about the file, so whoever asked treats it as
 * a passing failure (a retry), never as a verdict on the image.
 */
export class ExifToolFailed extends Error {
  constructor(what: string, cause?: unknown) {
    super(`ExifTool failed ${what}${cause === undefined ? '' : `: ${String((cause as Error)?.message ?? cause).split('\n')[0]}`}`, { cause });
    this.name = 'ExifToolFailed';
  }
}

/**
 * What this project asks of ExifTool, in its own terms. Every use of exiftool-vendored is in this
 * module, through its documented calls only (readRaw, extractBinaryTag, write, version, end), so
 * that a new major version is a change here; nothing depends on how it prints binary values or
 * words its errors, but for the one summary ExifTool itself prints (see `extractTag`).
 */
export interface ExifToolSession {
  /**
   * The tags `args` ask for, as ExifTool's JSON names and gives them. A file ExifTool cannot make
   * sense of still gets an answer (without the tags); a throw is always ExifToolFailed.
   */
  readTags(file: string, args: string[]): Promise<Record<string, unknown>>;
  /**
   * Writes the bytes of one binary tag (group-qualified) to `dest`: true when written, false when
   * ExifTool read the file and had nothing to write out (the tag is absent, or its data cannot be
   * read from the file). Anything else throws ExifToolFailed.
   */
  extractTag(tag: string, file: string, dest: string): Promise<boolean>;
  /** Sets the EXIF orientation of an image file in place; throws ExifToolFailed if ExifTool did not. */
  writeOrientation(file: string, orientation: number): Promise<void>;
  /** ExifTool's version: that ExifTool runs and answers at all. */
  version(): Promise<string>;
  /** Ends the Perl process; the session cannot be used afterwards. */
  end(): Promise<void>;
}

/**
 * ExifTool's summary of an extraction (`-W`): "0 output files created" when it found nothing to
 * write. exiftool-vendored passes it on as the error of extractBinaryTag; were that ever worded
 * otherwise, a missing preview would read as a failed ExifTool (retried, then processing_failed),
 * never as an image without a preview, and the no_preview tests would say so.
 */
const NOTHING_EXTRACTED = /\b0 output files? created\b/i;

/** Beyond its command timeout, how long a command may wait for its Perl process to start. */
const START_ALLOWANCE_MS = 15_000;

/**
 * An ExifTool with one Perl process at most, bounded in memory and time: a command that takes
 * longer than `taskTimeoutMs` kills its process and fails (it is never retried: a malformed file
 * that hung it once would hang it again). End it with `end()`.
 */
export function createExifTool(limits: ExifToolLimits): ExifToolSession {
  const script = exiftoolScript();
  const args = ['-e', PARENT_WATCH, script, '-config', '', '-stay_open', 'True', '-@', '-'];
  const taskTimeoutMs = Math.max(100, limits.taskTimeoutMs);
  // exiftool-vendored is loaded with the first command, not with this module: it brings luxon and
  // time-zone tables, about 4 MB of heap in every thread that imports this, which a server that
  // never sees a camera RAW (most) would hold for nothing.
  let started: Promise<ExifTool> | undefined;
  const exiftool = () =>
    (started ??= import('exiftool-vendored').then(({ ExifTool }) => {
      const instance = new ExifTool({
        maxProcs: 1,
        maxTasksPerProcess: 200,
        taskTimeoutMillis: taskTimeoutMs,
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
      instance.on('startError', (err: unknown) => {
        for (const fail of waiting) fail(new ExifToolFailed('to start', err));
      });
      return instance;
    }));

  /**
   * One command, bounded in time as a whole: the cluster's task timeout starts only once a Perl
   * process runs it, and a process that cannot start (Perl missing, the machine out of processes)
   * is started again and again while the command waits for ever. A failed start fails the
   * commands waiting at once.
   */
  const waiting = new Set<(err: ExifToolFailed) => void>();
  async function command<T>(what: string, run: () => Promise<T>): Promise<T> {
    let fail!: (err: ExifToolFailed) => void;
    const failed = new Promise<never>((_, reject) => (fail = reject));
    waiting.add(fail);
    const timer = setTimeout(() => fail(new ExifToolFailed(`${what}: no answer within ${taskTimeoutMs + START_ALLOWANCE_MS} ms`)), taskTimeoutMs + START_ALLOWANCE_MS);
    try {
      return await Promise.race([run(), failed]);
    } catch (err) {
      throw err instanceof ExifToolFailed ? err : new ExifToolFailed(what, err);
    } finally {
      clearTimeout(timer);
      waiting.delete(fail);
    }
  }

  return {
    readTags(file, readArgs) {
      const input = exiftoolPath(file);
      return command(`reading ${path.basename(input)}`, async () => {
        const tags = (await (await exiftool()).readRaw(input, { readArgs })) as unknown;
        if (!tags || typeof tags !== 'object') throw new Error('no tags in its answer');
        return tags as Record<string, unknown>;
      });
    },
    extractTag(tag, file, dest) {
      const input = exiftoolPath(file);
      const output = exiftoolOutputPath(dest);
      return command(`extracting ${tag}`, async () => {
        try {
          await (await exiftool()).extractBinaryTag(tag, input, output, { forceWrite: true, ignoreMinorErrors: true });
          return true;
        } catch (err) {
          if (NOTHING_EXTRACTED.test(String((err as Error)?.message ?? err))) return false;
          throw err;
        }
      });
    },
    writeOrientation(file, orientation) {
      const input = exiftoolPath(file);
      return command(`writing the orientation of ${path.basename(input)}`, async () => {
        await (await exiftool()).write(input, { 'Orientation#': orientation } as Record<string, number>, { writeArgs: ['-overwrite_original'] });
      });
    },
    version: () => command('to answer', async () => (await exiftool()).version()),
    // Nothing to end where no command ever ran.
    end: async () => {
      if (started) await (await started).end();
    },
  };
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
export async function withExifTool<T>(stop: { timeLeft(): number; check(): void }, use: (exiftool: ExifToolSession) => Promise<T>): Promise<T> {
  stop.check();
  const exiftool = createExifTool({ taskTimeoutMs: Math.min(EXIFTOOL_COMMAND_TIMEOUT_MS, stop.timeLeft()), idleMs: 0 });
  try {
    return await use(exiftool);
  } finally {
    await exiftool.end();
  }
}
