"""How the `aws_s3` strategy splits one chunk into pieces of about one file each.

Aurora's `aws_s3.query_export_to_s3` writes what its query returns as uncompressed CSV and only starts
a new object (`<key>_part2`, ...) at about 6 GB (Aurora User Guide, "Exporting data from an Aurora
PostgreSQL DB cluster to Amazon S3"; the function's options are PostgreSQL COPY's: "Function
reference", aws_s3.query_export_to_s3). Snowflake loads one file per thread and recommends files of
roughly 100-250 MB compressed ("Preparing your data files", File sizing best practices:
https://docs.snowflake.com/en/user-guide/data-load-considerations-prepare). So the strategy calls the
function once per piece: a contiguous block (ctid) range of the chunk's relation, all in the export's
one snapshot. The pieces of a scan are contiguous and cover it (the last one ends where the scan ends,
or is open-ended), so their rows together are exactly the scan's: none lost, none twice.

A piece's size is planned from bytes per block (no extra pass over the table): the first piece of a
scan from the relation's size on disk (half the target, as CSV and heap bytes differ by type); each
later one from the CSV bytes Aurora reported for the piece just exported, growing by at most
`MAX_GROWTH` times the previous piece's blocks so a region denser than the one before (a window's rows
bunched at the table's end) is entered in steps. Every file aims at the target; one is larger only
where rows are much denser than in the piece before it, or where one block's rows alone exceed it
(TOASTed values), and never more than Aurora's own ~6 GB part.
"""

from __future__ import annotations

from dataclasses import dataclass

from lambda_exporter.chunking import AUTO_COMPRESSION_RATIO, CtidRange

FIRST_PIECE_FRACTION = 0.5  # of the target, by heap bytes: CSV is 0.5x-2x the heap, by column type
MAX_GROWTH = 2  # a piece has at most this many times the blocks of the piece before it
REMAINDER_FRACTION = 0.25  # a rest smaller than this share of the next piece joins it (no tiny last file)


def target_csv_bytes(max_file_bytes: int) -> int:
    """The uncompressed CSV bytes per `aws_s3` file: `max_file_bytes` is the compressed size the
    `copy` strategy rolls at; an uncompressed file of max_file_bytes / AUTO_COMPRESSION_RATIO (0.3,
    gzip of PostgreSQL's CSV) holds about as many rows as a compressed file of max_file_bytes, which is
    what Snowflake's per-file load work follows. 128 MiB -> about 427 MiB of CSV per file."""
    return int(max_file_bytes / AUTO_COMPRESSION_RATIO)


@dataclass(frozen=True)
class Piece:
    """One call of query_export_to_s3: blocks [first, end) of the relation; end None: to its end."""

    first: int
    end: int | None

    @property
    def ctid_range(self) -> CtidRange:
        return (self.first, self.end)


def first_piece_blocks(target_bytes: int, block_size: int) -> int:
    """Blocks of a scan's first piece: FIRST_PIECE_FRACTION of the target, counting a block's CSV as
    its heap bytes (pg_relation_size / block_size blocks)."""
    return max(1, int(target_bytes * FIRST_PIECE_FRACTION) // block_size)


def next_piece_blocks(target_bytes: int, previous_blocks: int, previous_bytes: int) -> int:
    """Blocks of the next piece from the piece just exported (`previous_blocks` blocks gave
    `previous_bytes` bytes of CSV): the target at that density, at least 1, at most MAX_GROWTH times
    the previous piece (an empty previous piece: MAX_GROWTH times)."""
    grown = MAX_GROWTH * previous_blocks
    if previous_bytes <= 0:
        return grown
    return max(1, min(grown, int(target_bytes * previous_blocks / previous_bytes)))


def next_piece(first: int, blocks: int, scan_end: int | None, relation_blocks: int) -> Piece:
    """The piece starting at block `first` with about `blocks` blocks, within a scan ending at
    `scan_end` (None: the relation's end, `relation_blocks` when the snapshot was read). The last
    piece of a scan ends exactly where the scan does (open-ended when the scan is); a rest smaller
    than REMAINDER_FRACTION of `blocks` joins the piece."""
    stop = relation_blocks if scan_end is None else scan_end
    end = first + max(1, blocks)
    if stop - end <= blocks * REMAINDER_FRACTION:
        return Piece(first, scan_end)
    return Piece(first, end)
