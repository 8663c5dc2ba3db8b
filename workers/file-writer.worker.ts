/**
 * The upload file writer: a thread that hashes (sha256) and writes the bytes of every upload in
 * progress, so neither costs the main thread, which only copies chunks into buffers and hands
 * them over. Buffers are transferred, not copied, and handed back for reuse once written.
 * Messages and replies are described in server/storage/file-writer.ts.
 *
 * Each buffer goes through in slices of SLICE_BYTES: hash a slice, write it (synchronously:
 * blocking this thread is what it is for), then the next. The slice is still in the CPU's cache
 * when the kernel copies it into the page cache. Measured on a 2-core machine with 2 GiB
 * uploads: writing from libuv's pool while this thread hashed the next buffer cost the kernel
 * 2.1-4.4 s against 0.7-1.0 s slice by slice here, and uploads went from 0.55-0.7x the speed of
 * a bare pipe-to-file server to 1.1-1.6x (docs/performance.md, finding 3). Files are served in the
 * order their buffers arrive; one slow disk write delays the other uploads' buffers behind it,
 * as the disk would anyway.
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

/**
 * The bytes hashed and then written at a time. Small writes also keep the page cache from
 * allocating large folios, which on virtual machines that hand freed memory back to their host
 * come from exactly the blocks the host took back: there, 2 GiB cost the kernel 1.5-2.8 s in
 * writes of 256 KiB and 0.7-1.0 s in writes of 32 KiB (64 KiB: 0.7-2.3 s).
 */
const SLICE_BYTES = 32 * 1024;

const files = new Map<number, OpenFile>();
const port = parentPort!;

function fail(id: number, file: OpenFile | undefined, err: unknown) {
  if (file) file.failed = true;
  const e = err as NodeJS.ErrnoException;
  port.postMessage({ type: 'error', id, code: e.code ?? 'EIO', message: e.message ?? String(err) });
}

/** Hashes and writes `bytes` slice by slice, continuing after short writes. */
function hashAndWrite(file: OpenFile, bytes: Uint8Array) {
  for (let at = 0; at < bytes.length; at += SLICE_BYTES) {
    const slice = bytes.subarray(at, at + SLICE_BYTES);
    file.hash.update(slice);
    for (let written = 0; written < slice.length; ) written += fs.writeSync(file.fd, slice, written);
  }
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
        files.set(id, { fd, path: message.path, hash: crypto.createHash('sha256'), failed: false });
        port.postMessage({ type: 'opened', id });
      } catch (err) {
        fail(id, undefined, err);
      }
      return;
    case 'data': {
      const file = files.get(id);
      if (file && !file.failed) {
        try {
          hashAndWrite(file, new Uint8Array(message.buffer, 0, message.length));
        } catch (err) {
          fail(id, file, err);
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
        fail(id, file, err);
      }
      return;
    }
    case 'abort': {
      const file = files.get(id);
      files.delete(id);
      if (file) {
        closeQuietly(file.fd);
        fs.rmSync(file.path, { force: true });
      }
      port.postMessage({ type: 'aborted', id });
      return;
    }
  }
});
