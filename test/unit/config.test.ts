import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, OPTION_SPECS, envName, parseConfig, readEnv } from '../../server/config.js';
import { ROOT } from '../helpers/child.js';

describe('config', () => {
  it('has the contract defaults', () => {
    const c = parseConfig({ dataDir: '/tmp/x' });
    expect(c).toMatchObject({
      host: '127.0.0.1',
      port: 7410,
      processedTtl: 7 * 24 * 3600 * 1000,
      purgeSchedule: '*/10 * * * *',
      maxUploadBytes: 10 * 1024 ** 3,
      maxInputPixels: 1_000_000_000,
      watch: [],
      s3ForcePathStyle: false,
      storage: 'local',
    });
    expect(c.workers).toBeGreaterThanOrEqual(1);
    expect(parseConfig({}).dataDir).toMatch(/darkroom/);
  });

  it('has the webhook options of CONTRACT §11: time-out, retry schedule, private addresses refused', () => {
    expect(parseConfig({ dataDir: '/tmp/x' })).toMatchObject({
      webhookTimeout: 10_000,
      webhookRetrySchedule: [5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000],
      webhookAllowPrivate: false,
    });
    expect(parseConfig({ dataDir: '/tmp/x', webhookRetrySchedule: ' 1s, 2m ', webhookAllowPrivate: 'true' })).toMatchObject({
      webhookRetrySchedule: [1_000, 120_000],
      webhookAllowPrivate: true,
    });
    for (const bad of ['', '5s,,soon', '0s', 'never']) {
      expect(() => parseConfig({ dataDir: '/tmp/x', webhookRetrySchedule: bad })).toThrow(/invalid --webhook-retry-schedule: expected durations/);
    }
  });

  it('takes --url-signing-keys (each at least 32 characters, never echoed) and --public-url (http or https, no trailing slash)', () => {
    const a = 'a'.repeat(32);
    const b = 'b'.repeat(44);
    const defaults = parseConfig({ dataDir: '/tmp/x' });
    expect([defaults.urlSigningKeys, defaults.publicUrl]).toEqual([undefined, undefined]);
    expect(parseConfig({ dataDir: '/tmp/x', urlSigningKeys: `${a}, ${b}` }).urlSigningKeys).toEqual([a, b]);
    const short = 'short-secret-key';
    expect(() => parseConfig({ dataDir: '/tmp/x', urlSigningKeys: `${a},${short}` })).toThrow(
      new ConfigError(`invalid --url-signing-keys: key 2 of 2 is ${short.length} characters; each must be at least 32 (e.g. openssl rand -base64 32)`),
    );
    expect(() => parseConfig({ dataDir: '/tmp/x', urlSigningKeys: ' , ' })).toThrow(/invalid --url-signing-keys: give at least one key/);
    expect(parseConfig({ dataDir: '/tmp/x', publicUrl: 'https://img.example.com/' }).publicUrl).toBe('https://img.example.com');
    expect(parseConfig({ dataDir: '/tmp/x', publicUrl: 'https://example.com/darkroom' }).publicUrl).toBe('https://example.com/darkroom');
    expect(() => parseConfig({ dataDir: '/tmp/x', publicUrl: 'ftp://example.com' })).toThrow(/invalid --public-url: expected an http or https URL/);
    expect(() => parseConfig({ dataDir: '/tmp/x', publicUrl: 'https://example.com/?a=1' })).toThrow(/invalid --public-url: expected a URL without a query/);
  });

  it('has the limits of CONTRACT §13 and §14 by default', () => {
    expect(parseConfig({ dataDir: '/tmp/x' })).toMatchObject({
      headersTimeout: 20_000,
      idleTimeout: 60_000,
      jobTimeout: 600_000,
      maxOutputPixels: 40_000_000,
      allowedHosts: [],
      fsync: true,
    });
    expect(parseConfig({ dataDir: '/tmp/x' }).rateLimit).toBeUndefined();
    const c = parseConfig({ allowedHosts: ' Photos.lan, ,nas.local ', fsync: 'false', rateLimit: '50' });
    expect(c.allowedHosts).toEqual(['photos.lan', 'nas.local']);
    expect(c.fsync).toBe(false);
    expect(c.rateLimit).toBe(50);
  });

  it('names the node after its host and pid by default, and takes a --node-id of its own', () => {
    expect(parseConfig({ dataDir: '/tmp/x' }).nodeId).toMatch(new RegExp(`-${process.pid}$`));
    expect(parseConfig({ dataDir: '/tmp/x', nodeId: 'eu-west-1a.node-3' }).nodeId).toBe('eu-west-1a.node-3');
    expect(readEnv({ DARKROOM_NODE_ID: 'b' })).toEqual({ nodeId: 'b' });
    expect(() => parseConfig({ nodeId: 'two words' })).toThrow(/invalid --node-id/);
    expect(() => parseConfig({ nodeId: '' })).toThrow(/invalid --node-id/);
  });

  it('parses durations and sizes, binary and decimal', () => {
    const c = parseConfig({ processedTtl: '30s', maxUploadBytes: '500MB', minFreeBytes: '2GiB', purgeSchedule: '*/5 * * * * *' });
    expect(c.processedTtl).toBe(30_000);
    expect(c.maxUploadBytes).toBe(500_000_000);
    expect(c.minFreeBytes).toBe(2 * 1024 ** 3);
    expect(parseConfig({ processedTtl: '10m' }).processedTtl).toBe(600_000);
  });

  it('lets flags override env, and env override defaults', () => {
    const env = readEnv({ DARKROOM_PORT: '8000', DARKROOM_HOST: '0.0.0.0', DARKROOM_WATCH: `/a${path.delimiter}/b` });
    expect(parseConfig(env)).toMatchObject({ port: 8000, host: '0.0.0.0', watch: ['/a', '/b'] });
    expect(parseConfig(env, { port: '9000' }).port).toBe(9000);
  });

  it.each([
    [{ port: '70000' }, 'invalid --port: expected a whole number from 0 to 65535, got "70000"'],
    [{ processedTtl: 'soon' }, 'invalid --processed-ttl: expected a duration like 30s, 10m or 7d, got "soon"'],
    [{ maxUploadBytes: 'lots' }, 'invalid --max-upload-bytes: expected a size like 500MB or 10GiB, got "lots"'],
    [{ workers: '0' }, 'invalid --workers: expected a whole number from 1 to 256, got "0"'],
    [{ adminKey: 'short' }, 'invalid --admin-key: must be at least 16 characters'],
    [{ s3ForcePathStyle: 'maybe' }, 'invalid --s3-force-path-style: expected true or false, got "maybe"'],
    [{ logLevel: 'loud' }, 'invalid --log-level:'],
    [{ databaseUrl: 'mysql://db/darkroom' }, 'invalid --database-url: expected a PostgreSQL URL'],
    [{ databasePoolSize: '0' }, 'invalid --database-pool-size:'],
  ])('refuses %o with one line naming the option', (raw, message) => {
    expect(() => parseConfig(raw)).toThrow(ConfigError);
    try {
      parseConfig(raw);
    } catch (err) {
      expect((err as Error).message.startsWith(message)).toBe(true);
      expect((err as Error).message).not.toContain('\n');
    }
  });

  it('names every option in the README options table, with its env variable rule', () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    for (const spec of OPTION_SPECS) expect(readme, spec.flag).toContain(`| \`--${spec.flag}\` |`);
    expect(envName('data-dir')).toBe('DARKROOM_DATA_DIR');
    expect(readme).toContain('DARKROOM_DATA_DIR');
  });
});

