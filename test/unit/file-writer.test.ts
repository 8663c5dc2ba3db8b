import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileWriteError, openHashedFile } from '../../server/storage/file-writer.js';
import { ROOT } from '../helpers/child.js';
import { tempDir } from '../helpers/server.js';
import { sha256 } from '../helpers/hash.js';

/** Random bytes cut into chunks of uneven sizes, as a socket delivers them. */
function unevenChunks(total: number, seed: number): Buffer[] {
  const chunks: Buffer[] = [];
  let left = total;
  let size = 1 + (seed % 7);
  while (left > 0) {
    const n = Math.min(left, size);
    chunks.push(crypto.randomBytes(n));
    left -= n;
    size = (size * 31 + 17) % (3 * 1024 * 1024) || 1; // from 1 byte to 3 MiB, crossing buffer edges
  }
  return chunks;
}


describe('the upload file writer (its own thread, real files)', () => {
  it('writes every byte in order and returns their sha256, for several files at once', async () => {
    const dir = tempDir();
    const inputs = [0, 1, 5 * 1024 * 1024 + 3, 12 * 1024 * 1024].map((size, i) => unevenChunks(size, i));
    const written = await Promise.all(
      inputs.map(async (chunks, i) => {
        const file = path.join(dir, `upload-${i}`);
        const expected = sha256(Buffer.concat(chunks));
        const writer = await openHashedFile(file);
        for (const chunk of chunks) {
          await writer.write(chunk);
          chunk.fill(0xee); // the writer copied it: the caller may reuse its chunk at once
        }
        return { file, expected, hash: await writer.finish() };
      }),
    );
    for (const { file, expected, hash } of written) {
      expect(hash).toBe(expected);
      expect(sha256(fs.readFileSync(file))).toBe(expected);
    }
  });

  it('keeps the bytes exactly as sent', async () => {
    const dir = tempDir();
    const body = crypto.randomBytes(9 * 1024 * 1024 + 123);
    const writer = await openHashedFile(path.join(dir, 'exact'));
    for (let at = 0; at < body.length; at += 65536) await writer.write(body.subarray(at, at + 65536));
    expect(await writer.finish()).toBe(sha256(body));
    expect(fs.readFileSync(path.join(dir, 'exact')).equals(body)).toBe(true);
  });

  it('abort removes the file, even with writes in flight', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'aborted');
    const writer = await openHashedFile(file);
    for (let i = 0; i < 6; i++) await writer.write(crypto.randomBytes(1024 * 1024));
    await writer.abort();
    expect(fs.existsSync(file)).toBe(false);
  });

  it('a file it cannot create is a FileWriteError with the system code', async () => {
    const missing = path.join(tempDir(), 'no-such-dir', 'upload');
    await expect(openHashedFile(missing)).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(openHashedFile(missing)).rejects.toBeInstanceOf(FileWriteError);
  });

  it('does not keep a process alive once its files are finished', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'then-exit');
    const writerModule = path.join(ROOT, 'dist/server/storage/file-writer.js');
    const script = `
      const { openHashedFile } = await import(${JSON.stringify(writerModule)});
      const writer = await openHashedFile(${JSON.stringify(file)});
      await writer.write(Buffer.from('bytes'));
      console.log(await writer.finish());
    `;
    fs.writeFileSync(path.join(dir, 'write-then-exit.mjs'), script);
    const child = spawn(process.execPath, [path.join(dir, 'write-then-exit.mjs')], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    const outcome = await Promise.race([exited, new Promise((resolve) => setTimeout(() => resolve('still running after 10 s'), 10_000))]);
    child.kill('SIGKILL');
    expect(outcome).toBe(0);
    expect(out.trim()).toBe(sha256(Buffer.from('bytes')));
  });
});
