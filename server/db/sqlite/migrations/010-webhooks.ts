/**
 * Webhooks (CONTRACT §11): endpoints, the messages written in the unit of work of the change
 * that causes them, and one delivery per message and endpoint. A delivery is sent by a
 * `webhook_deliver` job of the one job engine whose lane is the endpoint's id.
 *
 * Portable SQL on purpose; PostgreSQL's migration 002 is the same in its types.
 */
export const sql = /* sql */ `
CREATE TABLE webhook_endpoints (
  id                    TEXT PRIMARY KEY,
  customer              TEXT NOT NULL,
  url                   TEXT NOT NULL,
  description           TEXT,
  events                TEXT NOT NULL,
  enabled               INTEGER NOT NULL CHECK (enabled IN (0, 1)),
  disabled_reason       TEXT,
  secret                TEXT NOT NULL,
  previous_secret       TEXT,
  previous_secret_until INTEGER,
  created_at            INTEGER NOT NULL,
  updated_at            INTEGER NOT NULL
);
CREATE INDEX webhook_endpoints_by_customer ON webhook_endpoints (customer, created_at);

CREATE TABLE webhook_messages (
  id         TEXT PRIMARY KEY,
  customer   TEXT NOT NULL,
  event      TEXT NOT NULL,
  payload    TEXT NOT NULL,
  created_at INTEGER NOT NULL
);

CREATE TABLE webhook_deliveries (
  id              TEXT PRIMARY KEY,
  message_id      TEXT NOT NULL REFERENCES webhook_messages (id) ON DELETE CASCADE,
  endpoint_id     TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
  status          TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts        INTEGER NOT NULL DEFAULT 0,
  last_status     INTEGER,
  last_error      TEXT,
  next_attempt_at INTEGER,
  delivered_at    INTEGER,
  created_at      INTEGER NOT NULL
);
CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (endpoint_id, created_at, id);
CREATE INDEX webhook_deliveries_by_message ON webhook_deliveries (message_id);
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (endpoint_id) WHERE status = 'pending';
`;
