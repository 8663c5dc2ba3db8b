import { z } from 'zod';
import { Timestamp } from './common.js';
import { Role } from './enums.js';

export const CustomerName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'customer: 1–64 letters, digits, ".", "_" or "-"')
  .meta({ description: 'A customer: 1–64 letters, digits, ".", "_" or "-", starting with a letter or digit' });

/** `POST /v1/keys` (also `darkroom keys create`). */
export const NewKeyRequest = z
  .strictObject({
    customer: CustomerName,
    role: Role,
    name: z.string().trim().min(1).max(100).optional().meta({ description: 'A label to recognise the key by' }),
  })
  .meta({ id: 'NewKeyRequest' });
export type NewKeyRequest = z.infer<typeof NewKeyRequest>;

/** A key as listed: never the key itself, which is stored hashed. */
export const ApiKey = z
  .strictObject({
    id: z.string(),
    customer: z.string(),
    role: Role,
    name: z.string().nullable(),
    prefix: z.string().meta({ description: 'The key\'s first characters, to tell keys apart' }),
    createdAt: Timestamp,
    lastUsedAt: Timestamp.nullable().meta({ description: 'Updated at most once a minute' }),
  })
  .meta({ id: 'ApiKey' });
export type ApiKey = z.infer<typeof ApiKey>;

/** `POST /v1/keys` → 201: the key, shown this once. */
export const CreatedKey = ApiKey.extend({ key: z.string().meta({ description: 'The plain key; shown once, never again' }) }).meta({ id: 'CreatedKey' });
export type CreatedKey = z.infer<typeof CreatedKey>;

/** `GET /v1/keys` */
export const KeyList = z.strictObject({ items: z.array(ApiKey) });
export type KeyList = z.infer<typeof KeyList>;
