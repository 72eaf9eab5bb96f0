-- aurora-snowflake-sync: every statement the consumer runs around the Native App, in order.
-- Replace the <...> placeholders (5b's '<key_id>:<hex>' stays as written: its value is set from Vault
-- afterwards). The app is called AURORA_SYNC here (`snow app run` names a
-- developer's copy AURORA_SYNC_<USER>). Steps 1-7 need ACCOUNTADMIN, or a role holding the named
-- privileges (CREATE INTEGRATION, CREATE NETWORK RULE / SECRET, MANAGE GRANTS).
USE ROLE ACCOUNTADMIN;

-- 1. Storage integration on the export bucket: Snowflake only reads it.
CREATE STORAGE INTEGRATION IF NOT EXISTS AURORA_SYNC_S3
  TYPE = EXTERNAL_STAGE
  STORAGE_PROVIDER = 'S3'
  STORAGE_AWS_ROLE_ARN = 'arn:aws:iam::<aws-account>:role/<snowflake-reads-exports>'
  STORAGE_ALLOWED_LOCATIONS = ('s3://<bucket>/<prefix>/')
  ENABLED = TRUE;
-- STORAGE_AWS_IAM_USER_ARN and STORAGE_AWS_EXTERNAL_ID go into that IAM role's trust policy
-- (terraform/ or docs/SECURITY.md: s3:GetObject and s3:ListBucket on the prefix, nothing else).
DESC INTEGRATION AURORA_SYNC_S3;

-- 2. Grants to the application: read the bucket, create the replicated schemas. The app owns the schemas
-- it creates (a table without a target goes to the schema named after its source schema; `public`, whose
-- namesake PUBLIC every database has and you own, becomes PG_PUBLIC: public.orders -> PG_PUBLIC.ORDERS).
GRANT USAGE ON INTEGRATION AURORA_SYNC_S3 TO APPLICATION AURORA_SYNC;
GRANT USAGE, CREATE SCHEMA ON DATABASE <TARGET_DATABASE> TO APPLICATION AURORA_SYNC;
-- Only for targets in a schema you own (ADD_TABLE('public.orders', ['id'], 'updated_at', 'incremental', 'PUBLIC.ORDERS'), or any existing schema):
-- GRANT USAGE, CREATE TABLE ON SCHEMA <TARGET_DATABASE>.PUBLIC TO APPLICATION AURORA_SYNC;
-- (ADD_TABLE and CHECK_READY refuse such a target until then, naming this GRANT.)
-- EXECUTE TASK and EXECUTE MANAGED TASK are requested in manifest.yml (manifest_version 2): Snowflake
-- grants them at install unless you deny them (Snowsight: the app's Security tab). If they were denied:
-- GRANT EXECUTE MANAGED TASK ON ACCOUNT TO APPLICATION AURORA_SYNC;   (and EXECUTE TASK in Snowsight)

-- 3. A place for the consumer-owned objects the app is bound to.
CREATE DATABASE IF NOT EXISTS AURORA_SYNC_ADMIN_DB;
CREATE SCHEMA IF NOT EXISTS AURORA_SYNC_ADMIN_DB.SECRETS;

-- 4. Network rule: only the Lambda Invoke endpoint of the exporter's region.
CREATE NETWORK RULE IF NOT EXISTS AURORA_SYNC_ADMIN_DB.SECRETS.EXPORTER_ENDPOINT
  MODE = EGRESS
  TYPE = HOST_PORT
  VALUE_LIST = ('lambda.<aws-region>.amazonaws.com:443');

-- 5. The AWS credentials: an IAM role Snowflake assumes (no access key is stored anywhere). The role
-- may only lambda:InvokeFunction on the exporter function.
CREATE SECURITY INTEGRATION IF NOT EXISTS AURORA_SYNC_AWS
  TYPE = API_AUTHENTICATION
  AUTH_TYPE = AWS_IAM
  AWS_ROLE_ARN = 'arn:aws:iam::<aws-account>:role/<snowflake-invokes-exporter>'
  ENABLED = TRUE;
-- API_AWS_IAM_USER_ARN and API_AWS_EXTERNAL_ID go into that role's trust policy.
DESC SECURITY INTEGRATION AURORA_SYNC_AWS;
CREATE SECRET IF NOT EXISTS AURORA_SYNC_ADMIN_DB.SECRETS.EXPORTER_AWS
  TYPE = CLOUD_PROVIDER_TOKEN
  API_AUTHENTICATION = AURORA_SYNC_AWS;

-- 5b. The manifest signing key: the exporter signs every manifest with it (HMAC-SHA256) and the app takes
-- in only manifests whose signature it verifies (docs/SECURITY.md). The value is the exporter's key from
-- Vault, '<key_id>:<hex>' (docs/DEPLOYMENT.md, "3b. The manifest signing key"); during a rotation, the old and the
-- new key separated by a comma. Snowflake never shows a secret's value (DESC SECRET omits it); create it
-- with the placeholder below, then set the value from a shell that reads Vault rather than pasting it into
-- a worksheet (docs/DEPLOYMENT.md shows the command). Until then intake refuses to run, naming the secret.
CREATE SECRET IF NOT EXISTS AURORA_SYNC_ADMIN_DB.SECRETS.MANIFEST_KEY
  TYPE = GENERIC_STRING
  SECRET_STRING = '<key_id>:<hex>';

-- 6. External access integration: that endpoint, those secrets. A procedure may read a secret only through
-- an integration that allows it, so the intake procedures use this integration for the manifest key too
-- (also in push mode, where they invoke nothing).
CREATE EXTERNAL ACCESS INTEGRATION IF NOT EXISTS AURORA_SYNC_EXPORTER
  ALLOWED_NETWORK_RULES = (AURORA_SYNC_ADMIN_DB.SECRETS.EXPORTER_ENDPOINT)
  ALLOWED_AUTHENTICATION_SECRETS = (AURORA_SYNC_ADMIN_DB.SECRETS.EXPORTER_AWS, AURORA_SYNC_ADMIN_DB.SECRETS.MANIFEST_KEY)
  ENABLED = TRUE;
-- Upgrading an installation whose integration exists already (IF NOT EXISTS changes nothing):
-- ALTER EXTERNAL ACCESS INTEGRATION AURORA_SYNC_EXPORTER SET ALLOWED_AUTHENTICATION_SECRETS =
--   (AURORA_SYNC_ADMIN_DB.SECRETS.EXPORTER_AWS, AURORA_SYNC_ADMIN_DB.SECRETS.MANIFEST_KEY);

-- 7. Bind the app's references (or in Snowsight: the app's Security tab). The callback then lets
-- CORE.REQUEST_EXPORTS, CORE.SYNC_TABLE and CORE.SYNC_ALL use the first two, and the procedures that take
-- manifests in (CORE.INTAKE_MANIFESTS, SYNC_TABLE, SYNC_ALL, LOAD_PENDING, RETRY_MANIFEST) read the manifest key.
CALL AURORA_SYNC.CORE.REGISTER_REFERENCE('EXPORTER_ACCESS', 'ADD',
  SYSTEM$REFERENCE('EXTERNAL ACCESS INTEGRATION', 'AURORA_SYNC_EXPORTER', 'PERSISTENT', 'USAGE'));
CALL AURORA_SYNC.CORE.REGISTER_REFERENCE('EXPORTER_SECRET', 'ADD',
  SYSTEM$REFERENCE('SECRET', 'AURORA_SYNC_ADMIN_DB.SECRETS.EXPORTER_AWS', 'PERSISTENT', 'READ'));
CALL AURORA_SYNC.CORE.REGISTER_REFERENCE('MANIFEST_KEY', 'ADD',
  SYSTEM$REFERENCE('SECRET', 'AURORA_SYNC_ADMIN_DB.SECRETS.MANIFEST_KEY', 'PERSISTENT', 'READ'));
-- Only for tasks on a warehouse instead of serverless (CALL CORE.ENABLE_SCHEDULE('60 MINUTES', '<WAREHOUSE>')):
-- GRANT USAGE ON WAREHOUSE <WAREHOUSE> TO APPLICATION AURORA_SYNC;

-- 8. Who operates the app, who watches it, and who reads the replicated tables. AURORA_SYNC_READER gets
-- USAGE on every schema the app creates and SELECT on every table it replicates (kept across replaces and
-- schema changes); USAGE on the database is yours to grant. A schema you own and granted in step 2 needs
-- your USAGE grant too: GRANT USAGE ON SCHEMA <TARGET_DATABASE>.PUBLIC TO ROLE <ANALYST_ROLE>;
GRANT APPLICATION ROLE AURORA_SYNC.AURORA_SYNC_ADMIN TO ROLE <DATA_ENGINEER_ROLE>;
GRANT APPLICATION ROLE AURORA_SYNC.AURORA_SYNC_VIEWER TO ROLE <DATA_ENGINEER_ROLE>;
GRANT APPLICATION ROLE AURORA_SYNC.AURORA_SYNC_READER TO ROLE <ANALYST_ROLE>;
GRANT USAGE ON DATABASE <TARGET_DATABASE> TO ROLE <ANALYST_ROLE>;

-- 9. Configure and start (as the data engineer role). Every call returns a VARIANT summary.
USE ROLE <DATA_ENGINEER_ROLE>;
CALL AURORA_SYNC.CORE.REGISTER_STAGE('s3://<bucket>/<prefix>/', 'AURORA_SYNC_S3', '<aws-region>');
CALL AURORA_SYNC.CORE.REGISTER_EXPORTER('<exporter-function-name-or-arn>', '<aws-region>');
CALL AURORA_SYNC.CORE.SET_TARGET_DATABASE('<TARGET_DATABASE>');
CALL AURORA_SYNC.CORE.ADD_TABLE('public.orders', ['id'], 'updated_at');        -- -> PG_PUBLIC.ORDERS
CALL AURORA_SYNC.CORE.ADD_TABLE('public.countries', ['code'], NULL, 'full');     -- -> PG_PUBLIC.COUNTRIES
CALL AURORA_SYNC.CORE.CHECK_READY();                   -- every setting and target schema; notes name a missing GRANT
CALL AURORA_SYNC.CORE.SYNC_ALL();                      -- one run now, in this session
CALL AURORA_SYNC.CORE.ENABLE_SCHEDULE('60 MINUTES');   -- then every hour, serverless
SELECT * FROM AURORA_SYNC.CORE.TABLE_STATUS;

-- 9b. Optional: alerts (a failed run, a quarantine, a stale table; once per incident and once when over)
-- through a notification integration you create (TYPE = EMAIL, or WEBHOOK for Slack / Teams / PagerDuty:
-- docs/DEPLOYMENT.md "Alerts"):
--   GRANT USAGE ON INTEGRATION AURORA_SYNC_ALERTS TO APPLICATION AURORA_SYNC;
--   CALL AURORA_SYNC.CORE.SET_ALERT_INTEGRATION('AURORA_SYNC_ALERTS');   -- sends a test message
--   CALL AURORA_SYNC.CORE.CONFIGURE_TABLE('public.orders', {'freshness_sla_minutes': 90});

-- 10. An analyst reads a replicated table.
USE ROLE <ANALYST_ROLE>;
SELECT COUNT(*) FROM <TARGET_DATABASE>.PG_PUBLIC.ORDERS;

-- The plain deployment (no Native App: `make plain-deploy-sql`, then `snow sql -f build/plain/deploy.sql`)
-- needs steps 1 and 3-6 the same way; instead of steps 2, 7 and 8 the role that owns the deployment
-- (its procedures run with that role's rights) gets:
--   GRANT USAGE ON INTEGRATION AURORA_SYNC_S3 TO ROLE <OWNER_ROLE>;
--   GRANT USAGE, CREATE SCHEMA ON DATABASE <TARGET_DATABASE> TO ROLE <OWNER_ROLE>;
--   GRANT EXECUTE TASK, EXECUTE MANAGED TASK ON ACCOUNT TO ROLE <OWNER_ROLE>;
--   GRANT USAGE ON INTEGRATION AURORA_SYNC_EXPORTER TO ROLE <OWNER_ROLE>;
--   GRANT READ ON SECRET AURORA_SYNC_ADMIN_DB.SECRETS.EXPORTER_AWS TO ROLE <OWNER_ROLE>;
--   GRANT READ ON SECRET AURORA_SYNC_ADMIN_DB.SECRETS.MANIFEST_KEY TO ROLE <OWNER_ROLE>;
-- and its readers are an account role (`--reader-role`, default AURORA_SYNC_READER), which the
-- procedures grant USAGE and SELECT as the app grants its reader application role:
--   GRANT ROLE AURORA_SYNC_READER TO ROLE <ANALYST_ROLE>;
--   GRANT USAGE ON DATABASE <TARGET_DATABASE> TO ROLE AURORA_SYNC_READER;
-- and the generator's --external-access-integration / --secret / --manifest-key-secret options write the ALTER PROCEDURE
-- statements that step 7 performs inside the app. Calls are then <DATABASE>.CORE.<PROCEDURE>(...).
