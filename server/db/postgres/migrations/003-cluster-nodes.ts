/**
 * What several nodes sharing one database need of it: the same change as SQLite's migration 011
 * (sqlite/migrations/011-cluster-nodes.ts says what each part is for; db/schema.ts describes
 * the tables). Differences of dialect only, as in 001: BIGINT for SQLite's INTEGER, text
 * compared bytewise (`COLLATE "C"`).
 */
const TEXT = 'text COLLATE "C"';

export const sql = /* sql */ `
CREATE TABLE nodes (
  id           ${TEXT} PRIMARY KEY,
  version      ${TEXT} NOT NULL,
  started_at   BIGINT NOT NULL,
  last_seen_at BIGINT NOT NULL,
  jobs_running BIGINT NOT NULL DEFAULT 0,
  stopped_at   BIGINT
);

ALTER TABLE jobs ADD COLUMN lease_node ${TEXT};

CREATE TABLE schedule_slots (
  name ${TEXT} NOT NULL,
  slot BIGINT NOT NULL,
  PRIMARY KEY (name, slot)
);
`;
