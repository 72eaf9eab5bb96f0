"""The load path: intake of manifests, a table's batches in window order, their checks (bad values,
repeated keys, schema drift), MERGE or replace, and delete detection."""
