/** Which image each finished resumable upload became, as SQLite migration 016 makes it; what a row means is said there. */
const TEXT = 'text COLLATE "C"';

export const sql = /* sql */ `
CREATE TABLE finished_uploads (
  upload_id   ${TEXT} PRIMARY KEY,
  image_id    ${TEXT} NOT NULL REFERENCES images (id) ON DELETE CASCADE,
  finished_at BIGINT NOT NULL
);
CREATE INDEX finished_uploads_by_image ON finished_uploads (image_id);
CREATE INDEX finished_uploads_by_time ON finished_uploads (finished_at);
`;
