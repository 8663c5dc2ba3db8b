/**
 * The engine as the desktop shell runs it: a process of its own (an Electron utility process
 * in the packaged app, a Node child process during development), so neither SQLite nor a
 * burst of work ever blocks the window. It speaks a small message protocol with the shell:
 *
 *   shell → engine  {type: 'start', args, defaultDataDir}   {type: 'stop'}
 *   engine → shell  {type: 'ready', url, key, dataDir}      {type: 'failed', message}
 *                   {type: 'progress', pending, processed, failed, total}
 *                   {type: 'batch-finished', processed, failed}
 *
 * The engine listens on a random loopback port only, whatever the options say, and makes a
 * fresh admin key for each session that travels to the shell only over this channel: never in
 * arguments, environment, output or logs. The key is revoked when the session ends, and any
 * left over by a crash is revoked at the next start.
 */
import { ConfigError, parseConfig, readEnv } from '../config.js';
import { startServer, type RunningServer } from '../main.js';
import { LOCAL_CUSTOMER } from '../services/keys.service.js';
import { serverOptionsFromArgs } from './args.js';
import { createQueueProgress } from './queue-progress.js';

export const SESSION_KEY_NAME = 'desktop session';

interface Channel {
  send(message: unknown): void;
  onMessage(listener: (message: unknown) => void): void;
}

/** Electron's utility process gives `process.parentPort`; a Node child process gives `process.send`. */
function channelToShell(): Channel | undefined {
  const parentPort = (process as unknown as { parentPort?: { postMessage(m: unknown): void; on(e: 'message', l: (e: { data: unknown }) => void): void } }).parentPort;
  if (parentPort) {
    return { send: (m) => parentPort.postMessage(m), onMessage: (l) => parentPort.on('message', (e) => l(e.data)) };
  }
  if (process.send) {
    return { send: (m) => process.send!(m), onMessage: (l) => process.on('message', l) };
  }
  return undefined;
}

function parseStart(message: unknown): { args: string[]; defaultDataDir: string } | undefined {
  const m = message as { type?: unknown; args?: unknown; defaultDataDir?: unknown } | null;
  if (m?.type !== 'start' || typeof m.defaultDataDir !== 'string' || !Array.isArray(m.args)) return undefined;
  if (!m.args.every((a): a is string => typeof a === 'string')) return undefined;
  return { args: m.args, defaultDataDir: m.defaultDataDir };
}

async function run(channel: Channel) {
  let server: RunningServer | undefined;
  let sessionKeyId: string | undefined;
  let stopping: Promise<void> | undefined;

  const stop = () => {
    stopping ??= (async () => {
      try {
        if (server && sessionKeyId) await server.parts.keys.revoke(sessionKeyId);
        await server?.close();
      } finally {
        process.exit(0);
      }
    })();
    return stopping;
  };

  channel.onMessage(async (message) => {
    if ((message as { type?: unknown } | null)?.type === 'stop') return void stop();
    const start = parseStart(message);
    if (!start || server) return;
    try {
      const config = parseConfig(
        { dataDir: start.defaultDataDir },
        readEnv(process.env),
        serverOptionsFromArgs(start.args),
        // The desktop engine is for this machine only: the session key must never reach the LAN.
        { host: '127.0.0.1', port: '0' },
      );
      // Only the ready line is printed: the bootstrap key a first start would show is not needed
      // by the desktop (it has its session key), and must not end up in a terminal or a log.
      server = await startServer(config, {
        print: (line) => {
          if (line.startsWith('darkroom listening on')) process.stdout.write(`${line}\n`);
        },
      });
      const keys = server.parts.keys;
      for (const stale of await keys.list()) if (stale.name === SESSION_KEY_NAME) await keys.revoke(stale.id);
      const session = await keys.create({ customer: LOCAL_CUSTOMER, role: 'admin', name: SESSION_KEY_NAME });
      sessionKeyId = session.id;
      createQueueProgress({
        countUnfinished: server.parts.database.repos.progress.countUnfinished,
        lifecycle: server.parts.lifecycle,
        onChange: (progress) => channel.send({ type: 'progress', ...progress }),
        onBatchFinished: (batch) => channel.send({ type: 'batch-finished', ...batch }),
      });
      channel.send({ type: 'ready', url: server.url, key: session.key, dataDir: config.dataDir });
    } catch (err) {
      const message = err instanceof ConfigError || err instanceof Error ? err.message : String(err);
      channel.send({ type: 'failed', message });
      // Let the message leave before exiting.
      setTimeout(() => process.exit(1), 100);
    }
  });

  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
  // The shell went away without saying stop (it crashed): do not linger.
  process.on('disconnect', () => void stop());
}

const channel = channelToShell();
if (!channel) {
  process.stderr.write('darkroom: the desktop engine runs under the desktop app; use `darkroom serve` instead\n');
  process.exit(1);
}
void run(channel);
