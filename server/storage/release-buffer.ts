import { MessageChannel } from 'node:worker_threads';

/**
 * Frees a Buffer's memory now rather than at V8's next young-generation collection.
 *
 * Why: every 64 KiB chunk of an upload body is a Buffer of its own, garbage as soon as it has
 * been copied on, but V8 only collects them once ~32 MB of such young buffers have piled up
 * (a threshold fixed in V8, not tied to any flag). During a big upload that pile was the
 * largest part of the server's memory: a sawtooth between ~10 and ~44 MB of malloc heap. Freed
 * as they are used, the heap stays at ~10 MB (docs/performance.md).
 *
 * How: transferring an ArrayBuffer detaches it, and a message posted on a closed port is still
 * serialized, so its transfers happen, and then dropped, which frees what it carried (Node's
 * MessagePort::PostMessage; HTML's postMessage rules for transfers). Node has no other way to
 * free a Buffer on demand before ArrayBuffer.prototype.transfer (Node 22).
 *
 * Only for Buffers the caller owns outright, whose memory nobody else can still be reading:
 * afterwards the Buffer is empty (length 0).
 */
const closedPort = (() => {
  const { port1 } = new MessageChannel();
  port1.close();
  return port1;
})();

/** Releases `chunk` if it alone spans its ArrayBuffer; returns whether it did. */
export function releaseBuffer(chunk: Uint8Array): boolean {
  const memory = chunk.buffer;
  // A slice of a larger buffer (Buffer's shared pool, a parser's input) is not ours to free.
  if (!(memory instanceof ArrayBuffer) || chunk.byteOffset !== 0 || chunk.byteLength !== memory.byteLength) return false;
  try {
    closedPort.postMessage(null, [memory]);
    return true;
  } catch {
    return false; // marked untransferable
  }
}
