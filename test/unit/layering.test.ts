import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/child.js';
import { tempDirs } from '../helpers/server.js';

/**
 * The layering check that `npm test` runs first (`npm run lint:deps`: dependency-cruiser with
 * .dependency-cruiser.mjs), run the same way on small trees laid out like the project: one that
 * keeps every rule, and the same tree with one broken import per rule. So the check is known to
 * fail when the code breaks a rule, not only to pass on code that keeps them.
 */

const LINT_DEPS: string = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).scripts['lint:deps'];
const tempDir = tempDirs('darkroom-layering-');

/** A tree that keeps the layering: each layer importing only what it may. */
const LAYERED: Record<string, string> = {
  'server/main.ts': `import { createRoutes } from './http/routes.js';\nexport const app = createRoutes();\n`,
  'server/errors.ts': `export class AppError extends Error {}\n`,
  'server/http/routes.ts':
    `import express from 'express';\nimport { listImages } from '../services/images.service.js';\n` +
    `export const createRoutes = () => express().get('/', (_req, res) => void res.json(listImages()));\n`,
  'server/services/images.service.ts':
    `import { queuedJobs } from '../db/jobs.repo.js';\nimport { now } from '../util/clock.js';\n` +
    `export const listImages = () => ({ at: now(), images: queuedJobs() });\n`,
  'server/db/jobs.repo.ts': `export const queuedJobs = () => [];\n`,
  'server/db/sqlite/connection.ts': `import Database from 'better-sqlite3';\nexport const openDatabase = (file: string) => new Database(file);\n`,
  'server/db/keys.repo.ts': `export const findKey = (id: string) => id;\n`,
  'server/db/sqlite/adapter.ts': `import Database from 'better-sqlite3';\nimport { findKey } from '../keys.repo.js';\nexport const open = (file: string) => [new Database(file), findKey];\n`,
  'server/jobs/runner.ts': `import { listImages } from '../services/images.service.js';\nexport const run = () => listImages();\n`,
  'server/sync/s3-sync.ts': `import { bucket } from '../storage/s3/bucket.js';\nexport const sync = () => bucket;\n`,
  'server/storage/s3/bucket.ts': `import { S3Client } from '@aws-sdk/client-s3';\nexport const bucket = () => new S3Client({});\n`,
  'server/storage/blob-store.ts': `export interface BlobStore { stat(key: string): Promise<unknown> }\n`,
  'server/storage/fs/fs-blob-store.ts': `import type { BlobStore } from '../blob-store.js';\nexport const createFsBlobStore = (): BlobStore => ({ stat: async () => undefined });\n`,
  'server/storage/upload-parts.ts': `export interface UploadPartStore { stat(key: string): Promise<unknown> }\n`,
  'server/http/tus/data-store.ts':
    `import { DataStore } from '@tus/server';\nimport type { UploadPartStore } from '../../storage/upload-parts.js';\n` +
    `export const store = (parts: UploadPartStore) => [new DataStore(), parts];\n`,
  'server/jobs/store-user.ts': `import type { BlobStore } from '../storage/blob-store.js';\nexport const sizeOf = (store: BlobStore) => store.stat('originals/x');\n`,
  'server/cli.ts':
    `import { open } from './db/sqlite/adapter.js';\nimport { createFsBlobStore } from './storage/fs/fs-blob-store.js';\n` +
    `export const run = () => open(':memory:');\nexport const store = createFsBlobStore();\n`,
  'server/util/clock.ts': `export const now = () => Date.now();\n`,
  'server/api/schemas.ts':
    `import { z } from 'zod';\nimport { MAX_SIDE } from './caps.js';\n` +
    `export const ImageView = z.object({ id: z.string(), width: z.number().max(MAX_SIDE) });\nexport type ImageView = z.infer<typeof ImageView>;\n`,
  'server/api/caps.ts': `export const MAX_SIDE = 8192;\n`,
  'workers/output-caps.ts': `import { MAX_SIDE } from '../server/api/caps.js';\nexport const clamp = (side: number) => Math.min(side, MAX_SIDE);\n`,
  'workers/pipeline.ts': `import sharp from 'sharp';\nexport const decode = (file: string) => sharp(file);\n`,
  'electron/bridge.ts': `export interface DarkroomDesktopBridge { chooseFolder(): Promise<string | null> }\n`,
  'electron/main.ts': `import { app } from 'electron';\nexport const quit = () => app.quit();\n`,
  'renderer/src/client.ts': `import type { ImageView } from '../../server/api/schemas.js';\nexport const ids = (v: ImageView[]) => v.map((i) => i.id);\n`,
  'renderer/src/desktop.ts': `import type { DarkroomDesktopBridge } from '../../electron/bridge';\nexport const bridge = (): DarkroomDesktopBridge | undefined => undefined;\n`,
  'bench/run.ts': `import { listImages } from '../server/services/images.service.js';\nlistImages();\n`,
};

