import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll } from 'vitest';
import type { Role } from '../../server/api/index.js';
import { parseConfig, type RawConfig } from '../../server/config.js';
import { startServer, type RunningServer, type StartOptions } from '../../server/main.js';
import type { Clock } from '../../server/util/clock.js';
import { answerLog } from './answer-log.js';
import { privatePostgres } from './postgres.js';

export const ADMIN_KEY = 'drk_test_admin_key_0123456789abcdef';

export function tempDir(prefix = 'darkroom-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Temp folders for one test file, removed after its last test: `const dir = tempDirs('darkroom-x-')`. */
export function tempDirs(prefix: string): (otherPrefix?: string) => string {
  const made: string[] = [];
  afterAll(() => {
    for (const d of made) fs.rmSync(d, { recursive: true, force: true });
  });
  return (otherPrefix = prefix) => {
    const d = tempDir(otherPrefix);
    made.push(d);
    return d;
  };
}

const postgresOfDataDir = new Map<string, string>();

export interface TestServer {
  url: string;
  dataDir: string;
  server: RunningServer;
  admin: ApiClient;
  close(): Promise<void>;
  /** A new key of this role for this customer, with a client using it. */
  client(role: Role, customer: string): Promise<ApiClient>;
}

/** A real server (real SQLite, real worker pool, real HTTP on port 0) in a temp data dir. */
export async function startTestServer(
  options: { config?: RawConfig; clock?: Clock; dataDir?: string; start?: Pick<StartOptions, 's3' | 'watchTiming'> } = {},
): Promise<TestServer> {
  const dataDir = options.dataDir ?? tempDir();
  // DARKROOM_TEST_DATABASE=postgres runs the test servers on a private PostgreSQL (a fresh
  // database each) instead of SQLite: the same integration tests against the other adapter.
  // Tests that look under the port at the SQLite file (`parts.db`) are SQLite's alone.
  // A server started again on the same data dir (a restart) finds the same database.
  const onPostgres = process.env.DARKROOM_TEST_DATABASE === 'postgres' && !options.config?.databaseUrl;
  let databaseUrl = onPostgres ? postgresOfDataDir.get(dataDir) : undefined;
  if (onPostgres && !databaseUrl) {
    const pg = await privatePostgres();
    postgresOfDataDir.set(dataDir, (databaseUrl = pg.url(await pg.createDatabase())));
  }
  const config = parseConfig({
    ...(databaseUrl ? { databaseUrl } : {}),
    dataDir,
    port: '0',
    workers: '2',
    adminKey: ADMIN_KEY,
    logLevel: 'silent',
    minFreeBytes: '1MB',
    ...options.config,
  });
  // Every answer is also checked against its API schema and the OpenAPI document, and noted for
  // the end of the run (answer-log.ts).
  const server = await startServer(config, {
    checkAnswers: answerLog(),
    ...options.start,
    clock: options.clock,
    logger: pino({ level: 'silent' }),
    print: () => {},
  });
  const admin = new ApiClient(server.url, ADMIN_KEY);
  return {
    url: server.url,
    dataDir,
    server,
    admin,
    close: () => server.close(),
    async client(role, customer) {
      const res = await admin.json('POST', '/v1/keys', { customer, role });
      if (res.status !== 201) throw new Error(`could not create key: ${JSON.stringify(res.body)}`);
      return new ApiClient(server.url, (res.body as { key: string }).key);
    },
  };
}

export interface JsonResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

/** A small client over fetch for the tests: every call is a real HTTP request. */
export class ApiClient {
  constructor(
    readonly url: string,
    readonly key: string | undefined,
  ) {}

  headers(extra: Record<string, string> = {}): Record<string, string> {
    return this.key ? { authorization: `Bearer ${this.key}`, ...extra } : extra;
  }

  async request(method: string, pathname: string, init: RequestInit = {}): Promise<Response> {
    return fetch(this.url + pathname, {
      ...init,
      method,
      headers: { ...this.headers(), ...(init.headers as Record<string, string> | undefined) },
    });
  }

  async json<T = any>(method: string, pathname: string, body?: unknown): Promise<JsonResponse<T>> {
    const res = await this.request(method, pathname, {
      body: body === undefined ? undefined : JSON.stringify(body),
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
  }

  /** multipart/form-data upload of one or more files. */
  async upload(files: Array<{ name: string; data: Buffer | Uint8Array; type?: string }>, fields: Record<string, string> = {}, query = '') {
    const form = new FormData();
    for (const [k, v] of Object.entries(fields)) form.append(k, v);
    for (const f of files) form.append('image', new Blob([f.data], { type: f.type ?? 'application/octet-stream' }), f.name);
    const res = await this.request('POST', `/v1/image${query}`, { body: form });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined } as JsonResponse;
  }

  /** Raw-body upload, like `curl -T`. */
  async uploadRaw(data: Buffer | Uint8Array, filename: string, contentType = 'application/octet-stream') {
    const res = await this.request('POST', '/v1/image', {
      body: data,
      headers: { 'content-type': contentType, 'x-filename': encodeURIComponent(filename) },
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined } as JsonResponse;
  }

  async download(id: string, variant?: string, headers: Record<string, string> = {}) {
    const res = await this.request('GET', `/v1/image/${id}/download${variant ? `?variant=${variant}` : ''}`, { headers });
    return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
  }

  /** Polls the image until it reaches one of the final states. */
  async waitFor(id: string, statuses: string[] = ['done', 'failed'], timeoutMs = 60_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const res = await this.json('GET', `/v1/image/${id}`);
      if (res.status !== 200) throw new Error(`GET image ${id}: ${res.status} ${JSON.stringify(res.body)}`);
      if (statuses.includes(res.body.status)) return res.body;
      if (Date.now() > deadline) throw new Error(`image ${id} stuck in ${res.body.status}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** Every file under a folder, relative paths, sorted. */
export function listFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  const out: string[] = [];
  const walk = (d: string) => {
    for (const entry of fs.readdirSync(d, { withFileTypes: true })) {
      const full = path.join(d, entry.name);
      if (entry.isDirectory()) walk(full);
      else out.push(path.relative(dir, full));
    }
  };
  walk(dir);
  return out.sort();
}
