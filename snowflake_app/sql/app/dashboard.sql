-- The Streamlit page (manifest.yml default_streamlit): table status, rows and lag over time, failures.
CREATE OR REPLACE STREAMLIT CORE.DASHBOARD FROM '/streamlit' MAIN_FILE = '/dashboard.py';
GRANT USAGE ON STREAMLIT CORE.DASHBOARD TO APPLICATION ROLE AURORA_SYNC_VIEWER;
