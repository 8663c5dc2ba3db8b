import fs from 'node:fs';
import path from 'node:path';
import { Command, Option } from 'commander';
import { ConfigError, OPTION_SPECS, envName, parseConfig, readEnv, type RawConfig } from './config.js';
import { openChosenDatabase } from './db/open-database.js';
import type { DatabasePort } from './db/port.js';
import { openDatabase } from './db/sqlite/connection.js';
import { sqliteRowSource } from './db/sqlite/row-export.js';
import { copyInstallation, ForeignInstallationError, reportLines, SchemaMismatchError, type CopyDeps } from './migrate/copy-installation.js';
import { openDatabaseReadOnly, SCHEMA_VERSION, SchemaVersionError, schemaVersionOf, schemaVersionProblem } from './db/sqlite/schema-version.js';
import { sqliteDatabaseOver } from './db/sqlite/sqlite-database.js';
import { AppError } from './errors.js';
import { createStatsService, reportToCsv } from './services/stats/stats.service.js';
import { NewKeyRequest, ROLES } from './api/index.js';
import { createKeysService } from './services/keys.service.js';
import { usePrivateFileModes } from './storage/private-files.js';
import { missingEngineEnv, missingEngineFlags, restartWithEngineEnv } from './node-flags.js';
import { verifyDataDir } from './recovery/verify.js';
import { acquireDataDirLock, lockHolder } from './storage/data-dir-lock.js';
import { createFsBlobStore } from './storage/fs/fs-blob-store.js';
import type { S3Bucket } from './storage/s3/bucket.js';
import { systemClock } from './util/clock.js';

type OptionSpec = (typeof OPTION_SPECS)[number];

/** Where a command that works on records finds them: the data dir's SQLite file, or PostgreSQL. */
interface DatabaseFlags {
  dataDir?: string;
  databaseUrl?: string;
}

function fail(message: string, exitCode = 1): never {
  process.stderr.write(`darkroom: ${message}\n`);
  process.exit(exitCode);
}

function addServerOptions(command: Command, only: (spec: OptionSpec) => boolean = () => true): Command {
  for (const spec of OPTION_SPECS.filter(only)) {
    // A switch may stand alone (`--s3-force-path-style` means true) or take true/false.
    const flag = spec.arg === 'bool' ? `--${spec.flag} [bool]` : `--${spec.flag} <${spec.arg}>`;
    const option = new Option(flag, `${spec.help} [env ${envName(spec.flag)}]${spec.default ? ` (default: ${spec.default})` : ''}`);
    if (spec.arg === 'bool') option.preset('true');
    if ('repeatable' in spec && spec.repeatable) option.argParser((value: string, previous: string[] = []) => [...previous, value]);
    command.addOption(option);
  }
  return command;
}

function configFrom(flags: Record<string, unknown>) {
  const raw: RawConfig = {};
  for (const spec of OPTION_SPECS) {
    const value = flags[spec.key];
    if (value !== undefined) raw[spec.key] = value as string | string[];
  }
  try {
    return parseConfig(readEnv(process.env), raw);
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    throw err;
  }
}

/** A note for operators who start the server without the engine's Node flags. */
function engineFlagsNotice(): string[] {
  const missing = missingEngineFlags();
  const notes: string[] = [];
  // `node bin/darkroom.js` (or the installed command) cannot set V8's heap flags for itself.
  if (missing.length) notes.push(`darkroom: note: Node was started without ${missing.join(' ')}; uploads take more CPU (npm run serve passes them; docs/performance.md)`);
  const env = missingEngineEnv();
  if (env.length) notes.push(`darkroom: note: started without ${env.join(' ')} in the environment; processing large images takes more memory (docs/security.md)`);
  return notes;
}

export async function serve(flags: Record<string, unknown>) {
  // First of all: the allocator's settings are read when a process starts (server/node-flags.ts).
  restartWithEngineEnv();
  const config = configFrom(flags);
  // Signals are handled from the first moment: one that comes while the server is still
  // starting (or right after its ready line) stops it once it is up, as cleanly as later.
  // The server is loaded here, not at the top: it (sharp, express, the pool) takes a while to
  // load, which the other commands (keys, stats, verify) have no use for.
  const starting = import('./main.js').then(({ startServer }) => startServer(config, { notices: engineFlagsNotice() }));
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    // The contract: exit 0 within 10 s, whatever is still running.
    setTimeout(() => process.exit(0), 9_500).unref();
    starting
      .then((server) => server.close())
      .then(
        () => process.exit(0),
        (err: unknown) => {
          process.stderr.write(`darkroom: error during shutdown after ${signal}: ${(err as Error).message}\n`);
          process.exit(0);
        },
      );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  try {
    await starting;
  } catch (err) {
    fail((err as Error).message);
  }
}

