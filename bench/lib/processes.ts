import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ENGINE_ENV, ENGINE_NODE_FLAGS } from '../../server/node-flags.js';

export const ROOT = path.resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
export const BENCH_KEY = 'drk_bench_admin_key_0123456789abcdef';


/** Current resident memory (VmRSS) of a live process, in MB. Linux only. */
export function rssMb(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]) / 1024;
}

/** Samples a process's RSS every 20 ms while `work` runs; resolves with the work's result and the peak. */
export async function withPeakRss<T>(pid: number, work: () => Promise<T>): Promise<{ result: T; peakMb: number }> {
  let peak = rssMb(pid);
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, rssMb(pid));
    } catch {
      // the process ended
    }
  }, 20);
  try {
    const result = await work();
    peak = Math.max(peak, rssMb(pid));
    return { result, peakMb: peak };
  } finally {
    clearInterval(timer);
  }
}

/** Peak resident memory (VmHWM) of a live process since it started, in MB. Linux only. */
export function peakRssMb(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1]) / 1024;
}

/** CPU seconds (user + system, every thread) a process has used so far. Linux only. */
export function cpuSecondsOf(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

export interface BenchServer {
  url: string;
  proc: ChildProcess;
  dataDir: string;
  stop(): Promise<void>;
}

/**
 * The command that runs `command args` at scheduling priority `nice` (when given): through
 * coreutils' `nice`, which then executes it in its own place (same pid), so every thread the
 * program starts, from its first, has that priority.
 */
export function niced(nice: number | undefined, command: string, args: string[]): [string, string[]] {
  return nice === undefined ? [command, args] : ['nice', ['-n', String(nice), command, ...args]];
}

/**
 * A fresh Darkroom server as its own process (so its memory is its own), in a new data dir;
 * `nice`: at that scheduling priority (see render.bench.ts for why).
 */
export async function startDarkroom(args: string[] = [], options: { nice?: number } = {}): Promise<BenchServer> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-bench-'));
  const proc = spawn(
    ...niced(
      options.nice,
      process.execPath,
      // Node's flags and environment as `npm run serve` starts Darkroom: part of how it runs.
      [...ENGINE_NODE_FLAGS, path.join(ROOT, 'bin/darkroom.js'), 'serve', '--data-dir', dataDir, '--port', '0', '--admin-key', BENCH_KEY, '--log-level', 'warn', '--min-free-bytes', '100MB', ...args],
    ),
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...ENGINE_ENV } },
  );
  const url = await readyLine(proc, /darkroom listening on (\S+)/);
  return {
    url,
    proc,
    dataDir,
    async stop() {
      proc.kill('SIGTERM');
      await new Promise((r) => proc.once('exit', r));
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * A bare Node server doing an upload's work and nothing more (no hashing, no checks, no
 * database): it pipes the request into a file and, as Darkroom does before its 202
 * (docs/security.md, "What a 202 promises"), flushes the file and its folder before answering.
 * The cost of the HTTP transport plus a durable write: an informative row beside `cp`.
 */
export async function startBarePipeServer(): Promise<BenchServer> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-bench-pipe-'));
  const script = `
    const http = require('node:http'), fs = require('node:fs'), path = require('node:path');
    const dir = ${JSON.stringify(dataDir)};
    let n = 0;
    const server = http.createServer((req, res) => {
      const out = fs.createWriteStream(path.join(dir, String(n++)));
      req.pipe(out);
      out.on('open', (fd) => {
        out.on('finish', () => {
          fs.fsyncSync(fd);
          const dirFd = fs.openSync(dir, 'r');
          fs.fsyncSync(dirFd);
          fs.closeSync(dirFd);
          res.writeHead(201);
          res.end();
        });
      });
    });
    server.requestTimeout = 0;
    server.listen(0, '127.0.0.1', () => console.log('listening on http://127.0.0.1:' + server.address().port));
  `;
  const proc = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await readyLine(proc, /listening on (\S+)/);
  return {
    url,
    proc,
    dataDir,
    async stop() {
      proc.kill('SIGKILL');
      await new Promise((r) => proc.once('exit', r));
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

function readyLine(proc: ChildProcess, pattern: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const m = pattern.exec(out);
      if (m) {
        proc.stdout!.off('data', onData);
        proc.stdout!.resume();
        resolve(m[1]!);
      }
    };
    proc.stdout!.on('data', onData);
    proc.once('exit', (code) => reject(new Error(`process exited (${code}) before it was ready: ${out}`)));
  });
}

/** Runs a command and resolves with its stdout; rejects on a non-zero exit. */
export function runCommand(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    proc.stdout.on('data', (c: Buffer) => (out += c.toString()));
    proc.stderr.on('data', (c: Buffer) => (err += c.toString()));
    proc.on('error', reject);
    proc.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} exited ${code}: ${err}`))));
  });
}

/**
 * Waits until every id is done (throws if one failed) and returns when the last of them was
 * finished, by the server's own `processedAt` (ms since the epoch): timings end there, not at
 * the poll that noticed, which comes up to 200 ms later. One list request every 200 ms, not one
 * request per image: polling must not become load of its own on the server being measured.
 */
export async function waitAllDone(url: string, ids: string[], timeoutMs = 30 * 60_000): Promise<number> {
  const pending = new Set(ids);
  let lastProcessedAt = 0;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let cursor: string | null = null;
    do {
      const res = await fetch(`${url}/v1/images?limit=500${cursor ? `&cursor=${cursor}` : ''}`, { headers: { authorization: `Bearer ${BENCH_KEY}` } });
      const page = (await res.json()) as {
        items: Array<{ id: string; status: string; processedAt: string | null; error?: { message: string } }>;
        nextCursor: string | null;
      };
      for (const item of page.items) {
        if (!pending.has(item.id)) continue;
        if (item.status === 'failed') throw new Error(`image ${item.id} failed: ${item.error?.message}`);
        if (item.status === 'done') {
          pending.delete(item.id);
          lastProcessedAt = Math.max(lastProcessedAt, Date.parse(item.processedAt!));
        }
      }
      cursor = page.nextCursor;
    } while (cursor && pending.size);
    if (!pending.size) return lastProcessedAt;
    if (Date.now() > deadline) throw new Error(`${pending.size} images not done in time`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * POSTs a file as a raw body and returns the image id. With node:http and a piped file stream,
 * the lightest client Node has: the client shares the machine's cores with the server being
 * measured, and with fetch it took a quarter more CPU (0.5 s against 0.4 s per 24 photos).
 */
export function uploadFile(url: string, file: string, filename = path.basename(file)): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}/v1/image`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${BENCH_KEY}`,
        'content-type': 'application/octet-stream',
        'content-length': String(fs.statSync(file).size),
        'x-filename': filename,
      },
    });
    req.on('error', reject);
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('error', reject);
      res.on('end', () => {
        const body = JSON.parse(text) as { id: string; error?: { message: string } };
        if (res.statusCode !== 202) reject(new Error(`upload of ${file} answered ${res.statusCode}: ${body.error?.message}`));
        else resolve(body.id);
      });
    });
    fs.createReadStream(file).on('error', reject).pipe(req);
  });
}
