/**
 * The upload file writer: a thread that hashes (sha256) and writes the bytes of every upload in
 * progress, so neither costs the main thread, which only copies chunks into buffers and hands
 * them over. Buffers are transferred, not copied, and handed back for reuse once written.
 * Messages and replies are described in server/storage/file-writer.ts.
 *
 * Hashing and writing overlap: this thread hashes a buffer and hands its write to libuv's pool,
 * then hashes the next one while the first is being written. Done one after the other, a 2 GiB
 * upload took the time of both (writing into the page cache ~4 s plus hashing ~1.2 s);
 * overlapped, it takes the longer of the two. One write per file is in flight at a time, in
 * order, as a write stream would do: parallel writes to one file only contend for its lock.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { parentPort } from 'node:worker_threads';

interface OpenFile {
  fd: number;
  path: string;
  hash: crypto.Hash;
  failed: boolean;
  /** Hashed buffers waiting for their turn to be written, oldest first. */
  queue: Array<{ bytes: Uint8Array; giveBack(): void }>;
  writing: boolean;
  /** Runs once the queue is written (finish and abort wait for the writes in flight). */
  whenIdle?: () => void;
}

type Message =
  | { type: 'open'; id: number; path: string }
  | { type: 'data'; id: number; buffer: ArrayBuffer; length: number }
  | { type: 'finish'; id: number }
  | { type: 'abort'; id: number };

const files = new Map<number, OpenFile>();
const port = parentPort!;

function fail(id: number, file: OpenFile | undefined, err: unknown) {
  if (file) file.failed = true;
  const e = err as NodeJS.ErrnoException;
  port.postMessage({ type: 'error', id, code: e.code ?? 'EIO', message: e.message ?? String(err) });
}

/**
 * The most one write() call hands the kernel. Writes of 1 MiB made the page cache allocate
 * large folios, and on virtual machines that return freed memory to their host those come from
 * exactly the blocks the host took back: 2 GiB written in 1 MiB calls cost 1.6 s of kernel time
 * there against 0.45 s in calls of 64–512 KiB; where memory stays with the guest, both are fast.
 */
const WRITE_SLICE_BYTES = 256 * 1024;

/** Writes all of `bytes` in slices of at most WRITE_SLICE_BYTES, continuing after short writes. */
function writeFully(fd: number, bytes: Uint8Array, done: (err: Error | null) => void, offset = 0): void {
  fs.write(fd, bytes, offset, Math.min(bytes.length - offset, WRITE_SLICE_BYTES), null, (err, written) => {
    if (err) return done(err);
    if (offset + written < bytes.length) return writeFully(fd, bytes, done, offset + written);
    done(null);
  });
}

/** Writes the queued buffers of `id` one after the other, handing each back once written. */
function drain(id: number, file: OpenFile) {
  const next = file.queue.shift();
  if (!next) {
    file.writing = false;
    const then = file.whenIdle;
    file.whenIdle = undefined;
    then?.();
    return;
  }
  file.writing = true;
  const written = (err: Error | null) => {
    if (err && !file.failed) fail(id, file, err);
    next.giveBack();
    drain(id, file);
  };
  if (file.failed) written(null); // nothing more goes to a failed file
  else writeFully(file.fd, next.bytes, written);
}

/** Runs `then` now if nothing is being written to `file`, otherwise once the queue is written. */
function afterWrites(file: OpenFile, then: () => void) {
  if (!file.writing) then();
  else file.whenIdle = then;
}

function closeQuietly(fd: number) {
  try {
    fs.closeSync(fd);
  } catch {
    // closing a file we are throwing away
  }
}

port.on('message', (message: Message) => {
  const { id } = message;
  switch (message.type) {
    case 'open':
      try {
        const fd = fs.openSync(message.path, 'w');
        files.set(id, { fd, path: message.path, hash: crypto.createHash('sha256'), failed: false, queue: [], writing: false });
        port.postMessage({ type: 'opened', id });
      } catch (err) {
        fail(id, undefined, err);
      }
      return;
    case 'data': {
      const file = files.get(id);
      const giveBack = () => port.postMessage({ type: 'buffer', id, buffer: message.buffer }, [message.buffer]);
      if (!file || file.failed) return giveBack();
      const bytes = new Uint8Array(message.buffer, 0, message.length);
      file.hash.update(bytes);
      file.queue.push({ bytes, giveBack });
      if (!file.writing) drain(id, file);
      return;
    }
    case 'finish': {
      const file = files.get(id);
      files.delete(id);
      if (!file) return;
      afterWrites(file, () => {
        try {
          fs.closeSync(file.fd);
          if (!file.failed) port.postMessage({ type: 'finished', id, sha256: file.hash.digest('hex') });
        } catch (err) {
          fail(id, file, err);
        }
      });
      return;
    }
    case 'abort': {
      const file = files.get(id);
      files.delete(id);
      if (!file) return port.postMessage({ type: 'aborted', id });
      afterWrites(file, () => {
        closeQuietly(file.fd);
        fs.rmSync(file.path, { force: true });
        port.postMessage({ type: 'aborted', id });
      });
      return;
    }
  }
});
