import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { acquireDataDirLock, lockHolder } from '../../server/storage/data-dir-lock.js';
import { tempDir } from '../helpers/server.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});
const dir = () => {
  const d = tempDir('darkroom-lock-');
  dirs.push(d);
  return d;
};
/** The pid of a process that has exited. */
const gonePid = () => spawnSync(process.execPath, ['-e', '']).pid!;

describe('data-dir lock', () => {
  it('tells a clean previous stop from one that left its lock behind', () => {
    const d = dir();
    const first = acquireDataDirLock(d);
    expect(first.previousRunCrashed).toBe(false);
    expect(lockHolder(d)).toBe(process.pid);
    first.release();
    expect(lockHolder(d)).toBeUndefined();
    expect(acquireDataDirLock(d).previousRunCrashed).toBe(false);

    const crashed = dir();
    fs.writeFileSync(path.join(crashed, 'darkroom.pid'), String(gonePid()));
    expect(lockHolder(crashed)).toBeUndefined();
    const taken = acquireDataDirLock(crashed);
    expect(taken.previousRunCrashed).toBe(true);
    expect(fs.readFileSync(path.join(crashed, 'darkroom.pid'), 'utf8')).toBe(String(process.pid));
  });

  it('refuses while a live process holds it', () => {
    const d = dir();
    fs.writeFileSync(path.join(d, 'darkroom.pid'), String(process.ppid));
    expect(lockHolder(d)).toBe(process.ppid);
    expect(() => acquireDataDirLock(d)).toThrow(`in use by another Darkroom process (pid ${process.ppid})`);
  });

  it('stays behind when released before reconciling was done, so the next start does it again', () => {
    const d = dir();
    fs.writeFileSync(path.join(d, 'darkroom.pid'), String(gonePid()));
    const lock = acquireDataDirLock(d);
    lock.release({ uncleanUntilReconciled: true });
    // Our own pid is in it; once this process is gone, the next one sees a crash.
    expect(fs.readFileSync(path.join(d, 'darkroom.pid'), 'utf8')).toBe(String(process.pid));
    fs.writeFileSync(path.join(d, 'darkroom.pid'), String(gonePid()));
    expect(acquireDataDirLock(d).previousRunCrashed).toBe(true);
  });
});
