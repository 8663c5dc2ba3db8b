import { EventEmitter } from 'node:events';
import type { ClusterSignals, SignalChannel, SignalPayloads } from './signals.js';

/**
 * The signals of one process (cluster/signals.ts): enough where this process is the only node
 * (SQLite). Listeners are called synchronously, in the order they subscribed; one that throws
 * does not keep the payload from the others.
 */
export function createInProcessSignals(): ClusterSignals {
  const emitter = new EventEmitter();
  // One listener per open event stream: there may be thousands.
  emitter.setMaxListeners(0);
  return {
    crossProcess: false,
    publish<C extends SignalChannel>(channel: C, payload: SignalPayloads[C]) {
      for (const listener of emitter.listeners(channel)) {
        try {
          (listener as (p: SignalPayloads[C]) => void)(payload);
        } catch {
          // A subscriber's failure is its own; the publisher and the other subscribers go on.
        }
      }
    },
    subscribe<C extends SignalChannel>(channel: C, listener: (payload: SignalPayloads[C]) => void) {
      emitter.on(channel, listener);
      return () => void emitter.off(channel, listener);
    },
    async close() {
      emitter.removeAllListeners();
    },
  };
}
