"""How a chunked export splits its relation; every chunk reads the export's one snapshot.

- a table or a materialized view (both are heap relations with a `ctid`): contiguous block ranges, read
  with a TID range scan;
- a declaratively partitioned table (no storage of its own, so no blocks): its leaf partitions, each read
  whole, grouped into at most `chunks` chunks of about equal size on disk (largest first into the
  smallest group). Fewer leaves than chunks make fewer chunks; the manifest's `chunk_count` is the
  number actually written, which is what the loader groups a batch by;
- a view or a foreign table has neither: refused, naming what the relation is and the fix (chunks = 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from lambda_exporter.errors import SourceError
from lambda_exporter.event import ExportRequest
from lambda_exporter.query import block_count, ctid_ranges, partition_leaves, relation_bytes, relation_kind
from lambda_exporter.source import Connection, execute

AUTO_COMPRESSION_RATIO = 0.3  # gzip of PostgreSQL's CSV, to size "auto" chunks from the table's size
MAX_AUTO_CHUNKS = 64
HEAP_KINDS = ("r", "m")  # pg_class.relkind of relations with blocks: table, materialized view
PARTITIONED = "p"
SHOWN = 5  # partitions named in a message; the rest are counted

CtidRange = tuple[int, int | None]


@dataclass(frozen=True)
class Chunk:
    """What one chunk reads: a block range of the relation, or some of its leaf partitions whole.
    `Chunk()` is the whole relation (an export in one chunk)."""

    ctid_range: CtidRange | None = None
    partitions: tuple[tuple[str, str], ...] = ()  # (schema, name) of leaf partitions
    # a fan-out part: (first key column, from, to) in key_range_condition's terms (lambda_exporter.fan_out)
    key_range: tuple[str, str | None, str | None] | None = None

    def scans(self, schema: str, table: str) -> list[tuple[str, str, CtidRange | None]]:
        """(schema, relation, block range or None) to SELECT from; their rows together are the chunk."""
        if self.partitions:
            return [(s, t, None) for s, t in self.partitions]
        return [(schema, table, self.ctid_range)]


@dataclass(frozen=True)
class Leaf:
    schema: str
    name: str
    bytes: int
    readable: bool  # this role may SELECT the partition itself


def plan_chunks(conn: Connection, req: ExportRequest) -> list[Chunk]:
    """The chunks of this export, in chunk-index order (length 1: the whole relation). Read inside the
    export's snapshot, after the window is known. Raises SourceError for a relation that cannot be split."""
    kind = _kind(conn, req)
    leaves = _leaves(conn, req) if kind == PARTITIONED else []
    wanted = _wanted(conn, req, sum(leaf.bytes for leaf in leaves) if kind == PARTITIONED else None)
    if wanted == 1:
        return [Chunk()]
    if kind in HEAP_KINDS:
        blocks = int(execute(conn, block_count(req.schema, req.table))[0][0])
        return [Chunk(ctid_range=r) for r in ctid_ranges(blocks, wanted)]
    if kind == PARTITIONED:
        return _partition_chunks(req, leaves, wanted)
    raise SourceError(_not_chunkable(req, kind))


def _kind(conn: Connection, req: ExportRequest) -> str | None:
    rows = execute(conn, relation_kind(req.schema, req.table))
    return str(rows[0][0]) if rows else None


def _leaves(conn: Connection, req: ExportRequest) -> list[Leaf]:
    rows = execute(conn, partition_leaves(req.schema, req.table))
    return [Leaf(str(r[0]), str(r[1]), int(r[2] or 0), bool(r[3])) for r in rows]


def _wanted(conn: Connection, req: ExportRequest, partitioned_bytes: int | None) -> int:
    """The chunks asked for: the event's number, or for "auto" the table's size on disk (a partitioned
    table's is the sum of its leaves') over the file size Snowflake loads best."""
    if req.chunks != "auto":
        return int(req.chunks)
    if req.low is not None and req.mode == "incremental":
        return 1  # an incremental window is usually small; "auto" sizes initial and full exports
    if partitioned_bytes is None:
        table_bytes = int(execute(conn, relation_bytes(req.schema, req.table))[0][0])
    else:
        table_bytes = partitioned_bytes
    return max(1, min(MAX_AUTO_CHUNKS, math.ceil(table_bytes * AUTO_COMPRESSION_RATIO / req.max_file_bytes)))


def _partition_chunks(req: ExportRequest, leaves: list[Leaf], wanted: int) -> list[Chunk]:
    if not leaves:  # a partitioned table without partitions holds no rows
        return [Chunk()]
    refused = [f"{leaf.schema}.{leaf.name}" for leaf in leaves if not leaf.readable]
    if refused:
        more = f" (+{len(refused) - SHOWN} more)" if len(refused) > SHOWN else ""
        raise SourceError(
            f"{req.schema}.{req.table} is a partitioned table: a chunked export reads its partitions directly, "
            f"and this role may not SELECT {', '.join(refused[:SHOWN])}{more}. Grant SELECT on the partitions "
            f"(e.g. GRANT SELECT ON ALL TABLES IN SCHEMA {req.schema} TO <exporter role>) or set chunks = 1"
        )
    groups: list[list[Leaf]] = [[] for _ in range(min(wanted, len(leaves)))]
    sizes = [0] * len(groups)
    for leaf in sorted(leaves, key=lambda x: (-x.bytes, x.schema, x.name)):
        smallest = sizes.index(min(sizes))
        groups[smallest].append(leaf)
        sizes[smallest] += leaf.bytes
    return [Chunk(partitions=tuple(sorted((x.schema, x.name) for x in group))) for group in groups]


def _not_chunkable(req: ExportRequest, kind: str | None) -> str:
    name = f"{req.schema}.{req.table}"
    if kind == "v":
        what = "a view: a chunked export needs a table (its block ranges or its partitions) and a view has neither"
    elif kind == "f":
        what = "a foreign table: its rows live on another server, with no block ranges or partitions here"
    else:
        what = f"a relation of kind {kind!r} (pg_class.relkind), which has no block ranges or partitions"
    return f"{name} is {what}; export it in one chunk (chunks = 1 for this table)"
