/**
 * Webhooks: SQLite's migration 010 (sqlite/migrations/010-webhooks.ts says why each table is as
 * it is), in this dialect's types as 001-initial.ts explains them: INTEGER as BIGINT, text
 * compared bytewise (`COLLATE "C"`, so ids and cursors order as on SQLite).
 */
const TEXT = 'text COLLATE "C"';

export const sql = /* sql */ `
CREATE TABLE webhook_endpoints (
  id                    ${TEXT} PRIMARY KEY,
  customer              ${TEXT} NOT NULL,
  url                   ${TEXT} NOT NULL,
  description           ${TEXT},
  events                ${TEXT} NOT NULL,
  enabled               BIGINT NOT NULL CHECK (enabled IN (0, 1)),
  disabled_reason       ${TEXT},
  secret                ${TEXT} NOT NULL,
  previous_secret       ${TEXT},
  previous_secret_until BIGINT,
  created_at            BIGINT NOT NULL,
  updated_at            BIGINT NOT NULL
);
CREATE INDEX webhook_endpoints_by_customer ON webhook_endpoints (customer, created_at);

CREATE TABLE webhook_messages (
  id         ${TEXT} PRIMARY KEY,
  customer   ${TEXT} NOT NULL,
  event      ${TEXT} NOT NULL,
  payload    ${TEXT} NOT NULL,
  created_at BIGINT NOT NULL
);

CREATE TABLE webhook_deliveries (
  id              ${TEXT} PRIMARY KEY,
  message_id      ${TEXT} NOT NULL REFERENCES webhook_messages (id) ON DELETE CASCADE,
  endpoint_id     ${TEXT} NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
  status          ${TEXT} NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts        BIGINT NOT NULL DEFAULT 0,
  last_status     BIGINT,
  last_error      ${TEXT},
  next_attempt_at BIGINT,
  delivered_at    BIGINT,
  created_at      BIGINT NOT NULL
);
CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (endpoint_id, created_at, id);
CREATE INDEX webhook_deliveries_by_message ON webhook_deliveries (message_id);
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (endpoint_id) WHERE status = 'pending';
`;
