-- aurora-snowflake-sync: runs on install and on every upgrade (snow app run).
-- It only orchestrates: the application roles, the two schemas, then one file per object.
-- Files under sql/state, sql/procedures, sql/views and sql/app/grants.sql are generated from the
-- Python (make app-sql); the plain deployment (make plain-deploy-sql) runs the same files.

CREATE APPLICATION ROLE IF NOT EXISTS AURORA_SYNC_ADMIN;
CREATE APPLICATION ROLE IF NOT EXISTS AURORA_SYNC_VIEWER;
GRANT APPLICATION ROLE AURORA_SYNC_VIEWER TO APPLICATION ROLE AURORA_SYNC_ADMIN;
-- Readers of the replicated data (as DATA_READER of Snowflake's database connectors): the app grants it
-- USAGE on each target schema it creates and SELECT on each target table, after every swap
-- (stored_procs/configuration/access.py). It sees nothing of the app itself.
CREATE APPLICATION ROLE IF NOT EXISTS AURORA_SYNC_READER;

-- State: a non-versioned schema, so an upgrade never touches settings, ledger, watermarks or tasks.
CREATE SCHEMA IF NOT EXISTS STATE;
GRANT USAGE ON SCHEMA STATE TO APPLICATION ROLE AURORA_SYNC_ADMIN;
EXECUTE IMMEDIATE FROM './sql/state/sync_tables.sql';
EXECUTE IMMEDIATE FROM './sql/state/manifests.sql';
EXECUTE IMMEDIATE FROM './sql/state/watermarks.sql';
EXECUTE IMMEDIATE FROM './sql/state/runs.sql';
EXECUTE IMMEDIATE FROM './sql/state/quarantine.sql';
EXECUTE IMMEDIATE FROM './sql/state/reconciliations.sql';
EXECUTE IMMEDIATE FROM './sql/state/load_files.sql';
EXECUTE IMMEDIATE FROM './sql/state/inbox.sql';
EXECUTE IMMEDIATE FROM './sql/state/settings.sql';
EXECUTE IMMEDIATE FROM './sql/state/export_requests.sql';
EXECUTE IMMEDIATE FROM './sql/state/answers.sql';
EXECUTE IMMEDIATE FROM './sql/state/run_summaries.sql';
EXECUTE IMMEDIATE FROM './sql/state/leases.sql';
EXECUTE IMMEDIATE FROM './sql/state/incidents.sql';

-- Code: a versioned schema, replaced as a whole by an upgrade.
CREATE OR ALTER VERSIONED SCHEMA CORE;
GRANT USAGE ON SCHEMA CORE TO APPLICATION ROLE AURORA_SYNC_VIEWER;
EXECUTE IMMEDIATE FROM './sql/procedures/check_ready.sql';
EXECUTE IMMEDIATE FROM './sql/procedures/request_exports.sql';
EXECUTE IMMEDIATE FROM './sql/procedures/intake_manifests.sql';
EXECUTE IMMEDIATE FROM './sql/procedures/load_table.sql';
EXECUTE IMMEDIATE FROM './sql/procedures/load_lane.sql';
EXECUTE IMMEDIATE FROM './sql/procedures/finalize_run.sql';
EXECUTE IMMEDIATE FROM './sql/procedures/register_stage.sql';
EXECUTE IMMEDIATE FROM './sql/procedures/register_exporter.sql';
EXECUTE IMMEDIATE FROM './sql/procedures/set_export_mode.sql';
EXECUTE IMMEDIATE FROM './sql/procedures/set_target_database.sql';
EXECUTE IMMEDIATE FROM './sql/procedures/set_alert_integration.sql';
EXECUTE IMMEDIATE FROM './sql/procedures/check_alerts.sql';
EXECUTE IMMEDIATE FROM './sql/procedures/add_table.sql';
EXECUTE IMMEDIATE FROM './sql/procedures/set_schema_map.sql';
EXECUTE IMMEDIATE FROM './sql/procedures/configure_table.sql';
EXECUTE IMMEDIATE FROM './sql/procedures/remove_table.sql';
EXECUTE IMMEDIATE FROM './sql/procedures/resync_table.sql';
EXECUTE IMMEDIATE FROM './sql/procedures/reconcile_table.sql';
EXECUTE IMMEDIATE FROM './sql/procedures/retry_manifest.sql';
EXECUTE IMMEDIATE FROM './sql/procedures/discard_manifest.sql';
EXECUTE IMMEDIATE FROM './sql/procedures/enable_schedule.sql';
EXECUTE IMMEDIATE FROM './sql/procedures/disable_schedule.sql';
EXECUTE IMMEDIATE FROM './sql/procedures/show_config.sql';
EXECUTE IMMEDIATE FROM './sql/procedures/sync_table.sql';
EXECUTE IMMEDIATE FROM './sql/procedures/sync_all.sql';
EXECUTE IMMEDIATE FROM './sql/procedures/load_pending.sql';
EXECUTE IMMEDIATE FROM './sql/views/table_status.sql';
EXECUTE IMMEDIATE FROM './sql/views/run_history.sql';
EXECUTE IMMEDIATE FROM './sql/views/graph_runs.sql';
EXECUTE IMMEDIATE FROM './sql/views/failures.sql';
EXECUTE IMMEDIATE FROM './sql/views/quarantined_rows.sql';

-- Native App only: reference callback, external access, the Streamlit page, role grants.
EXECUTE IMMEDIATE FROM './sql/app/apply_external_access.sql';
EXECUTE IMMEDIATE FROM './sql/app/register_reference.sql';
EXECUTE IMMEDIATE FROM './sql/app/dashboard.sql';
EXECUTE IMMEDIATE FROM './sql/app/grants.sql';
-- An upgrade recreates the exporter procedures: give them the bound integration and secret again.
CALL CORE.APPLY_EXTERNAL_ACCESS();
