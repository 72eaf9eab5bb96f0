"""The peer of the end-to-end benchmark: one dlt pipeline run of a PostgreSQL table into DuckDB.

Runs in its own virtual environment (`.venv-dlt`, made by `make bench`), never in the project's:
dlt and its dependencies are not the project's. Invoked once per step by benchmarks/e2e.py:

    .venv-dlt/bin/python benchmarks/dlt_peer.py --dsn postgresql://... --table public.bench_lineitem \
        --primary-key l_orderkey,l_linenumber --watermark updated_at --duckdb DIR/peer.duckdb --state DIR

dlt as its documentation sets up an incremental merge: `sql_table` (the sql_database source),
`backend="pyarrow"`, `incremental` on the watermark column, `write_disposition="merge"` on the
primary key, destination DuckDB; everything else at dlt's defaults. The pipeline's state lives in
--state, so the next invocation continues from the watermark this one reached. Prints one JSON line:
{"seconds": pipeline.run's wall time (the import of dlt and process start excluded, as our side's
session setup is), "rows": rows the run extracted, "target_rows": rows in the DuckDB table after it}.
"""

from __future__ import annotations

import argparse
import json
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--table", required=True, help="schema.table")
    parser.add_argument("--primary-key", required=True, help="comma-separated columns")
    parser.add_argument("--watermark", required=True)
    parser.add_argument("--duckdb", required=True, help="the DuckDB database file")
    parser.add_argument("--state", required=True, help="dlt's pipelines directory")
    args = parser.parse_args()

    import dlt
    from dlt.sources.sql_database import sql_table

    schema, table = args.table.split(".", 1)
    dsn = args.dsn.replace("postgresql://", "postgresql+psycopg2://", 1)
    started = time.perf_counter()
    resource = sql_table(
        credentials=dsn,
        table=table,
        schema=schema,
        backend="pyarrow",
        incremental=dlt.sources.incremental(args.watermark),
        write_disposition="merge",
        primary_key=args.primary_key.split(","),
    )
    pipeline = dlt.pipeline(
        pipeline_name="bench_peer",
        pipelines_dir=args.state,
        destination=dlt.destinations.duckdb(args.duckdb),
        dataset_name="bench",
        progress=None,
    )
    info = pipeline.run(resource)
    seconds = time.perf_counter() - started
    info.raise_on_failed_jobs()
    trace = pipeline.last_trace
    rows = sum(trace.last_normalize_info.row_counts.get(t, 0) for t in (table,)) if trace.last_normalize_info else 0
    with pipeline.sql_client() as client:
        (target_rows,) = client.execute_sql(f'SELECT count(*) FROM "{table}"')[0]
    print(json.dumps({"seconds": seconds, "rows": rows, "target_rows": target_rows}))


if __name__ == "__main__":
    main()
