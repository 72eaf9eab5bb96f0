"""The local face of aurora-snowflake-sync: the `aurora-sync` CLI, the cycle runner and the embedded stack."""

__version__ = "0.1.0"
