/**
 * Read-only views for business intelligence tools (Tableau, Metabase, Grafana), and the role
 * they read them as (docs/statistics.md, "Reading the statistics from PostgreSQL"). PostgreSQL
 * only: an embedded SQLite installation is read with `darkroom stats` or the API.
 *
 * - `darkroom_stats_daily`: the statistics rollup's customer × format rows (level 3, the finest
 *   one: coarser groupings are sums of these, which a BI tool does itself), the day as a `date`,
 *   a camera RAW's `raw/<maker format>` key split into `format = 'raw'` and `raw_format` as the
 *   API's statistics do. The latency histogram (a binary blob) is left out; its p50/p95 are in.
 * - `darkroom_images`: what an image is, without anything a key or the pixels would give away
 *   (no file name, sha256, error message or metadata): times as `timestamptz`.
 *
 * The views are owned by the role that migrates, so they read the tables with its rights: a
 * role granted SELECT on the views alone reads these columns and nothing else.
 *
 * `darkroom_bi` is a NOLOGIN group role: an administrator creates a login role in it for each
 * tool. Roles are cluster-wide, so it is created only when missing, and only when the migrating
 * role may create roles; where it may not, the migration still succeeds and says (a NOTICE, and
 * docs/statistics.md) what an administrator runs instead. The grants fail softly the same way.
 */
const VIEWS = /* sql */ `
CREATE VIEW darkroom_stats_daily AS
SELECT cast(day AS date) AS day,
       customer,
       CASE WHEN strpos(format, '/') > 0 THEN left(format, strpos(format, '/') - 1) ELSE format END AS format,
       CASE WHEN strpos(format, '/') > 0 THEN substr(format, strpos(format, '/') + 1) END AS raw_format,
       uploaded,
       processed,
       failed,
       rejected,
       bytes_in,
       bytes_out,
       p50_ms,
       p95_ms
  FROM stats_daily
 WHERE level = 3;

CREATE VIEW darkroom_images AS
SELECT id,
       customer,
       status,
       format,
       raw_format,
       bytes,
       width,
       height,
       to_timestamp(created_at / 1000.0) AS created_at,
       to_timestamp(processed_at / 1000.0) AS processed_at,
       error_code
  FROM images;
`;

const ROLE = /* sql */ `
DO $$
DECLARE
  may_create boolean;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'darkroom_bi') THEN
    SELECT rolsuper OR rolcreaterole INTO may_create FROM pg_roles WHERE rolname = current_user;
    IF may_create THEN
      CREATE ROLE darkroom_bi NOLOGIN;
    ELSE
      RAISE NOTICE 'darkroom: role darkroom_bi is missing and % may not create roles; an administrator runs: CREATE ROLE darkroom_bi NOLOGIN; GRANT USAGE ON SCHEMA % TO darkroom_bi; GRANT SELECT ON %.darkroom_stats_daily, %.darkroom_images TO darkroom_bi;',
        current_user, current_schema(), current_schema(), current_schema();
      RETURN;
    END IF;
  END IF;
  -- Views are this role's own, so it may grant on them; the schema may belong to someone else.
  EXECUTE format('GRANT SELECT ON %I.darkroom_stats_daily, %I.darkroom_images TO darkroom_bi', current_schema(), current_schema());
  BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO darkroom_bi', current_schema());
  EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'darkroom: % may not grant USAGE on schema %; an administrator runs: GRANT USAGE ON SCHEMA % TO darkroom_bi;',
      current_user, current_schema(), current_schema();
  END;
END $$;
`;

export const sql = VIEWS + ROLE;
