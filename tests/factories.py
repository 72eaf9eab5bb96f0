"""Builders of valid contract objects for tests; each test changes only what it is about."""

from __future__ import annotations

from typing import Any

from sync_contract.manifest import Column, DataFile, Manifest, Window, data_prefix, export_id


def manifest(**overrides: Any) -> Manifest:
    schema, table = overrides.pop("schema", "public"), overrides.pop("table", "orders")
    eid = export_id(schema, table, "incremental", None, "2026-01-01 00:00:05+00")
    prefix = data_prefix(schema, table, eid)
    values: dict[str, Any] = {
        "export_id": eid,
        "created_at": "2026-11-21T10:00:00.000000Z",
        "exporter_version": "0.1.0",
        "strategy": "copy",
        "schema": schema,
        "table": table,
        "mode": "incremental",
        "columns": (
            Column("order_id", "bigint", "bigint", False, 1, 1),
            Column("amount", "numeric(12,2)", "numeric(12,2)", True, 2),
            Column("updated_at", "timestamp with time zone", "timestamp with time zone", False, 3),
        ),
        "window": Window("updated_at", None, "2026-01-01 00:00:05+00", "max_watermark"),
        "files": (DataFile(f"{prefix}part-00000.csv.gz", 3, 120), DataFile(f"{prefix}part-00001.csv.gz", 2, 80)),
        "rows": 5,
        "bytes": 200,
    }
    values.update(overrides)
    return Manifest(**values)
