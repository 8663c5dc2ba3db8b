/**
 * The journal of blob deletes for a store that cannot delete inside a unit of work (an S3
 * bucket as the primary store, storage/s3/s3-primary-store.ts). See docs/architecture.md,
 * "Deletes in a remote store".
 *
 * A row is either
 *
 * - a decided delete (`due_at` = when it was decided): the object goes once nothing uses it,
 * - or an upload's intent (`due_at` = when the upload's lease ends): the object is being
 *   written and is not used by any row yet; the commit that records it removes the intent, and
 *   an intent still there when it is due (the node died, the commit failed) is a delete like
 *   any other.
 *
 * `claimed_until` is set while a node deletes the object (a lease): an upload of the same key
 * waits until the claim is over before it writes, and no claim is made while an intent for the
 * key is live. Several rows may name one key.
 */
export const sql = /* sql */ `
CREATE TABLE blob_deletes (
  id            TEXT PRIMARY KEY,
  key           TEXT NOT NULL,
  due_at        INTEGER NOT NULL,
  claimed_until INTEGER
);
CREATE INDEX blob_deletes_by_key ON blob_deletes (key);
CREATE INDEX blob_deletes_due ON blob_deletes (due_at);
`;
