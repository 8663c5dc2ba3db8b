import os from 'node:os';
import path from 'node:path';
import envPaths from 'env-paths';
import ms from 'ms';
import bytes from 'bytes-iec';
import cron from 'node-cron';
import { z } from 'zod';
import { watchPathProblem } from './watch/folder-rules.js';

/**
 * Every server option, described once. The CLI turns each entry into a flag, the env reader
 * into `DARKROOM_<NAME>`, and the README's options table documents the same list.
 */
export const OPTION_SPECS = [
  { key: 'host', flag: 'host', arg: 'addr', help: 'bind address; LAN use is opt-in (0.0.0.0)', default: '127.0.0.1' },
  { key: 'port', flag: 'port', arg: 'n', help: '0 picks a free port', default: '7410' },
  { key: 'dataDir', flag: 'data-dir', arg: 'dir', help: 'originals, processed files, SQLite database', default: '(OS per-user data folder)' },
  { key: 'workers', flag: 'workers', arg: 'n', help: 'processing threads', default: '(number of CPUs)' },
  { key: 'processedTtl', flag: 'processed-ttl', arg: 'duration', help: 'lifetime of processed files (30s, 10m, 7d …)', default: '7d' },
  { key: 'purgeSchedule', flag: 'purge-schedule', arg: 'cron', help: 'node-cron expression for the purge; seconds field allowed', default: '*/10 * * * *' },
  { key: 'maxUploadBytes', flag: 'max-upload-bytes', arg: 'size', help: 'larger uploads get 413 (10GiB, 500MB …)', default: '10GiB' },
  { key: 'maxInputPixels', flag: 'max-input-pixels', arg: 'n', help: 'width×height from the header; larger gets 422 before decoding', default: '1000000000' },
  { key: 'adminKey', flag: 'admin-key', arg: 'key', help: 'make sure this key exists as an admin key', default: undefined },
  { key: 'watch', flag: 'watch', arg: 'dir', help: 'watch folder, repeatable', default: undefined, repeatable: true },
  { key: 'storage', flag: 'storage', arg: 'kind', help: 'local: originals and processed files in --data-dir (synced to --s3-bucket when set); s3: the --s3-bucket is where they are kept, --data-dir holds only the database and temporary files', default: 'local' },
  { key: 's3Bucket', flag: 's3-bucket', arg: 'name', help: 'S3 sync bucket (off when unset), or with --storage s3 the store itself', default: undefined },
  { key: 's3Prefix', flag: 's3-prefix', arg: 'prefix', help: 'key prefix inside the bucket', default: '' },
  { key: 's3Endpoint', flag: 's3-endpoint', arg: 'url', help: 'S3-compatible endpoint (MinIO, R2 …)', default: undefined },
  { key: 's3Region', flag: 's3-region', arg: 'region', help: 'bucket region', default: 'us-east-1' },
  { key: 's3ForcePathStyle', flag: 's3-force-path-style', arg: 'bool', help: 'path-style bucket addressing', default: 'false' },
  { key: 'localOriginalsMaxBytes', flag: 'local-originals-max-bytes', arg: 'size', help: 'with --s3-bucket: keep at most this much of the synced originals on local disk (least recently used leave first)', default: undefined },
  { key: 'maxQueuedJobs', flag: 'max-queued-jobs', arg: 'n', help: 'uploads get 429 while more jobs than this wait', default: '10000' },
  { key: 'minFreeBytes', flag: 'min-free-bytes', arg: 'size', help: 'free disk kept in reserve; uploads that would cross it get 507', default: '1GiB' },
  { key: 'jobMaxAttempts', flag: 'job-max-attempts', arg: 'n', help: 'attempts before a job is given up', default: '5' },
  { key: 'jobTimeout', flag: 'job-timeout', arg: 'duration', help: 'a job running longer is stopped and retried; after its last attempt the image fails with processing_timeout', default: '10m' },
  { key: 'renderWait', flag: 'render-wait', arg: 'duration', help: 'a render that waits longer than this for a worker (or for an identical render on another node) is answered 503 with Retry-After', default: '30s' },
  { key: 'maxOutputPixels', flag: 'max-output-pixels', arg: 'n', help: 'largest variant or render (width×height; WebP at most 16000000, AVIF 12000000); requests over it, or over 8192 pixels a side, get 400', default: '40000000' },
  { key: 'headersTimeout', flag: 'headers-timeout', arg: 'duration', help: 'request headers must arrive within this (and a non-upload body as long again after them), or 408', default: '20s' },
  { key: 'idleTimeout', flag: 'idle-timeout', arg: 'duration', help: 'a connection whose client sends and takes nothing for this long is closed; a stalled upload is aborted', default: '60s' },
  { key: 'maxConnections', flag: 'max-connections', arg: 'n', help: 'open connections at most; more are refused until some close', default: '1000' },
  { key: 'maxConnectionsPerAddress', flag: 'max-connections-per-address', arg: 'n', help: 'open connections at most from one address (an IPv6 /64); this machine is not counted', default: '100' },
  { key: 'maxUploadsPerKey', flag: 'max-uploads-per-key', arg: 'n', help: 'uploads one API key may have in flight at once; more get 429', default: '20' },
  { key: 'rateLimit', flag: 'rate-limit', arg: 'n', help: 'requests per second per API key; more get 429 (off when unset)', default: undefined },
  { key: 'allowedHosts', flag: 'allowed-hosts', arg: 'names', help: 'while bound to loopback: Host names accepted besides localhost, 127.0.0.1 and [::1] (comma-separated)', default: undefined },
  { key: 'databaseUrl', flag: 'database-url', arg: 'url', help: 'PostgreSQL (postgres://user:pass@host:port/db, version 14 or later) instead of the SQLite database in the data dir; the schema is created and migrated at start', default: undefined },
  { key: 'databasePoolSize', flag: 'database-pool-size', arg: 'n', help: 'with --database-url: connections this process keeps open at most', default: '10' },
  { key: 'databaseStatementTimeout', flag: 'database-statement-timeout', arg: 'duration', help: 'with --database-url: a statement (or a wait for a lock) taking longer is cancelled and answered 503', default: '15s' },
  { key: 'databaseConnectTimeout', flag: 'database-connect-timeout', arg: 'duration', help: 'with --database-url: how long to wait for a connection before answering 503', default: '5s' },
  { key: 'fsync', flag: 'fsync', arg: 'bool', help: 'answer 202 only once the original is on stable storage; false trades that for speed', default: 'true' },
  { key: 'webhookTimeout', flag: 'webhook-timeout', arg: 'duration', help: 'a webhook receiver must answer 2xx within this, or the message is retried', default: '10s' },
  { key: 'webhookRetrySchedule', flag: 'webhook-retry-schedule', arg: 'durations', help: 'waits before each retry of an undelivered webhook message, jittered (comma-separated); after the last it is failed', default: '5s,5m,30m,2h,5h,10h,10h' },
  { key: 'webhookAllowPrivate', flag: 'webhook-allow-private', arg: 'bool', help: 'let webhooks reach loopback, private, link-local and unique-local addresses (LAN and desktop use, tests)', default: 'false' },
  { key: 'urlSigningKeys', flag: 'url-signing-keys', arg: 'keys', help: 'keys that sign links (POST /v1/image/{id}/links), comma-separated, each at least 32 characters: the first signs, all verify (rotation); without it a key is generated once and kept in the database', default: undefined },
  { key: 'publicUrl', flag: 'public-url', arg: 'url', help: 'the address clients reach this server at (https://img.example.com), for the absolute URLs of signed links; without it, the request\'s protocol and Host', default: undefined },
  { key: 'nodeId', flag: 'node-id', arg: 'id', help: 'this node\'s name in logs, /readyz, /metrics and GET /v1/nodes', default: '(host name + pid)' },
  { key: 'logLevel', flag: 'log-level', arg: 'level', help: 'fatal, error, warn, info, debug, trace, silent', default: 'info' },
] as const;

