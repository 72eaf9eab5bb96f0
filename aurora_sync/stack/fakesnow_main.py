"""Entry point of the fakesnow server process of the embedded stack.

`python -m aurora_sync.stack.fakesnow_main --port P --s3-endpoint URL` serves fakesnow on 127.0.0.1:P,
its DuckDB reading `s3://` from the stack's S3 endpoint, with every emulator workaround of
`aurora_sync.stack.emulator` applied (that package's docstring lists them, each with the Snowflake
documentation page it follows).
"""

from __future__ import annotations

import argparse
import logging


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--s3-endpoint", required=True)
    parser.add_argument("--region", default="us-east-1")
    args = parser.parse_args()

    import gc
    import importlib

    import boto3
    import s3fs
    import uvicorn

    from aurora_sync.stack import emulator

    server = importlib.import_module("fakesnow.server")  # the module, not fakesnow.server()

    filesystem = s3fs.S3FileSystem(
        endpoint_url=args.s3_endpoint, client_kwargs={"region_name": args.region}, use_listings_cache=False
    )
    server.shared_fs.duck_conn.register_filesystem(filesystem)
    # COPY asks it whether a file it loaded changed since (emulator.load_history)
    emulator.load_history.S3 = boto3.client("s3", endpoint_url=args.s3_endpoint, region_name=args.region)
    emulator.apply(server.shared_fs.duck_conn)
    logging.getLogger("fakesnow.server").setLevel(logging.WARNING)
    # Every statement builds and drops thousands of syntax-tree objects (sqlglot), so CPython's collector
    # ran full passes over everything alive (the modules above, the translations the emulator keeps) many
    # times a cycle, pausing a statement now and then by ~0.1 s. What is loaded by now lives as long as the
    # process: leave it out of every collection (gc.freeze), and collect the young generation less often.
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    uvicorn.run(server.app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
