"""Open a Snowpark Session on whatever the config names: a real account or the emulator."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any


@contextmanager
def snowpark_session(connect_args: dict[str, Any], database: str) -> Iterator[Any]:
    import snowflake.connector
    from snowflake.snowpark import Session

    args: dict[str, Any] = {"login_timeout": 30, "network_timeout": 120, **connect_args, "paramstyle": "qmark"}
    if args.get("protocol") == "http":  # the emulator: fail fast instead of retrying for minutes
        args.setdefault("session_parameters", {"CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED": False})
        args["login_timeout"], args["network_timeout"] = 10, 60
        args["database"] = database
    conn = snowflake.connector.connect(**args)
    try:
        session = Session.builder.configs({"connection": conn}).create()
    except BaseException:
        conn.close()
        raise
    try:
        yield session
    finally:
        with suppress(Exception):  # the emulator errors on close (DESIGN.md section 7)
            session.close()
        with suppress(Exception):
            conn.close()
