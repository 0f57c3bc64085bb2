#!/usr/bin/env bash
# Creates the read-only role Grafana's PostgreSQL datasource logs in with. Run once by the postgres
# image on an empty data directory (compose mounts this folder at /docker-entrypoint-initdb.d);
# elsewhere run it by hand with the same variables and PGHOST/PGPORT set.
#   POSTGRES_USER / POSTGRES_DB: the role that owns Tumen's tables (runs the migrations) and the DB
#   GRAFANA_DB_USER / GRAFANA_DB_PASSWORD: the read-only role to create
# Default privileges make the tables and views that later migrations create readable too.
set -euo pipefail
: "${POSTGRES_USER:?}" "${POSTGRES_DB:?}" "${GRAFANA_DB_USER:?}" "${GRAFANA_DB_PASSWORD:?}"
psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v reader="$GRAFANA_DB_USER" -v password="$GRAFANA_DB_PASSWORD" -v owner="$POSTGRES_USER" \
  -v db="$POSTGRES_DB" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'reader', :'password')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'reader') \gexec
GRANT CONNECT ON DATABASE :"db" TO :"reader";
GRANT USAGE ON SCHEMA public TO :"reader";
GRANT SELECT ON ALL TABLES IN SCHEMA public TO :"reader";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public GRANT SELECT ON TABLES TO :"reader";
-- A runaway dashboard query must not hold connections or locks for long.
ALTER ROLE :"reader" SET statement_timeout = '30s';
SQL
