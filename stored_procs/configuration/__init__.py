"""The app and its configuration: settings, registration of the stage, exporter and target database,
and which tables are replicated, how."""
