/** Presets and the generated link-signing key, as SQLite migration 015 makes them; what the tables mean is said there. */
const TEXT = 'text COLLATE "C"';

export const sql = /* sql */ `
CREATE TABLE presets (
  name       ${TEXT} PRIMARY KEY,
  params     ${TEXT} NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);

CREATE TABLE link_signing_key (
  id         INTEGER PRIMARY KEY CHECK (id = 1),
  secret     ${TEXT} NOT NULL,
  created_at BIGINT NOT NULL
);
`;