/**
 * `darkroom verify [--repair]`. Exit 0: nothing wrong (or, with --repair, everything repaired);
 * 1: something is missing, corrupt or orphaned (and was not repaired); 2: it could not run.
 *
 * Without --repair it only reads, and may run while a server uses the data dir: the database is
 * opened read-only and never migrated (a server of the previous version may still be using it),
 * and the server's work in flight is told apart by looking at every suspect again a moment later.
 * --repair takes the data-dir lock for its whole run: it refuses while a server runs, and no
 * server starts while it moves files; holding the lock, it brings an older database up to date
 * like a start of the server would.
 */
export async function verify(flags: Record<string, unknown> & { repair?: boolean }) {
  const config = configFrom(flags);
  const dataDir = config.dataDir;
  // verify walks and re-hashes the files of a data dir; with the bucket as the store there are
  // none here, and re-reading a whole bucket is the provider's job (its checksums), not a CLI's.
  if (config.storage === 's3') fail('verify checks the files of a data dir; with --storage s3 the originals and processed files are in the bucket, which it does not check', 2);
  const dbFile = path.join(dataDir, 'darkroom.db');
  if (!config.databaseUrl && !fs.existsSync(dbFile)) fail(`no Darkroom data in ${dataDir} (no darkroom.db)`, 2);
  const repair = Boolean(flags.repair);
  let lock: ReturnType<typeof acquireDataDirLock> | undefined;
  let live = false;
  if (repair) {
    try {
      lock = acquireDataDirLock(dataDir);
    } catch (err) {
      fail(`${(err as Error).message}: stop it before --repair (verify without --repair can run while it serves)`, 2);
    }
  } else {
    const holder = lockHolder(dataDir);
    live = holder !== undefined;
    if (holder) {
      const who = holder.pid ? `a server (pid ${holder.pid})` : 'a server';
      process.stderr.write(`darkroom: ${who} is using ${dataDir}: what looks wrong is looked at again a moment later, and temporary files are its own\n`);
    }
  }
  const refuse = (message: string): never => {
    lock?.release({ uncleanUntilReconciled: lock.previousRunCrashed });
    fail(message, 2);
  };
  let bucket: S3Bucket | undefined;
  if (repair && config.s3Bucket) {
    const s3 = await import('./sync/s3-sync.js');
    try {
      bucket = await s3.connectS3Bucket(config);
    } catch (err) {
      refuse((err as Error).message);
    }
  }
  let db: Pick<DatabasePort, 'repos' | 'unitOfWork' | 'checkIntegrity' | 'close'>;
  try {
    if (config.databaseUrl) {
      // PostgreSQL: the same rules as for the file below. Without --repair nothing is migrated
      // (servers of the previous version may use the database); with it, the schema is brought
      // up to date like a start of the server would.
      db = await openChosenDatabase(config, { migrate: repair });
    } else if (repair) {
      // A database of a later version is never rewritten into this one's shape.
      const found = schemaVersionOf(dbFile);
      if (found > SCHEMA_VERSION) throw new SchemaVersionError(schemaVersionProblem(found)!);
      db = sqliteDatabaseOver(openDatabase(dbFile));
    } else {
      db = sqliteDatabaseOver(openDatabaseReadOnly(dbFile));
    }
  } catch (err) {
    bucket?.destroy();
    const where = config.databaseUrl ? 'the database (--database-url)' : dbFile;
    return refuse(err instanceof SchemaVersionError ? err.message : `cannot open ${where}: ${(err as Error).message}`);
  }
  // A repair after a crash does what the next start would have reconciled; unless something is
  // left, the lock then goes like after a clean stop.
  let cleanAfterRepair = false;
  try {
    const report = await verifyDataDir({
      database: db,
      // Not init(): that empties tmp/, whose leftovers are for verify to report.
      store: createFsBlobStore(dataDir),
      clock: systemClock,
      repair,
      live,
      bucket,
      print: (line) => process.stdout.write(`${line}\n`),
      progress: (line) => process.stderr.write(`${line}\n`),
    });
    const left = repair ? report.notRepaired : report.missing + report.corrupt + report.orphans + report.unexpected;
    process.exitCode = left ? 1 : 0;
    cleanAfterRepair = left === 0;
  } catch (err) {
    process.stderr.write(`darkroom: verify failed: ${(err as Error).message}\n`);
    process.exitCode = 2;
  } finally {
    await db.close();
    bucket?.destroy();
    lock?.release({ uncleanUntilReconciled: lock.previousRunCrashed && !cleanAfterRepair });
  }
}

