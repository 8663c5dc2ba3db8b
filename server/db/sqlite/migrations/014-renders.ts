/**
 * The result cache of `GET /v1/image/{id}/render` (CONTRACT §10): one row per rendered output,
 * keyed by its cache key (a hash of the image, its original, the normalised parameters and the
 * output format: the ETag's own digits, services/render/render-request.ts).
 *
 * A row is first a claim: `status` `rendering`, held by `token` until `claim_until`, so that of
 * identical requests arriving together on any node one renders and the others wait for it; a
 * claim whose holder died lapses and is taken over. Then it is the stored file: `status` `done`,
 * `path` its blob key (under the image's processed prefix, so an image's delete removes it with
 * its variants), and `expires_at` from --processed-ttl, after which the purge removes it.
 * The rows go with their image (ON DELETE CASCADE) and with its reprocessing.
 */
export const sql = /* sql */ `
CREATE TABLE renders (
  key          TEXT PRIMARY KEY,
  image_id     TEXT NOT NULL REFERENCES images (id) ON DELETE CASCADE,
  status       TEXT NOT NULL CHECK (status IN ('rendering', 'done')),
  token        TEXT NOT NULL,
  claim_until  INTEGER NOT NULL,
  format       TEXT NOT NULL,
  path         TEXT,
  bytes        INTEGER,
  written_at   INTEGER,
  expires_at   INTEGER
);
CREATE INDEX renders_by_image ON renders (image_id);
CREATE INDEX renders_expiry ON renders (expires_at) WHERE status = 'done';
`;