export type OptionKey = (typeof OPTION_SPECS)[number]['key'];

export function envName(flag: string): string {
  return `DARKROOM_${flag.toUpperCase().replace(/-/g, '_')}`;
}

/** Shortest key --url-signing-keys accepts, in characters. */
export const MIN_SIGNING_KEY_LENGTH = 32;

const duration = z.string().transform((value, ctx) => {
  const parsed = ms(value as ms.StringValue);
  if (typeof parsed !== 'number' || !Number.isFinite(parsed) || parsed <= 0) {
    ctx.addIssue({ code: 'custom', message: `expected a duration like 30s, 10m or 7d, got "${value}"` });
    return z.NEVER;
  }
  return parsed;
});

/** A comma-separated list of durations (`5s,5m,30m`), at least one. */
const durations = z.string().transform((value, ctx) => {
  const steps = value.split(',').map((v) => v.trim()).filter(Boolean);
  const parsed = steps.map((v) => ms(v as ms.StringValue));
  if (!steps.length || steps.length > 50 || parsed.some((p) => typeof p !== 'number' || !Number.isFinite(p) || p <= 0)) {
    ctx.addIssue({ code: 'custom', message: `expected durations separated by commas, like 5s,5m,30m (at most 50), got "${value}"` });
    return z.NEVER;
  }
  return parsed;
});

