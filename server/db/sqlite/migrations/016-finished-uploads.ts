/**
 * Which image each finished resumable (tus) upload became, written in the same transaction as
 * the image itself. The upload's record in the upload-parts store says so too, but it is written
 * after that commit: a node that dies in between, or two nodes finishing the same upload at once,
 * would otherwise ingest it twice. A row goes with its image, and is swept with the upload's
 * record (a day after it finished).
 */
export const sql = /* sql */ `
CREATE TABLE finished_uploads (
  upload_id   TEXT PRIMARY KEY,
  image_id    TEXT NOT NULL REFERENCES images (id) ON DELETE CASCADE,
  finished_at INTEGER NOT NULL
);
CREATE INDEX finished_uploads_by_image ON finished_uploads (image_id);
CREATE INDEX finished_uploads_by_time ON finished_uploads (finished_at);
`;
