import path from 'node:path';
import { Command, Option } from 'commander';
import { ConfigError, OPTION_SPECS, envName, parseConfig, readEnv, type RawConfig } from './config.js';
import { openDatabase } from './db/connection.js';
import { createKeysRepo, ROLES } from './db/keys.repo.js';
import { createStatsRepo } from './db/stats.repo.js';
import { AppError } from './errors.js';
import { createStatsService, reportToCsv } from './services/stats/stats.service.js';
import { createKeysService, NewKeyInput } from './services/keys.service.js';
import { startServer } from './main.js';
import { usePrivateFileModes } from './storage/private-files.js';
import { missingEngineFlags } from './node-flags.js';
import { systemClock } from './util/clock.js';

function fail(message: string): never {
  process.stderr.write(`darkroom: ${message}\n`);
  process.exit(1);
}

function addServerOptions(command: Command): Command {
  for (const spec of OPTION_SPECS) {
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
  // `node bin/darkroom.js` (or the installed command) cannot set V8's heap flags for itself.
  if (!missing.length) return [];
  return [`darkroom: note: Node was started without ${missing.join(' ')}; uploads take more CPU (npm run serve passes them; docs/performance.md)`];
}

export async function serve(flags: Record<string, unknown>) {
  const config = configFrom(flags);
  // Signals are handled from the first moment: one that comes while the server is still
  // starting (or right after its ready line) stops it once it is up, as cleanly as later.
  const starting = startServer(config, { notices: engineFlagsNotice() });
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

export function buildProgram(): Command {
  const program = new Command('darkroom')
    .description('Darkroom: self-hosted image processing engine')
    .showHelpAfterError();

  addServerOptions(program.command('serve', { isDefault: true }).description('run the server (headless)')).action(serve);

  const keys = program.command('keys').description('manage API keys directly in the data dir');
  const dataDirOption = () => new Option('--data-dir <dir>', `data dir [env ${envName('data-dir')}]`);
  const keysService = (flags: { dataDir?: string }) => {
    const config = configFrom({ dataDir: flags.dataDir });
    const db = openDatabase(path.join(config.dataDir, 'darkroom.db'));
    return { db, keys: createKeysService(createKeysRepo(db), systemClock) };
  };

  keys
    .command('create')
    .description('create a key and print it once')
    .requiredOption('--customer <name>', 'customer the key belongs to')
    .addOption(new Option('--role <role>', 'what the key may do').choices(ROLES).makeOptionMandatory())
    .option('--name <name>', 'a label to recognise the key by')
    .addOption(dataDirOption())
    .action((flags: { customer: string; role: string; name?: string; dataDir?: string }) => {
      const input = NewKeyInput.safeParse({ customer: flags.customer, role: flags.role, name: flags.name });
      if (!input.success) fail(input.error.issues[0]!.message);
      const { db, keys: service } = keysService(flags);
      const created = service.create(input.data);
      db.close();
      process.stdout.write(`${created.key}\n`);
      process.stderr.write(`created ${created.role} key ${created.id} for customer "${created.customer}"; it is not shown again\n`);
    });

  keys
    .command('list')
    .description('list active keys (never their secret)')
    .addOption(dataDirOption())
    .action((flags: { dataDir?: string }) => {
      const { db, keys: service } = keysService(flags);
      for (const key of service.list()) {
        process.stdout.write(`${key.id}\t${key.role}\t${key.customer}\t${key.prefix}…\t${key.name ?? ''}\n`);
      }
      db.close();
    });

  keys
    .command('revoke <id>')
    .description('revoke a key')
    .addOption(dataDirOption())
    .action((id: string, flags: { dataDir?: string }) => {
      const { db, keys: service } = keysService(flags);
      try {
        service.revoke(id);
      } catch (err) {
        fail((err as Error).message);
      } finally {
        db.close();
      }
    });

  program
    .command('stats')
    .description('print business statistics from the data dir (for cron jobs on the server)')
    .option('--from <YYYY-MM-DD>', 'first UTC day (default: 29 days before --to)')
    .option('--to <YYYY-MM-DD>', 'last UTC day, inclusive (default: today)')
    .option('--group-by <keys>', 'any of customer,format,day, comma-separated (default: totals only)')
    .option('--csv', 'RFC 4180 CSV instead of JSON')
    .addOption(dataDirOption())
    .action((flags: { from?: string; to?: string; groupBy?: string; csv?: boolean; dataDir?: string }) => {
      const config = configFrom({ dataDir: flags.dataDir });
      const db = openDatabase(path.join(config.dataDir, 'darkroom.db'));
      try {
        const report = createStatsService(createStatsRepo(db), systemClock).report({ from: flags.from, to: flags.to, groupBy: flags.groupBy });
        process.stdout.write(flags.csv ? reportToCsv(report) : `${JSON.stringify(report, null, 2)}\n`);
      } catch (err) {
        if (err instanceof AppError) fail(err.message);
        throw err;
      } finally {
        db.close();
      }
    });

  return program;
}

export async function main(argv = process.argv) {
  // Whatever a command creates in a data folder (a new database, keys) is this account's only.
  usePrivateFileModes();
  await buildProgram().parseAsync(argv);
}
