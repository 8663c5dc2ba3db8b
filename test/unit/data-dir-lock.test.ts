/**
 * The data-dir lock with real processes: two racing for it many times over, one killed -9 while
 * holding it, and what each leaves for the next start to find.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { pathToFileURL } from 'node:url';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { acquireDataDirLock, lockHolder, LOCK_FILE, UNCLEAN_STOP_MARKER } from '../../server/storage/data-dir-lock.js';
import { ROOT } from '../helpers/child.js';
import { tempDirs } from '../helpers/server.js';

const dir = tempDirs('darkroom-lock-');
const marker = (d: string) => path.join(d, UNCLEAN_STOP_MARKER);
/** The pid of a process that has exited. */
const gonePid = () => spawnSync(process.execPath, ['-e', '']).pid!;

/**
 * A process that takes the lock of the data dir it is given (the compiled module, as `serve` and
 * `verify` run it) whenever it is told `go <epoch ms>`, spinning until that moment so that two
 * of them try at the same instant; answers `got <previousRunCrashed>` or `refused <message>`,
 * holds what it got until told `release`, and then leaves its marker behind as a crash would;
 * `forget` drops its reference to the lock and collects garbage.
 */
const CONTENDER = `
import readline from 'node:readline';
const { acquireDataDirLock } = await import(${JSON.stringify(pathToFileURL(path.join(ROOT, 'dist/server/storage/data-dir-lock.js')).href)});
const [dataDir, waitMs] = process.argv.slice(1);
let held;
for await (const line of readline.createInterface({ input: process.stdin })) {
  const [command, at] = line.split(' ');
  if (command === 'go') {
    while (Date.now() < Number(at)) {}
    try {
      held = acquireDataDirLock(dataDir, { waitMs: Number(waitMs) });
      process.stdout.write('got ' + held.previousRunCrashed + '\\n');
    } catch (err) {
      process.stdout.write('refused ' + err.message + '\\n');
    }
  } else if (command === 'forget') {
    held = undefined;
    globalThis.gc();
    process.stdout.write('forgotten\\n');
  } else if (command === 'release') {
    held?.release({ uncleanUntilReconciled: true });
    held = undefined;
    process.stdout.write('released\\n');
  }
}
`;

interface Contender {
  proc: ChildProcessWithoutNullStreams;
  /** Sends a command and resolves with the next line it answers. */
  say(command: string): Promise<string>;
}

const contenders: Contender[] = [];
afterEach(() => {
  vi.restoreAllMocks();
});
afterAll(() => {
  for (const c of contenders) c.proc.kill('SIGKILL');
});

function contender(dataDir: string, waitMs = 100): Contender {
  const proc = spawn(process.execPath, ['--expose-gc', '--input-type=module', '-e', CONTENDER, dataDir, String(waitMs)], { cwd: ROOT });
  const lines = readline.createInterface({ input: proc.stdout })[Symbol.asyncIterator]();
  const c: Contender = {
    proc,
    async say(command) {
      proc.stdin.write(`${command}\n`);
      const next = await lines.next();
      if (next.done) throw new Error(`contender ${proc.pid} ended`);
      return next.value;
    },
  };
  contenders.push(c);
  return c;
}

