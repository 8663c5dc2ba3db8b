/**
 * The lock of each resumable (tus) upload while a request writes to it or finishes it, held in
 * the database every node shares so that two nodes never append to, or ingest, one upload at
 * once (a client that retries a part on another node behind a load balancer). A row is a lease:
 * `until` is renewed while the holder works, and a row past it (its node died) is taken over.
 * `token` names the holder, so only it renews or releases.
 */
export const sql = /* sql */ `
CREATE TABLE upload_locks (
  upload_id TEXT PRIMARY KEY,
  token     TEXT NOT NULL,
  until     INTEGER NOT NULL
);
`;
