import fs from 'node:fs';
import os from 'node:os';

/**
 * Processing yields the CPU to the API: each worker thread lowers its own scheduling priority
 * (Linux lets a thread renice itself by its thread id; the libvips threads it starts inherit
 * it). On an idle machine this changes nothing; when the cores are busy with images, requests
 * on the main thread are served first, so GET latency stays low while processing runs.
 */
export function lowerThreadPriority(niceness = 10): void {
  if (process.platform !== 'linux') return;
  try {
    const tid = Number(fs.readlinkSync('/proc/thread-self').split('/').pop());
    if (tid) os.setPriority(tid, niceness);
  } catch {
    // Not permitted or not supported: processing simply runs at normal priority.
  }
}
