/** The result cache of renders, as SQLite migration 014 makes it; what a row means is said there. */
const TEXT = 'text COLLATE "C"';

export const sql = /* sql */ `
CREATE TABLE renders (
  key          ${TEXT} PRIMARY KEY,
  image_id     ${TEXT} NOT NULL REFERENCES images (id) ON DELETE CASCADE,
  status       ${TEXT} NOT NULL CHECK (status IN ('rendering', 'done')),
  token        ${TEXT} NOT NULL,
  claim_until  BIGINT NOT NULL,
  format       ${TEXT} NOT NULL,
  path         ${TEXT},
  bytes        BIGINT,
  written_at   BIGINT,
  expires_at   BIGINT
);
CREATE INDEX renders_by_image ON renders (image_id);
CREATE INDEX renders_expiry ON renders (expires_at) WHERE status = 'done';
`;
