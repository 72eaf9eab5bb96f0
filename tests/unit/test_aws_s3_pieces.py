"""The aws_s3 strategy's piece planning (lambda_exporter.strategies.pieces), as pure functions."""

from __future__ import annotations

import itertools

from lambda_exporter.strategies.pieces import (
    MAX_GROWTH,
    Piece,
    first_piece_blocks,
    next_piece,
    next_piece_blocks,
    target_csv_bytes,
)

MIB = 1024 * 1024


def _plan(relation_blocks: int, csv_bytes_of_block, target: int, scan=(0, None), block_size=8192):
    """The pieces the strategy would export, each with the CSV bytes Aurora would report for it."""
    first, scan_end = scan
    blocks = first_piece_blocks(target, block_size)
    pieces = []
    while True:
        piece = next_piece(first, blocks, scan_end, relation_blocks)
        stop = relation_blocks if piece.end is None else piece.end
        size = sum(csv_bytes_of_block(b) for b in range(piece.first, stop))
        pieces.append((piece, size))
        if piece.end is None or piece.end == scan_end:
            return pieces
        blocks = next_piece_blocks(target, piece.end - piece.first, size)
        first = piece.end


def _covers(pieces, scan) -> bool:
    first, end = scan
    bounds = [(p.first, p.end) for p, _ in pieces]
    contiguous = all(a[1] == b[0] for a, b in itertools.pairwise(bounds))
    return bounds[0][0] == first and bounds[-1][1] == end and contiguous


def test_the_target_is_the_csv_that_compresses_to_max_file_bytes():
    assert target_csv_bytes(128 * MIB) == int(128 * MIB / 0.3)  # ~427 MiB of CSV, ~128 MiB gzipped
    assert target_csv_bytes(5 * MIB) == 17_476_266


def test_uniform_rows_make_files_of_the_target_and_cover_the_table_once():
    target = 10 * MIB
    pieces = _plan(100_000, lambda b: 6_000, target)  # 600 MB of CSV
    assert _covers(pieces, (0, None))
    sizes = [size for _, size in pieces]
    assert 55 <= len(sizes) <= 62
    assert max(sizes) <= target * 1.25  # the last piece takes a rest under a quarter of a piece
    # the first is sized from heap bytes at half the target; the growth cap reaches the target by the third
    assert sizes[0] < sizes[1] < target
    assert all(size >= target * 0.9 for size in sizes[2:-1])


def test_a_chunk_block_range_is_split_within_its_own_bounds():
    pieces = _plan(100_000, lambda b: 8_192, 4 * MIB, scan=(20_000, 40_000))
    assert _covers(pieces, (20_000, 40_000))
    assert pieces[-1][0].end == 40_000  # not open-ended: the next chunk starts there


def test_a_window_bunched_at_the_tables_end_is_entered_in_growing_steps():
    # an incremental window: no rows in the first 990,000 blocks, dense rows in the last 10,000
    target = 10 * MIB
    pieces = _plan(1_000_000, lambda b: 8_000 if b >= 990_000 else 0, target)
    assert _covers(pieces, (0, None))
    blocks = [(p.end or 1_000_000) - p.first for p, _ in pieces]
    assert all(b <= MAX_GROWTH * a for a, b in itertools.pairwise(blocks))
    assert len(pieces) < 20  # empty regions cost few calls: the pieces double
    # the first dense piece may overshoot (the documented limit), at most MAX_GROWTH x the target's blocks
    assert max(size for _, size in pieces) <= 80 * MIB


def test_pieces_never_shrink_below_one_block_and_a_tiny_rest_joins_the_last():
    assert next_piece_blocks(MIB, previous_blocks=1, previous_bytes=50 * MIB) == 1  # one huge (TOAST) block
    assert next_piece_blocks(MIB, previous_blocks=10, previous_bytes=0) == 10 * MAX_GROWTH
    assert next_piece_blocks(MIB, previous_blocks=100, previous_bytes=MIB // 2) == 200  # capped growth
    assert next_piece(0, 100, None, 120) == Piece(0, None)  # a 20-block rest (< 25 %) joins: open-ended
    assert next_piece(0, 100, None, 130) == Piece(0, 100)
    assert next_piece(500, 100, None, 10) == Piece(500, None)  # a range past the table's end: one piece
    assert next_piece(0, 100, 90, 1_000) == Piece(0, 90)
