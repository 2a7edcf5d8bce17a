-- Runs once, when the postgres container initialises an empty data directory (/docker-entrypoint-initdb.d), as the
-- superuser POSTGRES_USER, connected to POSTGRES_DB (Airflow's metadata database). It adds:
--   * the metrics database METRICS_DB_NAME, owned by the role METRICS_DB_USER (drifting-etl writes it; its tables and
--     views are created by `drifting-etl init`, i.e. Alembic, never here);
--   * a read-only role METRICS_DB_GRAFANA_USER that can SELECT every table and view METRICS_DB_USER creates there.
-- Names and passwords come from the container's environment (psql's \getenv, PostgreSQL 15+): none is written here.
\set ON_ERROR_STOP on
\getenv metrics_db METRICS_DB_NAME
\getenv metrics_user METRICS_DB_USER
\getenv metrics_password METRICS_DB_PASSWORD
\getenv grafana_user METRICS_DB_GRAFANA_USER
\getenv grafana_password METRICS_DB_GRAFANA_PASSWORD

CREATE ROLE :"metrics_user" LOGIN PASSWORD :'metrics_password';
CREATE ROLE :"grafana_user" LOGIN PASSWORD :'grafana_password';
CREATE DATABASE :"metrics_db" OWNER :"metrics_user";
REVOKE ALL ON DATABASE :"metrics_db" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"metrics_db" TO :"grafana_user";

\connect :"metrics_db"
GRANT USAGE ON SCHEMA public TO :"grafana_user";
-- Tables and views the migrations create later (as METRICS_DB_USER) become readable by Grafana, and only readable.
ALTER DEFAULT PRIVILEGES FOR ROLE :"metrics_user" IN SCHEMA public GRANT SELECT ON TABLES TO :"grafana_user";