/**
 * `darkroom migrate`: copies a single-node installation (the data dir's SQLite database and,
 * with --storage s3, its files) into cluster storage (migrate/copy-installation.ts says how).
 * Exit 0: everything copied; 1: files failed verification (listed; no row copied); 2: it could
 * not run (a server holds the data dir, the target belongs to another installation, …).
 */
export async function migrateInstallation(flags: Record<string, unknown>) {
  const config = configFrom(flags);
  const dataDir = config.dataDir;
  if (!config.databaseUrl) fail('migrate copies into PostgreSQL: give --database-url', 2);
  const dbFile = path.join(dataDir, 'darkroom.db');
  if (!fs.existsSync(dbFile)) fail(`no Darkroom data in ${dataDir} (no darkroom.db)`, 2);
  let lock: ReturnType<typeof acquireDataDirLock>;
  try {
    // Held for the whole copy: no server starts on the data dir and changes it meanwhile.
    lock = acquireDataDirLock(dataDir);
  } catch (err) {
    return fail(`${(err as Error).message}: stop it before migrating`, 2);
  }
  const closing: Array<() => unknown> = [];
  const stop = (message: string, code: number): never => {
    for (const close of closing.reverse()) void close();
    lock.release({ uncleanUntilReconciled: lock.previousRunCrashed });
    fail(message, code);
  };
  if (lock.previousRunCrashed) {
    process.stderr.write('darkroom: note: the server did not stop cleanly last time; every file is verified on the way, and one missing or damaged is reported\n');
  }
  let source;
  try {
    // Holding the lock, an older database is brought up to date as a start of the server would.
    const found = schemaVersionOf(dbFile);
    if (found > SCHEMA_VERSION) throw new SchemaVersionError(schemaVersionProblem(found)!);
    source = sqliteRowSource(openDatabase(dbFile));
    closing.push(() => source!.close());
  } catch (err) {
    return stop(err instanceof SchemaVersionError ? err.message : `cannot open ${dbFile}: ${(err as Error).message}`, 2);
  }
  let files: CopyDeps['files'];
  try {
    if (config.storage === 's3') {
      const [{ connectS3Bucket }, { createS3PrimaryStore }] = await Promise.all([import('./sync/s3-sync.js'), import('./storage/s3/s3-primary-store.js')]);
      const bucket = await connectS3Bucket(config);
      closing.push(() => bucket.destroy());
      files = { from: createFsBlobStore(dataDir), to: createS3PrimaryStore(bucket, { stagingDir: path.join(dataDir, 'tmp') }) };
    }
  } catch (err) {
    return stop((err as Error).message, 2);
  }
  let sink;
  try {
    const { openPostgresRowSink } = await import('./db/postgres/row-import.js');
    sink = await openPostgresRowSink(config.databaseUrl, (message) => process.stderr.write(`darkroom: note: ${message}\n`));
    closing.push(() => sink!.close());
  } catch (err) {
    return stop(`cannot open the database (--database-url): ${(err as Error).message}`, 2);
  }
  try {
    const report = await copyInstallation({ source, sink, files, progress: (line) => process.stderr.write(`${line}\n`) });
    for (const line of reportLines(report)) process.stdout.write(`${line}\n`);
    if (!files) process.stdout.write(`files: not copied; they stay in ${dataDir}. A cluster needs them in its bucket: run migrate again with --storage s3 and the --s3-* options\n`);
    process.exitCode = report.files?.failed.length ? 1 : 0;
  } catch (err) {
    if (err instanceof ForeignInstallationError || err instanceof SchemaMismatchError) return stop(err.message, 2);
    return stop(`migrate stopped: ${(err as Error).message} (run it again: what is copied is kept)`, 2);
  }
  await sink.close();
  for (const close of closing.slice(0, -1).reverse()) await close();
  lock.release({ uncleanUntilReconciled: lock.previousRunCrashed });
}

