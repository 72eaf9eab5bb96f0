"""Open a Snowpark Session on whatever the config names: a real account or the emulator."""

from __future__ import annotations

import atexit
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

from aurora_sync.endpoints import EndpointError, check_snowflake_host, snowflake_endpoint

# The connector's connect() parameters (https://docs.snowflake.com/en/developer-guide/python-connector/
# python-connector-api, "connect"): login_timeout bounds the login's retries (the connector's default is
# 120 s). network_timeout is left unset (infinite, the connector's default): the connector also cancels
# any statement still running after it (cursor.execute's _TrackedQueryCancellationTimer, connector 4.x),
# so a bound would cancel a large initial COPY or MERGE; an unreachable host is caught before the login
# (check_snowflake_host) and by login_timeout. socket_timeout stays the connector's 60 s, which a
# statement's long poll needs (network.py: "don't reduce less than 45 seconds"). A key of [snowflake]
# overrides these, always (the embedded stack's sync.toml sets a shorter login_timeout).
LOGIN_TIMEOUT_S = 20


def connect_arguments(connect_args: dict[str, Any], database: str) -> dict[str, Any]:
    """What `snowflake.connector.connect` gets: the [snowflake] keys, our timeouts where they set none,
    qmark binds."""
    defaults = {"login_timeout": LOGIN_TIMEOUT_S}
    args: dict[str, Any] = {**defaults, **connect_args, "paramstyle": "qmark"}
    if args.get("protocol") == "http":  # no TLS: no out-of-band telemetry endpoint to send to
        args.setdefault("session_parameters", {"CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED": False})
        args.setdefault("database", database)
    return args


@contextmanager
def snowpark_session(connect_args: dict[str, Any], database: str) -> Iterator[Any]:
    import snowflake.connector
    from snowflake.snowpark import Session

    args = connect_arguments(connect_args, database)
    check_snowflake_host(args)  # a host that is down: one line in seconds, before the connector's retries
    try:
        conn = snowflake.connector.connect(**args)
    except snowflake.connector.errors.Error as err:  # unreachable, timed out, or the login refused
        raise EndpointError("Snowflake", snowflake_endpoint(args), "[snowflake]", err.msg or str(err)) from err
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
