import crypto from 'node:crypto';

/**
 * Standard Webhooks signing (https://www.standardwebhooks.com): `v1,` + base64 of the
 * HMAC-SHA256, keyed with the secret's bytes (the base64 after `whsec_`), of
 * `{id}.{timestamp}.{body}`. Written here rather than taken from the `standardwebhooks` package:
 * it is these few lines of node:crypto, and the tests verify every message with that package.
 */
export function signature(secret: string, id: string, timestamp: number, body: string): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  return `v1,${crypto.createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}

/** A new secret: `whsec_` + base64 of 24 random bytes (the size Standard Webhooks libraries generate and accept). */
export function newSecret(): string {
  return `whsec_${crypto.randomBytes(24).toString('base64')}`;
}

/** The headers of one attempt; with a previous secret still valid, both signatures, space-separated. */
export function signedHeaders(input: { id: string; body: string; secrets: string[]; now: number }): Record<string, string> {
  const timestamp = Math.floor(input.now / 1000);
  return {
    'webhook-id': input.id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': input.secrets.map((s) => signature(s, input.id, timestamp, input.body)).join(' '),
  };
}