/** One broken import (or more) per rule, added to the layered tree. */
const BROKEN: Record<string, string> = {
  'workers/leaky.ts': `import { now } from '../server/util/clock.js';\nimport Database from 'better-sqlite3';\nexport const open = () => new Database(String(now()));\n`,
  'server/services/upload.service.ts':
    `import type { IncomingMessage } from 'node:http';\nimport { Server } from '@tus/server';\nimport sharp from 'sharp';\n` +
    `import { createRoutes } from '../http/routes.js';\nimport { sync } from '../sync/s3-sync.js';\n` +
    `export const all = (req: IncomingMessage) => [req, Server, sharp, createRoutes, sync];\n`,
  'server/db/stats.repo.ts': `import { listImages } from '../services/images.service.js';\nexport const count = () => listImages().images.length;\n`,
  'server/api/leaky.ts': `import fs from 'node:fs';\nimport { AppError } from '../errors.js';\nexport const all = [fs, AppError];\n`,
  'server/db/keys.repo.ts': `import Database from 'better-sqlite3';\nexport const findKey = (id: string) => new Database(id);\n`,
  'server/jobs/claim.ts': `import { open } from '../db/sqlite/adapter.js';\nexport const claim = () => open('jobs.db');\n`,
  'server/jobs/answer.ts': `import { createRoutes } from '../http/routes.js';\nexport const answer = createRoutes;\n`,
  'server/util/clock.ts': `import { AppError } from '../errors.js';\nexport const now = () => Date.now();\nexport const never = () => new AppError();\n`,
  'server/desktop.ts': `import type { DarkroomDesktopBridge } from '../electron/bridge.js';\nimport { app } from 'electron';\nexport const shell = (b: DarkroomDesktopBridge) => [b, app];\n`,
  'renderer/src/stats.ts': `import { queuedJobs } from '../../server/db/jobs.repo.js';\nexport const rows = queuedJobs;\n`,
  'renderer/src/menu.ts': `import { quit } from '../../electron/main.js';\nexport const close = quit;\n`,
  'server/sync/by-hand.ts':
    `import { S3Client } from '@aws-sdk/client-s3';\nimport { createFsBlobStore } from '../storage/fs/fs-blob-store.js';\n` +
    `export const both = () => [new S3Client({}), createFsBlobStore()];\n`,
  'server/storage/fs/fs-upload-parts.ts': `import { Upload } from '@tus/server';\nexport const record = (id: string) => new Upload({ id, offset: 0 });\n`,
  'server/http/tus/by-path.ts': `import { record } from '../../storage/fs/fs-upload-parts.js';\nexport const first = () => record('x');\n`,
  'server/jobs/a.ts': `import { b } from './b.js';\nexport const a = () => b();\n`,
  'server/jobs/b.ts': `import { a } from './a.js';\nimport { gone } from './missing.js';\nexport const b = (): unknown => [a, gone];\n`,
};

