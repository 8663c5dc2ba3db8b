import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
export const DARKROOM_BIN = path.join(ROOT, 'bin/darkroom.js');

export interface ChildServer {
  proc: ChildProcess;
  url: string;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the exit code (or signal name). */
  exited: Promise<number | string>;
}

/**
 * Starts the compiled server as a real child process and waits for its ready line. Used where
 * the test needs a process of its own: kill -9, peak memory, signals.
 */
export async function spawnServer(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  script = DARKROOM_BIN,
  nodeFlags: string[] = [],
  readyWithinMs = 30_000,
): Promise<ChildServer> {
  const proc = spawn(process.execPath, [...nodeFlags, script, ...args], {
    cwd: ROOT,
    env: { ...process.env, DARKROOM_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | string>((resolve) => proc.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${out}\n${err}`)), readyWithinMs);
    const check = () => {
      const m = /darkroom listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        proc.stdout!.off('data', check);
        resolve(m[1]!);
      }
    };
    proc.stdout!.on('data', check);
    exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${code}) before it was ready:\n${out}\n${err}`));
    });
  });
  return { proc, url, stdout: () => out, stderr: () => err, exited };
}

/** Runs a command to completion and collects its output. */
export function run(args: string[], env: NodeJS.ProcessEnv = {}, script = DARKROOM_BIN) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const proc = spawn(process.execPath, [script, ...args], { cwd: ROOT, env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    proc.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Peak resident memory of a process so far (VmHWM), in bytes. Linux only. */
export async function peakRss(pid: number): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1]);
  return kb * 1024;
}
