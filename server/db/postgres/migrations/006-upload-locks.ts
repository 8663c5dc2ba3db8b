/** The locks of resumable uploads across nodes, as SQLite migration 013 makes them; what a row means is said there. */
const TEXT = 'text COLLATE "C"';

export const sql = /* sql */ `
CREATE TABLE upload_locks (
  upload_id ${TEXT} PRIMARY KEY,
  token     ${TEXT} NOT NULL,
  until     BIGINT NOT NULL
);
`;