const size = z.string().transform((value, ctx) => {
  const parsed = bytes.parse(value);
  if (parsed === null || !Number.isFinite(parsed) || parsed < 0) {
    ctx.addIssue({ code: 'custom', message: `expected a size like 500MB or 10GiB, got "${value}"` });
    return z.NEVER;
  }
  return parsed;
});

const integer = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.string().transform((value, ctx) => {
    const parsed = Number(value);
    if (!/^\d+$/.test(value.trim()) || parsed < min || parsed > max) {
      ctx.addIssue({ code: 'custom', message: `expected a whole number from ${min} to ${max}, got "${value}"` });
      return z.NEVER;
    }
    return parsed;
  });

const boolean = z.string().transform((value, ctx) => {
  const v = value.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off', ''].includes(v)) return false;
  ctx.addIssue({ code: 'custom', message: `expected true or false, got "${value}"` });
  return z.NEVER;
});

const cronExpression = z.string().refine((value) => cron.validate(value), {
  message: 'expected a cron expression like "*/10 * * * *" (a leading seconds field is allowed)',
});

const ConfigSchema = z.object({
  host: z.string().min(1),
  port: integer(0, 65535),
  dataDir: z.string().min(1).transform((p) => path.resolve(p)),
  workers: integer(1, 256),
  processedTtl: duration,
  purgeSchedule: cronExpression,
  maxUploadBytes: size,
  maxInputPixels: integer(1),
  adminKey: z.string().min(16, 'must be at least 16 characters').optional(),
  watch: z.array(z.string().min(1).transform((p) => path.resolve(p))).default([]),
  storage: z.enum(['local', 's3'], { message: 'expected local or s3' }),
  s3Bucket: z.string().min(1).optional(),
  s3Prefix: z.string().transform((p) => p.replace(/^\/+|\/+$/g, '')),
  s3Endpoint: z.url().optional(),
  s3Region: z.string().min(1),
  s3ForcePathStyle: boolean,
  localOriginalsMaxBytes: size.optional(),
  maxQueuedJobs: integer(1),
  minFreeBytes: size,
  jobMaxAttempts: integer(1, 100),
  jobTimeout: duration,
  renderWait: duration,
  maxOutputPixels: integer(1),
  headersTimeout: duration,
  idleTimeout: duration,
  maxConnections: integer(1),
  maxConnectionsPerAddress: integer(1),
  maxUploadsPerKey: integer(1),
  rateLimit: integer(1).optional(),
  allowedHosts: z
    .string()
    .transform((list) => list.split(',').map((h) => h.trim().toLowerCase()).filter(Boolean))
    .default([]),
  databaseUrl: z
    .string()
    .regex(/^postgres(ql)?:\/\/./, 'expected a PostgreSQL URL like postgres://user:pass@host:5432/darkroom')
    .optional(),
  databasePoolSize: integer(1, 1000),
  databaseStatementTimeout: duration,
  databaseConnectTimeout: duration,
  fsync: boolean,
  webhookTimeout: duration,
  webhookRetrySchedule: durations,
  webhookAllowPrivate: boolean,
  urlSigningKeys: z
    .string()
    .transform((list, ctx) => {
      const keys = list.split(',').map((k) => k.trim()).filter(Boolean);
      if (!keys.length) {
        ctx.addIssue({ code: 'custom', message: 'give at least one key (comma-separated)' });
        return z.NEVER;
      }
      // The key is the whole secret of every link: a short one can be guessed offline from one
      // link (HMAC-SHA256 is fast). 32 characters is 192 bits as base64, 128 as hex. The key
      // itself is never echoed.
      const short = keys.findIndex((k) => k.length < MIN_SIGNING_KEY_LENGTH);
      if (short >= 0) {
        ctx.addIssue({ code: 'custom', message: `key ${short + 1} of ${keys.length} is ${keys[short]!.length} characters; each must be at least ${MIN_SIGNING_KEY_LENGTH} (e.g. openssl rand -base64 32)` });
        return z.NEVER;
      }
      return keys;
    })
    .optional(),
  publicUrl: z
    .url({ protocol: /^https?$/, message: 'expected an http or https URL like https://img.example.com' })
    .transform((u) => u.replace(/\/+$/, ''))
    .refine((u) => !/[?#]/.test(u), 'expected a URL without a query or fragment')
    .optional(),
  nodeId: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/, 'expected 1–128 letters, digits, ".", "_", ":", "@" or "-", starting with a letter or digit'),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
}).superRefine((config, ctx) => {
  for (const folder of config.watch) {
    const problem = watchPathProblem(folder, config.dataDir);
    if (problem) ctx.addIssue({ code: 'custom', path: ['watch'], message: `${folder} ${problem}` });
  }
  if (config.storage === 's3') {
    if (!config.s3Bucket) ctx.addIssue({ code: 'custom', path: ['storage'], message: 's3 needs --s3-bucket (and the other --s3-* options the bucket needs)' });
    // Nothing is kept locally to sync or to evict: the bucket is the store.
    if (config.localOriginalsMaxBytes !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['localOriginalsMaxBytes'], message: 'has no use with --storage s3 (originals are kept in the bucket only, nothing local to limit)' });
    }
  }
  // Evicted originals come back from the bucket; without one, evicting would lose them.
  if (config.localOriginalsMaxBytes !== undefined && !config.s3Bucket) {
    ctx.addIssue({ code: 'custom', path: ['localOriginalsMaxBytes'], message: 'needs --s3-bucket (evicted originals are fetched back from the bucket)' });
  }
});

