/**
 * An image's variants keep the order they were asked for in `position` (their index in the
 * request), so reading them in that order needs no engine's hidden row number: it was SQLite's
 * rowid, which PostgreSQL does not have. Existing rows take their rowid, which orders each
 * image's variants exactly as before.
 */
export const sql = /* sql */ `
ALTER TABLE variants ADD COLUMN position INTEGER NOT NULL DEFAULT 0;
UPDATE variants SET position = rowid;
`;
