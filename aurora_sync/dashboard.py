"""`aurora-sync dashboard`: the app's Streamlit page (snowflake_app/streamlit/dashboard.py), run locally
with `streamlit run` against the connection of sync.toml.

The page takes its session from one adapter (`dashboard.connect`): Snowflake's `get_active_session()`
inside the app, `local_connection` here when it is given `--config` (what `command` passes). Locally the
views live in the control schema, created by the runner (or here, as `aurora-sync status` does).
"""

from __future__ import annotations

import os
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any, NoReturn

from aurora_sync.config import load_config
from stored_procs.monitoring.dashboard_sql import Where

PAGE = Path(__file__).resolve().parent.parent / "snowflake_app" / "streamlit" / "dashboard.py"


def command(config: Path, host: str, port: int) -> list[str]:
    """The `streamlit run` command line: headless (no browser opened, no usage statistics sent), on
    `host`:`port`, the page given `--config` (Streamlit passes what follows `--` to the page)."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(PAGE),
        "--server.headless=true",
        f"--server.address={host}",
        f"--server.port={port}",
        "--browser.gatherUsageStats=false",
        "--",
        "--config",
        str(config.resolve()),
    ]


def serve(config: Path, host: str, port: int) -> NoReturn:
    """Runs the page until Ctrl-C (or SIGTERM): this process becomes Streamlit's server (same PID)."""
    if not PAGE.is_file():
        raise FileNotFoundError(f"the dashboard page {PAGE} is missing: reinstall from the repository")
    os.execv(sys.executable, command(config, host, port))  # noqa: S606  (this process becomes the server)


_OPEN = ExitStack()  # the local session stays open while the page's server runs (closed at exit)


def local_connection(path: Path) -> tuple[Any, Where]:
    """A Snowpark session on sync.toml's connection, and where its views are (the control schema).
    The views are created when a read of TABLE_STATUS fails (`status.ensure_views`)."""
    from aurora_sync.snowflake import snowpark_session
    from aurora_sync.status import ensure_views
    from stored_procs.statement import Stmt, run

    config = load_config(path)
    session = _OPEN.enter_context(snowpark_session(config.snowflake_connect, config.database))
    place = config.place
    try:
        run(session, Stmt(f"SELECT COUNT(*) FROM {place.control('TABLE_STATUS')}"))
    except Exception:
        ensure_views(session, config)
    return session, Where(views=place.schema, sync_tables=place.control("SYNC_TABLES"))