/** Lays out a tree with the project's rule set and its installed packages (for imports of libraries). */
function layTree(files: Record<string, string>): string {
  const dir = tempDir();
  for (const [file, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.writeFileSync(path.join(dir, file), text);
  }
  fs.copyFileSync(path.join(ROOT, '.dependency-cruiser.mjs'), path.join(dir, '.dependency-cruiser.mjs'));
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  return dir;
}

/** Runs `npm run lint:deps`'s command in a tree, as npm would (its packages' binaries on PATH). */
function lintDeps(dir: string): { status: number | null; output: string } {
  const run = spawnSync('sh', ['-c', LINT_DEPS], {
    cwd: dir,
    env: { ...process.env, PATH: `${path.join(ROOT, 'node_modules/.bin')}${path.delimiter}${process.env.PATH}` },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

/** The violations the err reporter lists, one `rule: from → to` per line (a cycle on one line). */
function violations(output: string): string[] {
  return output
    .replace(/ →\s*\n\s+/g, ' → ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.startsWith('error '))
    .map((line) => line.slice('error '.length));
}

describe('layering check (npm run lint:deps)', () => {
  it('passes a tree whose every import keeps the layering', () => {
    const { status, output } = lintDeps(layTree(LAYERED));
    expect(output).toContain('no dependency violations found');
    expect(status).toBe(0);
  });

  it('fails on an import that breaks a rule, naming the rule and the import', () => {
    const { status, output } = lintDeps(layTree({ ...LAYERED, ...BROKEN }));
    expect(status, output).not.toBe(0);
    const found = violations(output);
    const expected: Array<[rule: string, from: string, to: RegExp]> = [
      ['workers-import-no-server', 'workers/leaky.ts', /^server\/util\/clock\.ts$/],
      ['workers-import-no-database', 'workers/leaky.ts', /node_modules\/better-sqlite3\//],
      ['services-import-no-http', 'server/services/upload.service.ts', /^server\/http\/routes\.ts$/],
      ['services-import-no-http', 'server/services/upload.service.ts', /^(node:)?http$/],
      ['services-import-no-http', 'server/services/upload.service.ts', /node_modules\/@tus\/server\//],
      ['services-import-no-outside-system-client', 'server/services/upload.service.ts', /node_modules\/sharp\//],
      ['services-import-no-s3-or-watch-adapter', 'server/services/upload.service.ts', /^server\/sync\/s3-sync\.ts$/],
      ['db-and-storage-import-no-use-case', 'server/db/stats.repo.ts', /^server\/services\/images\.service\.ts$/],
      ['only-the-sqlite-adapter-imports-better-sqlite3', 'server/db/keys.repo.ts', /node_modules\/better-sqlite3\//],
      ['repositories-are-dialect-neutral', 'server/db/keys.repo.ts', /node_modules\/better-sqlite3\//],
      ['only-composition-roots-choose-the-database-adapter', 'server/jobs/claim.ts', /^server\/db\/sqlite\/adapter\.ts$/],
      ['only-http-imports-http', 'server/jobs/answer.ts', /^server\/http\/routes\.ts$/],
      ['util-is-a-leaf', 'server/util/clock.ts', /^server\/errors\.ts$/],
      ['api-schemas-are-a-leaf', 'server/api/leaky.ts', /^server\/errors\.ts$/],
      ['api-schemas-are-a-leaf', 'server/api/leaky.ts', /^(node:)?fs$/],
      ['server-imports-no-electron', 'server/desktop.ts', /^electron\/bridge\.ts$/],
      ['server-imports-no-electron', 'server/desktop.ts', /node_modules\/electron\//],
      ['renderer-imports-only-the-server-api', 'renderer/src/stats.ts', /^server\/db\/jobs\.repo\.ts$/],
      ['renderer-imports-only-the-desktop-bridge', 'renderer/src/menu.ts', /^electron\/main\.ts$/],
      ['only-the-s3-adapter-imports-the-aws-sdk', 'server/sync/by-hand.ts', /node_modules\/@aws-sdk\/client-s3\//],
      ['use-cases-see-the-blob-store-port-not-its-adapters', 'server/sync/by-hand.ts', /^server\/storage\/fs\/fs-blob-store\.ts$/],
      ['only-http-speaks-tus', 'server/services/upload.service.ts', /node_modules\/@tus\/server\//],
      ['only-http-speaks-tus', 'server/storage/fs/fs-upload-parts.ts', /node_modules\/@tus\/server\//],
      ['use-cases-see-the-blob-store-port-not-its-adapters', 'server/http/tus/by-path.ts', /^server\/storage\/fs\/fs-upload-parts\.ts$/],
      ['no-circular', 'server/jobs/(a|b).ts', /^server\/jobs\/(a|b)\.ts/],
      ['not-to-unresolvable', 'server/jobs/b.ts', /^\.\/missing\.js$/],
    ];
    for (const [rule, from, to] of expected) {
      const hit = found.some((v) => {
        const m = /^([\w-]+): (\S+) → (\S+)/.exec(v);
        return m?.[1] === rule && new RegExp(`^${from}$`).test(m[2]!) && to.test(m[3]!);
      });
      expect(hit, `${rule}: ${from} → ${to} not reported in:\n${output}`).toBe(true);
    }
    // What the rules allow stays allowed: the renderer's API schemas and desktop bridge, the API
    // schemas' zod, a worker taking a cap from the API, a route calling a use case, a job calling
    // a use case, the S3 adapter using the SDK, sync using the S3 adapter, a job using the blob
    // store port, the tus layer keeping uploads through the upload-parts port, the SQLite adapter
    // using its driver, and the CLI choosing the adapters.
    for (const allowed of [
      'renderer/src/client.ts',
      'renderer/src/desktop.ts',
      'server/api/schemas.ts',
      'workers/output-caps.ts',
      'server/http/routes.ts',
      'server/jobs/runner.ts',
      'server/storage/s3/bucket.ts',
      'server/sync/s3-sync.ts',
      'server/jobs/store-user.ts',
      'server/http/tus/data-store.ts',
      'server/db/sqlite/adapter.ts',
      'server/cli.ts',
    ]) {
      expect(found.filter((v) => v.includes(`: ${allowed} →`)), output).toEqual([]);
    }
  });
});
