"""Open a Snowpark Session on whatever the config names: a real account or the emulator."""

from __future__ import annotations

import atexit
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
        # Every query we send is synchronous, so closing the connection (the server-side logout) is
        # all there is to do. Session.close() would first send "cancel all queries", which the
        # emulator answers with HTTP 500, retried for the whole network timeout, and Snowpark would
        # try that again at interpreter exit: neither is needed.
        with suppress(Exception):
            conn.close()
        atexit.unregister(session._close_at_exit)
