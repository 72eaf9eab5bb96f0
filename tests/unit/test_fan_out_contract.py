"""The fan-out contract without a database: the manifest's optional `chunk.part`, the event's `part`, the
key-range SQL, and that fingerprints of disjoint key ranges add up (lambda_exporter.fan_out)."""

from __future__ import annotations

import dataclasses

import pytest

from lambda_exporter.errors import EventError
from lambda_exporter.event import PartRequest, parse_part
from lambda_exporter.fan_out import add_fingerprints
from lambda_exporter.query import key_range_condition
from stored_procs.loading import manifest_checks
from sync_contract.errors import ManifestError
from sync_contract.manifest import Part, parse_manifest
from tests.factories import manifest

PART = Part("order_id", "1000", "2000", "2026-01-01T00:00:09.000001Z")


def test_a_manifest_without_a_part_is_written_and_read_as_before():
    m = manifest()
    assert m.part is None and set(m.to_dict()["chunk"]) == {"index", "count"}  # old documents unchanged
    assert parse_manifest(m.to_dict()) == m


def test_a_part_round_trips_and_must_range_over_the_first_key_column():
    m = dataclasses.replace(manifest(), chunk_index=1, chunk_count=3, part=PART)
    assert m.to_dict()["chunk"]["part"] == {
        "key_column": "order_id",
        "from": "1000",
        "to": "2000",
        "snapshot_at": PART.snapshot_at,
    }
    assert parse_manifest(m.to_dict()) == m
    doc = m.to_dict()
    doc["chunk"]["part"]["key_column"] = "amount"
    with pytest.raises(ManifestError, match="chunk.part.key_column"):
        parse_manifest(doc)


def test_two_attempts_of_one_part_differ_only_in_their_own_snapshot_time():
    m = dataclasses.replace(manifest(), chunk_index=1, chunk_count=3, part=PART)
    retried = dataclasses.replace(m, part=dataclasses.replace(PART, snapshot_at="2026-01-01T00:10:00.000000Z"))
    assert manifest_checks.digest(retried) == manifest_checks.digest(m)
    moved = dataclasses.replace(m, part=dataclasses.replace(PART, key_to="3000"))
    assert manifest_checks.digest(moved) != manifest_checks.digest(m)


def test_the_event_part_is_validated_naming_the_field():
    part = PartRequest(0, 3, "2026-01-01T00:00:00Z", "42", "id", None, "1000", None)
    assert parse_part(part.to_event(), "incremental") == part
    with pytest.raises(EventError, match="part.index"):
        parse_part({**part.to_event(), "index": 3}, "incremental")
    with pytest.raises(EventError, match="part"):
        parse_part(part.to_event(), "keys")
    with pytest.raises(EventError, match="part"):
        parse_part({**part.to_event(), "extra": 1}, "full")


def test_key_ranges_cover_null_keys_in_the_first_range_only():
    first = key_range_condition("id", None, "10")
    middle = key_range_condition("id", "10", "20")
    last = key_range_condition("id", "20", None)
    assert first is not None and first.text == '("id" < %s OR "id" IS NULL)' and first.params == ("10",)
    assert middle is not None and middle.text == '"id" >= %s AND "id" < %s' and middle.params == ("10", "20")
    assert last is not None and last.text == '"id" >= %s' and last.params == ("20",)
    assert key_range_condition("id", None, None) is None


def test_fingerprints_of_disjoint_ranges_add_up():
    assert add_fingerprints(["3:100", "0:0", "2:-7"]) == "5:93"


def test_max_rows_per_invocation_in_sync_toml_reaches_the_request_and_is_validated():
    import tomllib

    from aurora_sync.config import ConfigError, parse_config
    from aurora_sync.cycle import export_request
    from tests.unit.test_config import BASE

    config = parse_config(tomllib.loads(BASE + "max_rows_per_invocation = 5000000\n"))
    (spec,) = config.tables
    assert export_request(config, spec, None).max_rows_per_invocation == 5_000_000
    assert export_request(config, spec, None).to_event()["max_rows_per_invocation"] == 5_000_000
    assert export_request(config, spec, None, keys=True).max_rows_per_invocation is None  # key sets never fan out
    assert "max_rows_per_invocation" not in export_request(parse_config(tomllib.loads(BASE)), spec, None).to_event()
    for bad in ("0", "true", '"many"'):
        with pytest.raises(ConfigError, match=r"tables\[0\]\.max_rows_per_invocation"):
            parse_config(tomllib.loads(BASE + f"max_rows_per_invocation = {bad}\n"))


def test_the_event_carries_max_rows_per_invocation_and_refuses_a_bad_one():
    from lambda_exporter.event import ExportRequest, S3Target, parse_event

    request = ExportRequest("public", "orders", "full", S3Target("b", "p/", "eu-west-1"), max_rows_per_invocation=7)
    event = request.to_event()
    assert parse_event(event).max_rows_per_invocation == 7
    for bad in (0, True, "7"):
        with pytest.raises(EventError, match="max_rows_per_invocation"):
            parse_event({**event, "max_rows_per_invocation": bad})
