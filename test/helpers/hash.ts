import crypto from 'node:crypto';

export const sha256 = (data: Buffer | Uint8Array) => crypto.createHash('sha256').update(data).digest('hex');
