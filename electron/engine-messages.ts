/**
 * Messages from the engine process, validated: the engine is our own code, but a message
 * crossing a process boundary is still checked before the shell acts on it. Pure.
 */
import type { EngineProgress } from './progress.js';

export type EngineMessage =
  | { type: 'ready'; url: string; key: string; dataDir: string }
  | { type: 'failed'; message: string }
  | ({ type: 'progress' } & EngineProgress)
  | { type: 'batch-finished'; processed: number; failed: number };

const count = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;
const text = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length < 10_000;

export function parseEngineMessage(raw: unknown): EngineMessage | undefined {
  const m = raw as Record<string, unknown> | null;
  if (!m || typeof m !== 'object') return undefined;
  switch (m.type) {
    case 'ready':
      return text(m.url) && text(m.key) && text(m.dataDir) ? { type: 'ready', url: m.url, key: m.key, dataDir: m.dataDir } : undefined;
    case 'failed':
      return text(m.message) ? { type: 'failed', message: m.message } : undefined;
    case 'progress':
      return count(m.pending) && count(m.processed) && count(m.failed) && count(m.total)
        ? { type: 'progress', pending: m.pending, processed: m.processed, failed: m.failed, total: m.total }
        : undefined;
    case 'batch-finished':
      return count(m.processed) && count(m.failed) ? { type: 'batch-finished', processed: m.processed, failed: m.failed } : undefined;
    default:
      return undefined;
  }
}
