/**
 * The journal of blob deletes for a remote primary store (`--storage s3`), as SQLite migration
 * 012 makes it; what its rows mean is said there and in services/blob-placement.ts.
 *
 * Text is compared byte by byte (COLLATE "C"), as everywhere in this schema: keys are
 * compared and indexed as SQLite compares them.
 */
const TEXT = 'text COLLATE "C"';

export const sql = /* sql */ `
CREATE TABLE blob_deletes (
  id            ${TEXT} PRIMARY KEY,
  key           ${TEXT} NOT NULL,
  due_at        BIGINT NOT NULL,
  claimed_until BIGINT
);
CREATE INDEX blob_deletes_by_key ON blob_deletes (key);
CREATE INDEX blob_deletes_due ON blob_deletes (due_at);
`;
