import pytest

from lambda_exporter.errors import EventError
from lambda_exporter.event import ExportRequest, S3Target, parse_event


def _event(**changes):
    event = ExportRequest(
        schema="public",
        table="orders",
        mode="incremental",
        watermark_column="updated_at",
        s3=S3Target("bucket", "aurora-sync/", "us-east-1"),
    ).to_event()
    event.update(changes)
    return event


def test_round_trip():
    request = parse_event(_event(low="2026-01-01 00:00:00+00", primary_key=["id"]))
    assert request.table == "orders" and request.low == "2026-01-01 00:00:00+00"
    assert parse_event(request.to_event()) == request


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"tabel": "x"}, "tabel"),
        ({"version": 2}, "version"),
        ({"table": "public.orders"}, "table"),
        ({"mode": "cdc"}, "mode"),
        ({"watermark_column": None}, "watermark_column"),
        ({"low": 5}, "low"),
        ({"strategy": "dump"}, "strategy"),
        ({"max_file_bytes": 1024}, "max_file_bytes"),
        ({"s3": {"bucket": "b", "prefix": "no-slash", "region": "r"}}, "s3.prefix"),
        ({"s3": {"bucket": "b", "prefix": "dt=2026/", "region": "r"}}, "s3.prefix"),
        ({"s3": {"bucket": "b", "prefix": "", "region": "r", "acl": "x"}}, "s3.acl"),
        ({"primary_key": ["id", "id"]}, "primary_key"),
        ({"columns": [""]}, "columns[0]"),
    ],
)
def test_bad_events_name_the_field(change, field):
    with pytest.raises(EventError) as info:
        parse_event(_event(**change))
    assert info.value.field == field
    assert str(info.value).startswith(f"event field {field}:")


def test_full_mode_takes_no_watermark():
    with pytest.raises(EventError, match="must be omitted"):
        parse_event(_event(mode="full"))
    assert parse_event(_event(mode="full", watermark_column=None)).mode == "full"


def test_an_event_without_low_takes_it_from_s3_but_an_explicit_null_starts_from_scratch():
    event = _event()
    assert parse_event(event).low_from_manifests is False  # "low": null, as Snowflake sends it
    del event["low"]
    assert parse_event(event).low_from_manifests is True  # an EventBridge rule's static input