describe('command line', () => {
  /** The options `darkroom serve` parses from `args`, without starting anything. */
  async function serveOptions(args: string[]): Promise<Record<string, unknown>> {
    const { buildProgram } = await import('../../server/cli.js');
    const program = buildProgram();
    let options: Record<string, unknown> = {};
    program.commands.find((c) => c.name() === 'serve')!.action(function (this: { opts(): Record<string, unknown> }) {
      options = this.opts();
    });
    await program.parseAsync(['node', 'darkroom', 'serve', ...args]);
    return options;
  }

  it('takes --storage local or s3; s3 needs a bucket and refuses what only a local store uses', () => {
    expect(parseConfig({ dataDir: '/tmp/x', storage: 's3', s3Bucket: 'b' })).toMatchObject({ storage: 's3', s3Bucket: 'b' });
    expect(() => parseConfig({ dataDir: '/tmp/x', storage: 'disk' })).toThrow(new ConfigError('invalid --storage: expected local or s3'));
    expect(() => parseConfig({ dataDir: '/tmp/x', storage: 's3' })).toThrow(
      new ConfigError('invalid --storage: s3 needs --s3-bucket (and the other --s3-* options the bucket needs)'),
    );
    expect(() => parseConfig({ dataDir: '/tmp/x', storage: 's3', s3Bucket: 'b', localOriginalsMaxBytes: '1GiB' })).toThrow(
      /^invalid --local-originals-max-bytes: has no use with --storage s3/,
    );
    expect(readEnv({ DARKROOM_STORAGE: 's3' })).toEqual({ storage: 's3' });
  });

  it('takes a switch alone or with true/false, as the contract lists it', async () => {
    expect(await serveOptions(['--s3-force-path-style', '--s3-prefix', 'x'])).toMatchObject({ s3ForcePathStyle: 'true', s3Prefix: 'x' });
    expect(await serveOptions(['--s3-force-path-style', 'false'])).toMatchObject({ s3ForcePathStyle: 'false' });
    expect(await serveOptions([])).not.toHaveProperty('s3ForcePathStyle');
  });
});
