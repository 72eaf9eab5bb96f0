"""Snowpark handlers and their logic. Imports only the standard library, `sync_contract` and
`snowflake.snowpark`: this package runs inside Snowflake's Python runtime."""
