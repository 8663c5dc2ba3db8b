import fs from 'node:fs';
import path from 'node:path';

/**
 * One server per data dir: two would both run the same jobs. The lock is a file holding the
 * owner's pid; a lock whose process is gone (kill -9, power loss) is taken over at once, so a
 * crash never blocks the restart. Written here rather than with a lock library because those
 * detect staleness by age, which would make every restart after a crash wait.
 */
export function acquireDataDirLock(dataDir: string) {
  const file = path.join(dataDir, 'darkroom.pid');
  const ours = String(process.pid);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, ours, { flag: 'wx' });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number(fs.readFileSync(file, 'utf8').trim());
      if (owner && owner !== process.pid && isAlive(owner)) {
        throw new Error(`data dir ${dataDir} is in use by another Darkroom server (pid ${owner})`);
      }
      fs.rmSync(file, { force: true });
    }
  }
  return {
    release() {
      try {
        if (fs.readFileSync(file, 'utf8').trim() === ours) fs.rmSync(file, { force: true });
      } catch {
        // already gone
      }
    },
  };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
