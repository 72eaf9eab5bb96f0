"""The app's Streamlit page: failing tables and why, freshness against each table's SLA, rows and lag
over time, rows set aside, the graph's runs, and credits per table where the account allows.

Its SQL and the verdicts are pure functions in `dashboard_sql` (stored_procs/monitoring/dashboard_sql.py,
copied next to this page by the bundle). The session comes from one adapter, `connect`: inside
Snowflake `get_active_session()`; run by `aurora-sync dashboard --config sync.toml` (the page given
`--config`), the local configuration's Snowpark session (`aurora_sync.dashboard.local_connection`).
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

try:  # inside the app: the copy next to this page
    import dashboard_sql as q  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - locally, the project's module
    from stored_procs.monitoring import dashboard_sql as q


def connect(argv: list[str]) -> tuple[Any, Any]:
    """(session, dashboard_sql.Where): the local configuration's with `--config PATH`, else the app's."""
    if "--config" in argv:
        from aurora_sync.dashboard import local_connection

        return local_connection(Path(argv[argv.index("--config") + 1]))
    from snowflake.snowpark.context import get_active_session

    return get_active_session(), q.APP


def rows(session: Any, sql: str, *params: Any) -> list[dict[str, Any]]:
    frame = session.sql(sql, params=list(params)) if params else session.sql(sql)
    return [row.as_dict() for row in frame.collect()]


def _grid(st: Any, title: str, data: list[dict[str, Any]], empty: str) -> list[dict[str, Any]]:
    """A titled section: `data` as a grid, or `empty` when it has no row; returns `data`."""
    st.subheader(title)
    if data:
        st.dataframe(data)
    else:
        st.write(empty)
    return data


def render(st: Any, session: Any, where: Any = q.APP, now: datetime | None = None) -> dict[str, int]:
    """Draws the page with `st` (streamlit); counts of what it showed, for tests. Data (table names, errors)
    goes only where Streamlit shows text as it is: `st.text` (fixed-width, "st.text" in the API reference:
    no Markdown) and dataframes; st.error / st.markdown / st.write of a string would read Markdown, so an
    error holding `![](http://tracker)` would load an image and `[x](url)` become a link."""
    now = now or datetime.now(UTC).replace(tzinfo=None)
    st.title("aurora-snowflake-sync")
    status = rows(session, q.status_sql(where))
    tables = q.tables(status, q.slas(rows(session, q.sla_sql(where))), now)
    failing = q.failing(status)
    late = [t for t in tables if t["FRESHNESS"] == q.LATE]
    columns = st.columns(3)
    columns[0].metric("Tables", len(status))
    columns[1].metric("Failing or quarantined", len(failing))
    columns[2].metric("Late (beyond their SLA)", len(late))

    st.subheader("Failing tables")
    if failing:
        st.error(f"{len(failing)} table(s) failing or quarantined:")  # a count only: never data (Markdown)
        st.dataframe(failing)
        for f in failing:  # the error in full (a grid cell cuts it), as plain text: see `render`
            st.text(f"{f['TABLE']} {f['STATE']}: {f['WHY']}")
    else:
        st.success("No table is failing or quarantined.")

    st.subheader("Freshness against each table's SLA")
    st.dataframe([{k: t[k] for k in ("TABLE", "FRESHNESS", "STATE", "SLA_MINUTES", "LAST_SUCCESS_AT")} for t in tables])
    for t in tables:  # as text too: readable without the grid
        st.text(f"{t['TABLE']}: {t['FRESHNESS']} ({t['STATE']})")

    history = rows(session, q.history_sql(where), q.HISTORY_DAYS)
    st.subheader(f"Rows loaded per run (last {q.HISTORY_DAYS} days)")
    st.line_chart(q.pivot(history, "ROWS_LOADED"))
    st.subheader("Freshness lag (minutes) when each run ended (timestamp watermarks only)")
    lag = q.pivot(history, "LAG_MINUTES")
    if lag:
        st.line_chart(lag)
    else:
        st.write("No lag to show: no table with a timestamp watermark has loaded in this period.")

    _grid(st, "Rows set aside (QUARANTINED_ROWS)", rows(session, q.quarantined_rows_sql(where)), "No rows set aside.")
    _grid(st, "Graph runs", rows(session, q.graph_runs_sql(where)), "No graph run recorded.")
    failures = _grid(st, "Failure log", rows(session, q.failure_log_sql(where)), "No failures recorded.")

    st.subheader(f"Snowflake credits per table (last {q.CREDIT_DAYS} days, from QUERY_TAG)")
    try:
        credits = rows(session, q.credits_sql(), q.CREDIT_DAYS)
    except Exception:  # no access to Account Usage (or none in this account): say what it needs
        credits = None
        st.info(q.CREDITS_NEED)
    else:
        st.dataframe(credits)
    return {
        "tables": len(status),
        "failing": len(failing),
        "history": len(history),
        "failures": len(failures),
        "credits": -1 if credits is None else len(credits),
    }


if __name__ == "__main__":  # Streamlit runs the page as __main__
    import streamlit

    @streamlit.cache_resource
    def _connected(argv: tuple[str, ...]) -> tuple[Any, Any]:
        return connect(list(argv))

    render(streamlit, *_connected(tuple(sys.argv[1:])))
