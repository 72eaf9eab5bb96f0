"""The app's Streamlit page: per-table status, rows loaded and freshness lag over time, failures.

Runs inside Snowflake (Streamlit in Snowflake) on the app's views; `render` takes the session so the
page can also be rendered against the embedded stack in tests.
"""

from __future__ import annotations

from typing import Any

STATUS_SQL = (
    "SELECT SOURCE_SCHEMA || '.' || SOURCE_TABLE AS SOURCE, TARGET_SCHEMA || '.' || TARGET_TABLE AS TARGET, "
    "ENABLED AS ENABLED, LAST_SUCCESS_AT AS LAST_SUCCESS_AT, MINUTES_SINCE_SUCCESS AS MINUTES_SINCE_SUCCESS, "
    "LAST_RUN_STATUS AS LAST_RUN_STATUS, ROWS_LAST_RUN AS ROWS_LAST_RUN, QUARANTINED AS QUARANTINED, "
    "PENDING_MANIFESTS AS PENDING_MANIFESTS, WATERMARK AS WATERMARK, LAST_ERROR AS LAST_ERROR "
    "FROM CORE.TABLE_STATUS ORDER BY SOURCE"
)
# rows per run, and the freshness lag when the run ended: run end minus the loaded watermark
# (timestamp watermarks only, computed by the RUN_HISTORY view with the watermark's explicit format;
# other kinds have no time to measure against). The control tables hold UTC wall-clock times
# (TIMESTAMP_NTZ), so "now" is SYSDATE(), never the session's time zone.
HISTORY_SQL = (
    "SELECT FINISHED_AT AS FINISHED_AT, SOURCE_SCHEMA || '.' || SOURCE_TABLE AS SOURCE, "
    "COALESCE(ROWS_LOADED, 0) AS ROWS_LOADED, "
    "WATERMARK_LAG_MINUTES AS LAG_MINUTES "
    "FROM CORE.RUN_HISTORY WHERE FINISHED_AT >= DATEADD('day', -14, SYSDATE()) ORDER BY FINISHED_AT"
)
FAILURES_SQL = (
    "SELECT FAILED_AT AS FAILED_AT, KIND AS KIND, SOURCE_SCHEMA || '.' || SOURCE_TABLE AS SOURCE, "
    "EXPORT_ID AS EXPORT_ID, ERROR AS ERROR FROM CORE.FAILURES ORDER BY FAILED_AT DESC LIMIT 50"
)


def rows(session: Any, sql: str) -> list[dict[str, Any]]:
    return [row.as_dict() for row in session.sql(sql).collect()]


def pivot(history: list[dict[str, Any]], value: str) -> dict[str, dict[Any, Any]]:
    """{table: {finished_at: value}}: one line per table in st.line_chart."""
    series: dict[str, dict[Any, Any]] = {}
    for row in history:
        if row[value] is not None:
            series.setdefault(row["SOURCE"], {})[row["FINISHED_AT"]] = row[value]
    return series


def render(st: Any, session: Any) -> dict[str, int]:
    st.title("aurora-snowflake-sync")
    status = rows(session, STATUS_SQL)
    failing = [r for r in status if r["LAST_RUN_STATUS"] == "FAILED" or r["QUARANTINED"]]
    columns = st.columns(3)
    columns[0].metric("Tables", len(status))
    columns[1].metric("Failing or quarantined", len(failing))
    columns[2].metric("Rows in the last runs", sum(r["ROWS_LAST_RUN"] or 0 for r in status))
    st.subheader("Tables")
    st.dataframe(status, use_container_width=True)
    history = rows(session, HISTORY_SQL)
    st.subheader("Rows loaded per run")
    st.line_chart(pivot(history, "ROWS_LOADED"))
    st.subheader("Freshness lag (minutes) when each run ended")
    st.line_chart(pivot(history, "LAG_MINUTES"))
    failures = rows(session, FAILURES_SQL)
    st.subheader("Failures")
    if failures:
        st.dataframe(failures, use_container_width=True)
    else:
        st.write("No failures recorded.")
    return {"tables": len(status), "history": len(history), "failures": len(failures)}


if __name__ == "__main__":  # Streamlit runs the page as __main__
    import streamlit
    from snowflake.snowpark.context import get_active_session

    render(streamlit, get_active_session())
