/**
 * The upload file writer: a thread that hashes (sha256) and writes the bytes of every upload in
 * progress, so neither costs the main thread, which only copies chunks into buffers and hands
 * them over. Buffers are transferred, not copied, and handed back for reuse.
 * Messages and replies are described in server/storage/file-writer.ts.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { parentPort } from 'node:worker_threads';

interface OpenFile {
  fd: number;
  path: string;
  hash: crypto.Hash;
  failed: boolean;
}

type Message =
  | { type: 'open'; id: number; path: string }
  | { type: 'data'; id: number; buffer: ArrayBuffer; length: number }
  | { type: 'finish'; id: number }
  | { type: 'abort'; id: number };

const files = new Map<number, OpenFile>();
const port = parentPort!;

function fail(id: number, err: unknown) {
  const file = files.get(id);
  if (file) file.failed = true;
  const e = err as NodeJS.ErrnoException;
  port.postMessage({ type: 'error', id, code: e.code ?? 'EIO', message: e.message ?? String(err) });
}

port.on('message', (message: Message) => {
  const { id } = message;
  switch (message.type) {
    case 'open':
      try {
        files.set(id, { fd: fs.openSync(message.path, 'w'), path: message.path, hash: crypto.createHash('sha256'), failed: false });
        port.postMessage({ type: 'opened', id });
      } catch (err) {
        fail(id, err);
      }
      return;
    case 'data': {
      const file = files.get(id);
      const bytes = new Uint8Array(message.buffer, 0, message.length);
      if (file && !file.failed) {
        try {
          file.hash.update(bytes);
          let written = 0;
          while (written < bytes.length) written += fs.writeSync(file.fd, bytes, written, bytes.length - written);
        } catch (err) {
          fail(id, err);
        }
      }
      port.postMessage({ type: 'buffer', id, buffer: message.buffer }, [message.buffer]);
      return;
    }
    case 'finish': {
      const file = files.get(id);
      files.delete(id);
      if (!file) return;
      try {
        fs.closeSync(file.fd);
        if (!file.failed) port.postMessage({ type: 'finished', id, sha256: file.hash.digest('hex') });
      } catch (err) {
        fail(id, err);
      }
      return;
    }
    case 'abort': {
      const file = files.get(id);
      files.delete(id);
      if (file) {
        try {
          fs.closeSync(file.fd);
        } catch {
          // closing a file we are throwing away
        }
        fs.rmSync(file.path, { force: true });
      }
      port.postMessage({ type: 'aborted', id });
      return;
    }
  }
});
