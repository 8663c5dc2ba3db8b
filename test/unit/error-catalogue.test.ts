import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CATALOGUE } from '../../server/errors.js';
import { ROOT } from '../helpers/child.js';

/** The error table of the external contract: codes clients branch on, never renamed. */
const CONTRACT_CODES = {
  invalid_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  not_ready: 409,
  expired: 410,
  payload_too_large: 413,
  unsupported_media_type: 415,
  pixel_limit_exceeded: 422,
  too_many_requests: 429,
  insufficient_storage: 507,
  corrupt_image: 422,
  unavailable: 503,
} as const;

describe('the error catalogue', () => {
  it('has every code of the contract with its status', () => {
    for (const [code, status] of Object.entries(CONTRACT_CODES)) {
      expect({ code, status: ERROR_CATALOGUE[code as keyof typeof ERROR_CATALOGUE]?.status }).toEqual({ code, status });
    }
  });

  it('is documented in docs/api.md, every code with its status', () => {
    const doc = fs.readFileSync(path.join(ROOT, 'docs', 'api.md'), 'utf8');
    for (const [code, { status }] of Object.entries(ERROR_CATALOGUE)) expect(doc).toContain(`| ${status} | \`${code}\` |`);
  });
});
