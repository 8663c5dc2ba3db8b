import { fork } from 'node:child_process';
import { utilityProcess } from 'electron';
import { parseEngineMessage, type EngineMessage } from './engine-messages.js';
import { appOriginOf } from './security.js';

export interface EngineOptions {
  /** dist/server/desktop/engine-process.js */
  entry: string;
  /** The app's command-line arguments: server options among them are honoured. */
  args: string[];
  /** The data dir unless the arguments or DARKROOM_DATA_DIR name another. */
  defaultDataDir: string;
  /**
   * The Node.js to run the engine with during development, where node_modules are built for
   * Node and not for Electron. Unset in the packaged app, whose native modules were rebuilt
   * for Electron: the engine then runs as an Electron utility process.
   */
  nodePath?: string;
  timeoutMs: number;
  onMessage: (message: EngineMessage) => void;
  /** The engine stopped without being asked to (a crash). */
  onUnexpectedExit: (code: number | null) => void;
}

export interface Engine {
  url: string;
  origin: string;
  key: string;
  dataDir: string;
  stop(): Promise<void>;
}

interface EngineChild {
  send(message: unknown): void;
  onMessage(listener: (message: unknown) => void): void;
  onExit(listener: (code: number | null) => void): void;
  kill(): void;
}

/**
 * V8's heap tuned for streaming multi-gigabyte uploads through short-lived Buffers: the same
 * flags as `npm run serve`, explained in server/node-flags.ts (a test keeps the two in step;
 * this shell is compiled apart from the server and cannot import it).
 */
const ENGINE_NODE_FLAGS = ['--max-semi-space-size=2', '--initial-old-space-size=64'];
/** The engine's environment: the allocator told to give memory back, explained in server/node-flags.ts (ENGINE_ENV). */
const ENGINE_ENV = { MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '1048576' };

function spawnEngine(entry: string, nodePath: string | undefined): EngineChild {
  if (nodePath) {
    const child = fork(entry, [], {
      execPath: nodePath,
      execArgv: ENGINE_NODE_FLAGS,
      env: { ...process.env, ...ENGINE_ENV },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'json',
    });
    return {
      send: (m) => child.connected && child.send(m as object),
      onMessage: (l) => child.on('message', l),
      onExit: (l) => child.on('exit', (code) => l(code)),
      kill: () => child.kill('SIGKILL'),
    };
  }
  const child = utilityProcess.fork(entry, [], {
    serviceName: 'Darkroom engine',
    stdio: 'inherit',
    execArgv: ENGINE_NODE_FLAGS,
    env: { ...process.env, ...ENGINE_ENV },
  });
  return {
    send: (m) => child.postMessage(m),
    onMessage: (l) => child.on('message', l),
    onExit: (l) => child.on('exit', (code) => l(code)),
    kill: () => void child.kill(),
  };
}

/**
 * Starts the engine in a process of its own and waits for its ready message (or its failure,
 * or the timeout). Resolves with where it listens and the session key; the key is handed
 * over in memory and goes nowhere else.
 */
export function startEngine(options: EngineOptions): Promise<Engine> {
  const child = spawnEngine(options.entry, options.nodePath);
  let exited: ((code: number | null) => void) | undefined;
  let stopping = false;
  const exitedPromise = new Promise<number | null>((resolve) => (exited = resolve));

  return new Promise<Engine>((resolve, reject) => {
    let settled = false;
    let failure: string | undefined;
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      child.kill();
      reject(new Error(`The engine did not become ready within ${Math.round(options.timeoutMs / 1000)} seconds.`));
    }, options.timeoutMs);

    child.onExit((code) => {
      exited?.(code);
      clearTimeout(timer);
      if (!settled) {
        settled = true;
        reject(new Error(failure ?? `The engine stopped while starting (exit code ${code}).`));
      } else if (!stopping) {
        options.onUnexpectedExit(code);
      }
    });

    child.onMessage((raw) => {
      const message = parseEngineMessage(raw);
      if (!message) return;
      if (message.type === 'failed') failure = message.message;
      if (message.type === 'ready' && !settled) {
        const origin = appOriginOf(message.url);
        if (!origin) {
          failure = 'The engine is not listening on a loopback address.';
          child.kill();
          return;
        }
        settled = true;
        clearTimeout(timer);
        resolve({
          url: message.url,
          origin,
          key: message.key,
          dataDir: message.dataDir,
          async stop() {
            stopping = true;
            child.send({ type: 'stop' });
            // The engine finishes or abandons in-flight work within its own grace period.
            const killer = setTimeout(() => child.kill(), 10_000);
            await exitedPromise;
            clearTimeout(killer);
          },
        });
        return;
      }
      options.onMessage(message);
    });

    child.send({ type: 'start', args: options.args, defaultDataDir: options.defaultDataDir });
  });
}