describe('data-dir lock', () => {
  it('is held by exactly one of two processes that take it at the same instant, over and over', async () => {
    const d = dir();
    // What a kill -9 of an older version leaves: a marker naming a process that is gone.
    fs.writeFileSync(marker(d), String(gonePid()));
    const [a, b] = [contender(d), contender(d)];
    await Promise.all([a.say('release'), b.say('release')]); // both loaded and listening
    const rounds = 60;
    let winsOfA = 0;
    for (let round = 0; round < rounds; round++) {
      const at = Date.now() + 30;
      const answers = await Promise.all([a.say(`go ${at}`), b.say(`go ${at}`)]);
      const got = answers.filter((x) => x.startsWith('got '));
      expect(got, `round ${round}: ${answers.join(' | ')}`).toHaveLength(1);
      // The winner found the marker the previous holder left behind; the loser was refused with
      // the message a start gets (its pid is the winner's once it has written it: see below).
      expect(got[0]).toBe('got true');
      if (answers[0]!.startsWith('got ')) winsOfA++;
      expect(answers.find((x) => x.startsWith('refused '))).toMatch(new RegExp(`^refused data dir ${d} is in use by another Darkroom process \\(pid \\d+\\)$`));
      await Promise.all([a.say('release'), b.say('release')]);
    }
    // Both really raced: each won some rounds.
    console.log(`lock race: ${rounds} rounds, first process won ${winsOfA}, second ${rounds - winsOfA}, never both`);
    expect(winsOfA).toBeGreaterThan(0);
    expect(winsOfA).toBeLessThan(rounds);
  });

  it('is let go by the kernel when its holder is killed -9, and the next holder learns of the crash', async () => {
    const d = dir();
    const holder = contender(d);
    expect(await holder.say(`go ${Date.now()}`)).toBe('got false');
    expect(lockHolder(d)).toEqual({ pid: holder.proc.pid });
    expect(() => acquireDataDirLock(d)).toThrow(`data dir ${d} is in use by another Darkroom process (pid ${holder.proc.pid})`);
    holder.proc.kill('SIGKILL');
    await new Promise((resolve) => holder.proc.once('exit', resolve));

    expect(lockHolder(d)).toBeUndefined();
    const lock = acquireDataDirLock(d);
    expect(lock.previousRunCrashed).toBe(true);
    expect(fs.readFileSync(marker(d), 'utf8').split('\n')[0]).toBe(String(process.pid));
    // Looking whether it is held (as verify does, from this same process) does not let it go.
    expect(lockHolder(d)).toEqual({ pid: process.pid });
    const other = contender(d);
    expect(await other.say(`go ${Date.now()}`)).toMatch(/^refused .* in use by another Darkroom process/);
    lock.release();
    expect(fs.existsSync(marker(d))).toBe(false);
    expect(await other.say(`go ${Date.now()}`)).toBe('got false');
  });

  it('is held until released, also when its holder keeps no reference to it', async () => {
    const d = dir();
    const holder = contender(d);
    expect(await holder.say(`go ${Date.now()}`)).toBe('got false');
    expect(await holder.say('forget')).toBe('forgotten');
    expect(lockHolder(d)).toEqual({ pid: holder.proc.pid });
    expect(() => acquireDataDirLock(d)).toThrow(`in use by another Darkroom process (pid ${holder.proc.pid})`);
  });

  it('does not mistake a live process named by a marker left behind for a running server (a reused pid)', async () => {
    const d = dir();
    // A holder that left its marker behind (as a crash does) and lives on without the lock: what
    // a pid reused by an unrelated process looks like to the next start.
    const named = contender(d);
    expect(await named.say(`go ${Date.now()}`)).toBe('got false');
    expect(await named.say('release')).toBe('released');
    expect(fs.readFileSync(marker(d), 'utf8')).toMatch(new RegExp(`^${named.proc.pid}\n`));
    expect(lockHolder(d)).toBeUndefined();
    const lock = acquireDataDirLock(d);
    expect(lock.previousRunCrashed).toBe(true);
    lock.release();
    expect(acquireDataDirLock(d).previousRunCrashed).toBe(false);
  });

  it('flushes its marker and the marker\'s directory entry at every start, so a power cut cannot lose it', () => {
    const d = dir();
    const flushed: number[] = [];
    const fsyncSync = fs.fsyncSync;
    vi.spyOn(fs, 'fsyncSync').mockImplementation((fd) => {
      flushed.push(fs.fstatSync(fd).ino);
      return fsyncSync(fd);
    });
    const lock = acquireDataDirLock(d);
    expect(flushed).toEqual([fs.statSync(marker(d)).ino, fs.statSync(d).ino]);
    lock.release();
  });

  it('stays unclean when released before reconciling was done, so the next start does it again', () => {
    const d = dir();
    fs.writeFileSync(marker(d), String(gonePid()));
    const lock = acquireDataDirLock(d);
    expect(lock.previousRunCrashed).toBe(true);
    lock.release({ uncleanUntilReconciled: true });
    const next = acquireDataDirLock(d);
    expect(next.previousRunCrashed).toBe(true);
    next.release();
    expect(acquireDataDirLock(d).previousRunCrashed).toBe(false);
  });

  it('refuses while a server of an older version (its pid alone in the file, no kernel lock) runs', () => {
    const d = dir();
    fs.writeFileSync(marker(d), String(process.ppid));
    expect(fs.existsSync(path.join(d, LOCK_FILE))).toBe(false);
    expect(lockHolder(d)).toEqual({ pid: process.ppid });
    for (let attempt = 0; attempt < 2; attempt++) {
      expect(() => acquireDataDirLock(d)).toThrow(`in use by another Darkroom process (pid ${process.ppid})`);
    }
    // Its crash (the pid gone) is recognised as one.
    fs.writeFileSync(marker(d), String(gonePid()));
    expect(acquireDataDirLock(d).previousRunCrashed).toBe(true);
  });
});
