"""A NULL TIMESTAMP_NTZ / _LTZ / _TZ comes back as NULL through the connector, as from Snowflake.

fakesnow sends a timestamp column in Snowflake's Arrow form, a struct of (epoch, fraction[, timezone]),
but built the struct without a validity mask: a NULL became epoch 0, which the connector reads as
1970-01-01 00:00:00 (the value a user querying a history table's `_VALID_TO`, NULL while current, saw).
Snowflake's result of a NULL is NULL whatever its type ("Data types": every type holds NULL,
https://docs.snowflake.com/en/sql-reference/intro-summary-data-types). The struct now carries the
column's nulls as its own (the children are filled with 0 there, as the non-nullable fields require).
"""

from __future__ import annotations

from typing import Any


def patch(_duck_conn: Any) -> None:
    import fakesnow.arrow as arrow
    import pyarrow as pa
    import pyarrow.compute as pc

    original = arrow.timestamp_to_sf_struct

    def timestamp_to_sf_struct(ts: Any) -> Any:
        if isinstance(ts, pa.ChunkedArray):
            ts = ts.combine_chunks()
        if ts.null_count == 0:
            return original(ts)
        nulls = ts.is_null()
        struct = original(ts)
        children = [pc.fill_null(struct.field(i), 0) for i in range(struct.type.num_fields)]
        fields = [struct.type.field(i) for i in range(struct.type.num_fields)]
        return pa.StructArray.from_arrays(children, fields=fields, mask=nulls)

    arrow.timestamp_to_sf_struct = timestamp_to_sf_struct