export function buildProgram(): Command {
  const program = new Command('darkroom')
    .description('Darkroom: self-hosted image processing engine')
    .showHelpAfterError();

  addServerOptions(program.command('serve', { isDefault: true }).description('run the server (headless)')).action(serve);

  const keys = program.command('keys').description('manage API keys directly in the data dir');
  const dataDirOption = () => new Option('--data-dir <dir>', `data dir [env ${envName('data-dir')}]`);
  const databaseUrlOption = () =>
    new Option('--database-url <url>', `PostgreSQL instead of the data dir's SQLite database [env ${envName('database-url')}]`);
  /** The database of the data dir, or of --database-url: what a command that works on records opens. */
  const openDatabaseOf = (flags: DatabaseFlags) => openChosenDatabase(configFrom({ dataDir: flags.dataDir, databaseUrl: flags.databaseUrl }));
  const keysService = async (flags: DatabaseFlags) => {
    const db = await openDatabaseOf(flags);
    return { db, keys: createKeysService(db.repos.keys, systemClock) };
  };

  keys
    .command('create')
    .description('create a key and print it once')
    .requiredOption('--customer <name>', 'customer the key belongs to')
    .addOption(new Option('--role <role>', 'what the key may do').choices(ROLES).makeOptionMandatory())
    .option('--name <name>', 'a label to recognise the key by')
    .addOption(dataDirOption())
    .addOption(databaseUrlOption())
    .action(async (flags: { customer: string; role: string; name?: string } & DatabaseFlags) => {
      const input = NewKeyRequest.safeParse({ customer: flags.customer, role: flags.role, name: flags.name });
      if (!input.success) fail(input.error.issues[0]!.message);
      const { db, keys: service } = await keysService(flags);
      const created = await service.create(input.data).finally(() => db.close());
      process.stdout.write(`${created.key}\n`);
      process.stderr.write(`created ${created.role} key ${created.id} for customer "${created.customer}"; it is not shown again\n`);
    });

  keys
    .command('list')
    .description('list active keys (never their secret)')
    .addOption(dataDirOption())
    .addOption(databaseUrlOption())
    .action(async (flags: DatabaseFlags) => {
      const { db, keys: service } = await keysService(flags);
      const list = await service.list().finally(() => db.close());
      for (const key of list) {
        process.stdout.write(`${key.id}\t${key.role}\t${key.customer}\t${key.prefix}…\t${key.name ?? ''}\n`);
      }
    });

  keys
    .command('revoke <id>')
    .description('revoke a key')
    .addOption(dataDirOption())
    .addOption(databaseUrlOption())
    .action(async (id: string, flags: DatabaseFlags) => {
      const { db, keys: service } = await keysService(flags);
      try {
        await service.revoke(id);
      } catch (err) {
        await db.close();
        fail((err as Error).message);
      }
      await db.close();
    });

  addServerOptions(
    program
      .command('verify')
      .description('re-hash every original and processed file against its record; list what is missing, corrupt or orphaned (exit 1 if anything)')
      .option('--repair', 'remove orphans, restore missing or corrupt originals from the S3 bucket (the --s3-* options), process damaged variants again'),
    (spec) => spec.key === 'dataDir' || spec.key === 'storage' || spec.key.startsWith('s3') || spec.key.startsWith('database'),
  ).action(verify);

  addServerOptions(
    program
      .command('migrate')
      .description('copy this single-node installation (--data-dir) into cluster storage: its database into --database-url, with --storage s3 its files into the bucket; resumable'),
    (spec) => spec.key === 'dataDir' || spec.key === 'storage' || spec.key.startsWith('s3') || spec.key === 'databaseUrl',
  ).action(migrateInstallation);

  program
    .command('stats')
    .description('print business statistics from the data dir (for cron jobs on the server)')
    .option('--from <YYYY-MM-DD>', 'first UTC day (default: 29 days before --to)')
    .option('--to <YYYY-MM-DD>', 'last UTC day, inclusive (default: today)')
    .option('--group-by <keys>', 'any of customer,format,day, comma-separated (default: totals only)')
    .option('--csv', 'RFC 4180 CSV instead of JSON')
    .addOption(dataDirOption())
    .addOption(databaseUrlOption())
    .action(async (flags: { from?: string; to?: string; groupBy?: string; csv?: boolean } & DatabaseFlags) => {
      const db = await openDatabaseOf(flags);
      try {
        const report = await createStatsService(db.repos.stats, systemClock).report({ from: flags.from, to: flags.to, groupBy: flags.groupBy });
        process.stdout.write(flags.csv ? reportToCsv(report) : `${JSON.stringify(report, null, 2)}\n`);
      } catch (err) {
        await db.close();
        if (err instanceof AppError) fail(err.message);
        throw err;
      }
      await db.close();
    });

  return program;
}

export async function main(argv = process.argv) {
  // Whatever a command creates in a data folder (a new database, keys) is this account's only.
  usePrivateFileModes();
  await buildProgram().parseAsync(argv);
}
