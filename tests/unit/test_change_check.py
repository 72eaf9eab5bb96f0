"""The full-mode change check's stored state (lambda_exporter.change_check): when a cycle may skip the
fingerprint, and when it must not (another fingerprint loaded, another token, too old, not signed by
the key, unreadable). S3 is moto's in-process S3 (the HTTP boundary)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from moto import mock_aws

from lambda_exporter import change_check
from lambda_exporter.event import ExportRequest, S3Target
from sync_contract.signing import SigningKey

KEY = SigningKey("k1", bytes(range(32)))
OTHER = SigningKey("k2", bytes(range(1, 33)))
WHEN = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


@pytest.fixture
def s3():
    with mock_aws():
        client = boto3.client("s3", region_name="eu-west-1")
        client.create_bucket(Bucket="state-bucket", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        yield client


def _request(low: str | None) -> ExportRequest:
    return ExportRequest("public", "orders", "full", S3Target("state-bucket", "p/", "eu-west-1"), low=low)


def test_the_same_fingerprint_and_token_skip_the_fingerprint(s3):
    change_check.remember(s3, _request("5:99"), "7:123", "tok", KEY, now=WHEN)
    assert change_check.unchanged(s3, _request("7:123"), "tok", KEY, now=WHEN + timedelta(hours=1))


@pytest.mark.parametrize(
    ("low", "token", "key", "later"),
    [
        ("5:99", "tok", KEY, timedelta(hours=1)),  # the loaded fingerprint is another one (a resync, an older load)
        ("7:123", "tok2", KEY, timedelta(hours=1)),  # the counters moved
        ("7:123", None, KEY, timedelta(hours=1)),  # no token: track_counts off, a standby, a view
        (None, "tok", KEY, timedelta(hours=1)),  # nothing loaded
        ("7:123", "tok", OTHER, timedelta(hours=1)),  # signed by another key (rotated, or forged)
        ("7:123", "tok", KEY, timedelta(seconds=change_check.FINGERPRINT_EVERY_S)),  # a day old
        ("7:123", "tok", KEY, timedelta(hours=-1)),  # from the future
    ],
)
def test_anything_else_computes_the_fingerprint(s3, low, token, key, later):
    change_check.remember(s3, _request("5:99"), "7:123", "tok", KEY, now=WHEN)
    assert not change_check.unchanged(s3, _request(low), token, key, now=WHEN + later)


def test_a_state_changed_after_signing_or_unreadable_is_not_believed(s3):
    change_check.remember(s3, _request(None), "7:123", "tok", KEY, now=WHEN)
    key = "p/" + change_check.state_key("public", "orders")
    doc = json.loads(s3.get_object(Bucket="state-bucket", Key=key)["Body"].read())
    doc["fingerprint"] = "8:1"  # the table changed; whoever wrote this wants the change skipped
    s3.put_object(Bucket="state-bucket", Key=key, Body=json.dumps(doc).encode())
    assert not change_check.unchanged(s3, _request("8:1"), "tok", KEY, now=WHEN)
    s3.put_object(Bucket="state-bucket", Key=key, Body=b"not json")
    assert not change_check.unchanged(s3, _request("7:123"), "tok", KEY, now=WHEN)


def test_no_state_no_skip_and_nothing_kept_without_a_token(s3):
    assert not change_check.unchanged(s3, _request("7:123"), "tok", KEY, now=WHEN)
    change_check.remember(s3, _request("5:99"), "7:123", None, KEY, now=WHEN)
    assert s3.list_objects_v2(Bucket="state-bucket").get("KeyCount") == 0
