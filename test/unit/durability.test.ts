/**
 * File flushes share libuv's small thread pool with every other file operation of the server:
 * they take their turn, one at a time process-wide, so flushing large uploads cannot occupy the
 * whole pool. Real files and real fsyncs; the spy only watches how many run at once.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createDurability, createSlots } from '../../server/storage/fs/durability.js';
import { tempDirs } from '../helpers/server.js';

const dir = tempDirs('darkroom-durability-unit-');
afterEach(() => {
  vi.restoreAllMocks();
});

/** Counts the fsyncs in progress through `fs` (as the server makes them), and the most at once. */
function watchFlushes() {
  const seen = { running: 0, most: 0, files: [] as number[] };
  const fsync = fs.fsync;
  vi.spyOn(fs, 'fsync').mockImplementation(((fd: number, callback: (err: NodeJS.ErrnoException | null) => void) => {
    seen.running++;
    seen.most = Math.max(seen.most, seen.running);
    seen.files.push(fs.fstatSync(fd).ino);
    return fsync(fd, (err) => {
      seen.running--;
      callback(err);
    });
  }) as typeof fs.fsync);
  return seen;
}

describe('file flushes', () => {
  it('run one at a time, however many uploads finish together, and every file is flushed', async () => {
    const d = dir();
    const files = Array.from({ length: 6 }, (_, i) => {
      const file = path.join(d, `upload-${i}`);
      fs.writeFileSync(file, Buffer.alloc(4 * 1024 * 1024, i));
      return file;
    });
    const seen = watchFlushes();
    const durability = createDurability(true);
    await Promise.all(files.map((f) => durability.syncFile(f)));
    expect(seen.most).toBe(1);
    expect(seen.files.sort()).toEqual(files.map((f) => fs.statSync(f).ino).sort());
  });

  it('a flush that fails gives its turn to the next', async () => {
    const d = dir();
    const present = path.join(d, 'present');
    fs.writeFileSync(present, 'bytes');
    const seen = watchFlushes();
    const durability = createDurability(true);
    const results = await Promise.allSettled([durability.syncFile(path.join(d, 'gone')), durability.syncFile(present)]);
    expect(results[0]).toMatchObject({ status: 'rejected', reason: { code: 'ENOENT' } });
    expect(results[1]).toEqual({ status: 'fulfilled', value: undefined });
    expect(seen.files).toEqual([fs.statSync(present).ino]);
  });

  it('slots start waiting tasks in the order they came, up to the limit at once', async () => {
    const slots = createSlots(2);
    const order: string[] = [];
    const gates = new Map<string, () => void>();
    const task = (name: string) =>
      slots.run(async () => {
        order.push(`start ${name}`);
        await new Promise<void>((r) => gates.set(name, r));
        order.push(`end ${name}`);
      });
    const all = ['a', 'b', 'c', 'd'].map(task);
    await new Promise((r) => setImmediate(r));
    expect(slots.running).toBe(2);
    expect(slots.waiting).toBe(2);
    gates.get('b')!();
    await new Promise((r) => setImmediate(r));
    gates.get('a')!();
    await new Promise((r) => setImmediate(r));
    gates.get('c')!();
    gates.get('d')!();
    await Promise.all(all);
    expect(order).toEqual(['start a', 'start b', 'end b', 'start c', 'end a', 'start d', 'end c', 'end d']);
    expect(slots.running).toBe(0);
  });
});
