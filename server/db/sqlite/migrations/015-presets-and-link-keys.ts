/**
 * Presets (named render parameters, installation-wide: an admin of any customer manages the one
 * list) and the generated key that signs links when no --url-signing-keys is given.
 *
 * A preset's parameters are the JSON text of the API's `PresetParams` (w, h, fit, position,
 * format, q): one column, so a parameter added to render later needs no migration; the API
 * schema validates what goes in and what comes out.
 *
 * `link_signing_key` holds at most one row (`id` is always 1): the first node to start inserts
 * it with `ON CONFLICT DO NOTHING`, and every node then reads the row that won, so nodes
 * starting together agree on one key.
 */
export const sql = /* sql */ `
CREATE TABLE presets (
  name       TEXT PRIMARY KEY,
  params     TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);

CREATE TABLE link_signing_key (
  id         INTEGER PRIMARY KEY CHECK (id = 1),
  secret     TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
`;