export type Config = z.output<typeof ConfigSchema>;
export type RawConfig = Partial<Record<OptionKey, string | string[]>>;

export class ConfigError extends Error {}

function defaultDataDir(): string {
  return envPaths('darkroom', { suffix: '' }).data;
}

/**
 * Host name and pid: unique among the processes of one machine, and among machines as far as
 * their host names are. A restart gets a new id (a new pid): the registry shows the old
 * process as stopped (or unreachable, after a crash) and the new one as up.
 */
function defaultNodeId(): string {
  const host = os.hostname().replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 100) || 'node';
  return `${host}-${process.pid}`;
}

/** Reads `DARKROOM_*` variables for every option. The only place that reads process.env for config. */
export function readEnv(env: NodeJS.ProcessEnv): RawConfig {
  const raw: RawConfig = {};
  for (const spec of OPTION_SPECS) {
    const value = env[envName(spec.flag)];
    if (value === undefined) continue;
    // A repeatable option in env is a list separated by the platform path delimiter, like PATH.
    raw[spec.key] = 'repeatable' in spec && spec.repeatable ? value.split(path.delimiter).filter(Boolean) : value;
  }
  return raw;
}

/**
 * Parses the merged options (flags override env, env overrides defaults) once at start-up.
 * Throws ConfigError with a one-line message naming the option.
 */
export function parseConfig(...sources: RawConfig[]): Config {
  const merged: Record<string, unknown> = {
    dataDir: defaultDataDir(),
    workers: String(Math.max(1, os.availableParallelism())),
    nodeId: defaultNodeId(),
  };
  for (const spec of OPTION_SPECS) {
    if (spec.default !== undefined && !spec.default.startsWith('(')) merged[spec.key] = spec.default;
  }
  for (const source of sources) {
    for (const [key, value] of Object.entries(source)) if (value !== undefined) merged[key] = value;
  }
  const result = ConfigSchema.safeParse(merged);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const key = String(issue.path[0] ?? '');
    const spec = OPTION_SPECS.find((s) => s.key === key);
    const name = spec ? `--${spec.flag}` : key;
    throw new ConfigError(`invalid ${name}: ${issue.message}`);
  }
  return result.data;
}
