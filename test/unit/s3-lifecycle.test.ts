import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Bucket, type S3Bucket } from '../../server/storage/s3/bucket.js';
import { applyLifecycleRules } from '../../server/storage/s3/lifecycle.js';

/**
 * s3rver has no lifecycle rules, so the one thing that could destroy a user's own settings (S3
 * replaces a bucket's whole lifecycle configuration on every write) is checked against a small
 * HTTP server that keeps the configuration exactly as S3 does: what was PUT is what GET returns.
 */
let server: http.Server;
let stored: string | undefined;
let puts = 0;
let bucket: S3Bucket;

const FOREIGN_RULE = `<Rule><ID>someone-elses logs</ID><Filter><Prefix>logs/</Prefix></Filter><Status>Enabled</Status><Expiration><Days>30</Days></Expiration></Rule>`;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      if (!req.url?.includes('lifecycle')) {
        res.writeHead(400).end();
        return;
      }
      if (req.method === 'PUT') {
        puts++;
        stored = body;
        res.writeHead(200).end();
        return;
      }
      if (stored === undefined) {
        res.writeHead(404, { 'content-type': 'application/xml' });
        res.end('<Error><Code>NoSuchLifecycleConfiguration</Code><Message>none</Message></Error>');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/xml' }).end(stored);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  bucket = createS3Bucket({ bucket: 'b', prefix: 'team', endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', forcePathStyle: true });
  process.env.AWS_ACCESS_KEY_ID ??= 'test';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
});
afterAll(() => {
  bucket?.destroy();
  server?.close();
});

const rulesIn = (xml: string) => [...xml.matchAll(/<ID>([^<]+)<\/ID>/g)].map((m) => m[1]);

describe('the lifecycle rule for processed files', () => {
  it('is added to a bucket without rules', async () => {
    const outcome = await applyLifecycleRules(bucket, 7 * 24 * 3600 * 1000);
    expect(outcome.applied).toBe(true);
    expect(rulesIn(stored!)).toEqual(['darkroom team/processed/ expiry', 'darkroom team/ incomplete uploads']);
    expect(stored).toContain('<Prefix>team/processed/</Prefix>');
    expect(stored).toContain('<Days>7</Days>');
  });

  it('keeps the bucket’s other rules, and replaces only its own when applied again', async () => {
    stored = `<LifecycleConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${FOREIGN_RULE}</LifecycleConfiguration>`;
    await applyLifecycleRules(bucket, 7 * 24 * 3600 * 1000);
    await applyLifecycleRules(bucket, 2 * 24 * 3600 * 1000); // the TTL changed between starts
    expect(rulesIn(stored!)).toEqual(['someone-elses logs', 'darkroom team/processed/ expiry', 'darkroom team/ incomplete uploads']);
    expect(stored).toContain('<Prefix>logs/</Prefix>');
    expect(stored).toContain('<Days>2</Days>');
    expect(stored).not.toContain('<Days>7</Days>');
    expect(puts).toBe(3);
  });

  it('says why when the server refuses', async () => {
    const refusing = http.createServer((_req, res) => {
      res.writeHead(501, { 'content-type': 'application/xml' });
      res.end('<Error><Code>NotImplemented</Code><Message>no</Message></Error>');
    });
    await new Promise<void>((resolve) => refusing.listen(0, '127.0.0.1', resolve));
    const other = createS3Bucket({
      bucket: 'b',
      prefix: '',
      endpoint: `http://127.0.0.1:${(refusing.address() as AddressInfo).port}`,
      region: 'us-east-1',
      forcePathStyle: true,
    });
    try {
      expect(await applyLifecycleRules(other, 1000)).toEqual({ applied: false, reason: 'this S3 server does not support lifecycle rules' });
    } finally {
      other.destroy();
      refusing.close();
    }
  });
});
