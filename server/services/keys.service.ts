import crypto from 'node:crypto';
import type { ApiKey, CreatedKey, NewKeyRequest, Role } from '../api/index.js';
import type { KeysRepo, ApiKeyRow } from '../db/keys.repo.js';
import type { Clock } from '../util/clock.js';
import { AppError } from '../errors.js';

export interface Principal {
  keyId: string;
  customer: string;
  role: Role;
}


/** The customer the bootstrap admin key belongs to (and watch-folder imports go to). */
export const LOCAL_CUSTOMER = 'local';

/**
 * Keys are 256 random bits, so one round of SHA-256 is enough to store them safely: a slow
 * password hash (bcrypt, argon2) only helps against guessable secrets, and would cost
 * milliseconds on every request.
 */
const hashKey = (plain: string) => crypto.createHash('sha256').update(plain).digest('hex');
const generateKey = () => `drk_${crypto.randomBytes(32).toString('base64url')}`;

// Writing last_used_at on every request would turn every read into a write; once a minute is plenty.
const TOUCH_INTERVAL_MS = 60_000;

/** --admin-key cannot be used as given; start-up stops with this one-line message. */
export class BootstrapKeyError extends Error {}

export function publicKey(row: ApiKeyRow): ApiKey {
  return {
    id: row.id,
    customer: row.customer,
    role: row.role,
    name: row.name,
    prefix: row.key_prefix,
    createdAt: new Date(row.created_at).toISOString(),
    lastUsedAt: row.last_used_at ? new Date(row.last_used_at).toISOString() : null,
  };
}

export function createKeysService(repo: KeysRepo, clock: Clock) {
  async function insertKey(plain: string, input: NewKeyRequest) {
    const row = {
      id: `key_${crypto.randomBytes(9).toString('base64url')}`,
      key_hash: hashKey(plain),
      key_prefix: plain.slice(0, 10),
      customer: input.customer,
      role: input.role,
      name: input.name ?? null,
      created_at: clock.now(),
    };
    await repo.insert(row);
    return row;
  }

  return {
    async create(input: NewKeyRequest): Promise<CreatedKey> {
      const plain = generateKey();
      const row = await insertKey(plain, input);
      return { ...publicKey({ ...row, last_used_at: null, revoked_at: null }), key: plain };
    },

    async authenticate(plain: string): Promise<Principal | undefined> {
      const row = await repo.findByHash(hashKey(plain));
      if (!row || row.revoked_at !== null) return undefined;
      const now = clock.now();
      if (!row.last_used_at || now - row.last_used_at > TOUCH_INTERVAL_MS) {
        // Bookkeeping only: a busy database must not turn a valid key away.
        try {
          await repo.touch(row.id, now);
        } catch {
          // tried again on the next request
        }
      }
      return { keyId: row.id, customer: row.customer, role: row.role };
    },

    list: async () => (await repo.listActive()).map(publicKey),

    async revoke(id: string) {
      if (!(await repo.revoke(id, clock.now()))) throw new AppError('not_found', `no active key ${id}`);
    },

    /**
     * --admin-key: the same key on every start is fine. A key revoked through the API stays
     * revoked (an operator who revoked a leaked key must not see it come back with the next
     * restart), and a key of another role is not silently made an admin: both stop start-up.
     */
    async ensureAdminKey(plain: string) {
      const existing = await repo.findByHash(hashKey(plain));
      if (!existing) {
        await insertKey(plain, { customer: LOCAL_CUSTOMER, role: 'admin', name: 'admin (--admin-key)' });
        return;
      }
      if (existing.revoked_at !== null) {
        throw new BootstrapKeyError(
          `--admin-key names key ${existing.id}, revoked on ${new Date(existing.revoked_at).toISOString()}; a revoked key is never revived: give a new key`,
        );
      }
      if (existing.role !== 'admin') {
        throw new BootstrapKeyError(`--admin-key names key ${existing.id}, a ${existing.role} key of customer "${existing.customer}": give a key of its own`);
      }
    },

    /** First start without any admin: create one so the operator can get in. Returns the plain key once. */
    async bootstrapAdminKey(): Promise<string | undefined> {
      if ((await repo.countActiveAdmins()) > 0) return undefined;
      const plain = generateKey();
      await insertKey(plain, { customer: LOCAL_CUSTOMER, role: 'admin', name: 'bootstrap admin' });
      return plain;
    },
  };
}

export type KeysService = ReturnType<typeof createKeysService>;
