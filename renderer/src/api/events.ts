import type { ImageStatusEvent } from './schemas';

export type { ImageStatusEvent };

export interface EventsHandlers {
  onStatus: (event: ImageStatusEvent) => void;
  /** The stream is (re)connected: whatever was missed while it was down should be reloaded. */
  onConnected?: (reconnected: boolean) => void;
  onDisconnected?: () => void;
}

/**
 * Follows `GET /v1/events`. EventSource cannot send an Authorization header, so this reads the
 * stream with fetch and parses it; when the stream drops (server restart, network) it connects
 * again after the delay the server asked for, and says so, so the caller can reload.
 */
export function followEvents(key: string, handlers: EventsHandlers): () => void {
  let stopped = false;
  let controller: AbortController | undefined;
  let retryMs = 2000;
  let connectedBefore = false;

  const run = async () => {
    while (!stopped) {
      controller = new AbortController();
      try {
        const res = await fetch('/v1/events', {
          headers: { Authorization: `Bearer ${key}`, Accept: 'text/event-stream' },
          signal: controller.signal,
          cache: 'no-store',
        });
        // A key that may not follow events (401, 403) will not start to by retrying.
        if (res.status === 401 || res.status === 403) return;
        if (!res.ok || !res.body) throw new Error(`events: ${res.status}`);
        handlers.onConnected?.(connectedBefore);
        connectedBefore = true;
        await readStream(res.body, (field, value) => {
          if (field === 'retry') retryMs = Math.max(500, Number(value) || retryMs);
        }, (event, data) => {
          if (event !== 'image.status') return;
          try {
            handlers.onStatus(JSON.parse(data) as ImageStatusEvent);
          } catch {
            // a malformed event is skipped, the stream goes on
          }
        });
      } catch {
        // dropped or refused: try again below
      }
      if (stopped) return;
      handlers.onDisconnected?.();
      await new Promise((resolve) => setTimeout(resolve, retryMs));
    }
  };
  void run();

  return () => {
    stopped = true;
    controller?.abort();
  };
}

async function readStream(
  body: ReadableStream<Uint8Array>,
  onField: (field: string, value: string) => void,
  onEvent: (event: string, data: string) => void,
) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let event = 'message';
  let data: string[] = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let newline: number;
    while ((newline = buffer.search(/\r?\n/)) >= 0) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(buffer[newline] === '\r' ? newline + 2 : newline + 1);
      if (line === '') {
        if (data.length) onEvent(event, data.join('\n'));
        event = 'message';
        data = [];
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
      else onField(field, value);
    }
  }
}
