"""Fan-out of asynchronous requests (lambda_exporter.fan_out_async): the part events the plan's invocation
sends, and which answer of the request stands when several parts answer. S3 is faked at the client
boundary, with S3's conditional-write rule (PutObject If-None-Match: * is refused 412 when the key exists)."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from lambda_exporter import fan_out_async
from lambda_exporter.errors import ExportError
from lambda_exporter.event import S3Target, parse_event
from lambda_exporter.fan_out import STALE, StalePart
from lambda_exporter.manifest_key import KEY_ENV
from sync_contract.answer import answer_key, parse_answer
from sync_contract.signing import SigningKey

KEY = SigningKey("k1", bytes(range(32)))
RID = "req-" + "0123456789abcdef" * 2
TARGET = S3Target("bucket", "p/", "us-east-1")
EVENT = {
    "version": 1,
    "table": {"schema": "public", "name": "orders"},
    "mode": "incremental",
    "low": None,
    "watermark_column": "updated_at",
    "max_rows_per_invocation": 1000,
    "s3": {"bucket": "bucket", "prefix": "p/", "region": "us-east-1"},
}
PARTS = [
    {"index": i, "count": 3, "created_at": "2026-04-01T00:00:00Z", "high": "2026-04-01 00:50:00+00",
     "key_column": "id", "from": lo, "to": hi, "fingerprint": None}
    for i, (lo, hi) in enumerate([(None, "1001"), ("1001", "2001"), ("2001", None)])
]  # fmt: skip


class FakeS3:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def put_object(self, Bucket: str, Key: str, Body: bytes, ContentType: str = "", IfNoneMatch: str = "") -> None:
        if IfNoneMatch == "*" and Key in self.objects:
            raise ClientError(
                {"Error": {"Code": "PreconditionFailed"}, "ResponseMetadata": {"HTTPStatusCode": 412}}, "PutObject"
            )
        self.objects[Key] = Body

    def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:
        return {"Body": io.BytesIO(self.objects[Key])}

    def answer(self) -> Any:
        return parse_answer(json.loads(self.objects[TARGET.key(answer_key(RID))]), {"k1": KEY.secret})


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, f"k1:{KEY.secret.hex()}")


def _part_event(index: int) -> dict[str, Any]:
    return {**EVENT, "part": PARTS[index]}


def test_each_part_event_is_the_request_event_with_its_part_and_the_request_id_aside() -> None:
    payloads = fan_out_async.part_events(RID, EVENT, PARTS)
    assert len(payloads) == 3 and all(len(p) < 2_000 for p in payloads)
    for i, payload in enumerate(payloads):
        event = json.loads(payload)
        assert event[fan_out_async.FIELD] == RID and "request_id" not in event  # a part does not answer as the plan
        assert fan_out_async.request_id_of(event) == RID
        request = parse_event(fan_out_async.without_request_id(event), TARGET)  # the exporter's own contract
        assert request.part is not None and request.part.index == i and request.part.count == 3
        assert (request.part.key_from, request.part.key_to) == (PARTS[i]["from"], PARTS[i]["to"])


def test_a_part_event_over_the_limit_is_refused_before_any_part_is_sent() -> None:
    sent: list[bytes] = []
    huge = [*PARTS[:2], {**PARTS[2], "from": "x" * fan_out_async.MAX_PART_EVENT_BYTES}]
    with pytest.raises(ExportError, match="fan-out part 3's event"):
        fan_out_async.dispatch(RID, EVENT, {"status": "fan_out", "parts": huge}, sent.append)
    assert sent == []
    done = fan_out_async.dispatch(RID, EVENT, {"status": "fan_out", "parts": PARTS}, sent.append)
    assert done["dispatched"] == 3 and sorted(json.loads(p)["part"]["index"] for p in sent) == [0, 1, 2]


def _manifest(s3: FakeS3, key: str, rows: int) -> None:
    s3.objects[key] = json.dumps({"export_id": f"e-{key[-6]}", "rows": rows}).encode()


def test_a_failed_part_answers_first_and_a_later_complete_set_does_not_replace_it(monkeypatch) -> None:
    s3 = FakeS3()
    monkeypatch.setattr(fan_out_async, "parse_manifest_json", _FakeManifest.parse)

    def stale(event: dict[str, Any]) -> dict[str, Any]:
        raise StalePart(f"public.orders: fan-out part 3 of 3: its rows {STALE}")

    with pytest.raises(StalePart):
        fan_out_async.run_part(RID, _part_event(2), stale, lambda: (s3, TARGET))
    failed = s3.answer()
    assert failed.status == "failed" and "the table changed during the fan-out export" in (failed.error or "")
    assert "fan-out part 3 of 3 (id from '2001' to None)" in (failed.error or "")

    keys = [f"p/manifests/public.orders/e{i}.json" for i in range(3)]
    for i, k in enumerate(keys):
        _manifest(s3, k, 1000 + i)
    summary = {"status": "exported", "window": {"low": None, "high": "h"}, "completed_manifest_keys": keys}
    fan_out_async.run_part(RID, _part_event(1), lambda e: summary, lambda: (s3, TARGET))
    assert s3.answer() == failed  # first answer stands


def test_the_part_that_completes_the_set_answers_exported_with_every_part(monkeypatch) -> None:
    s3 = FakeS3()
    monkeypatch.setattr(fan_out_async, "parse_manifest_json", _FakeManifest.parse)
    keys = [f"p/manifests/public.orders/e{i}.json" for i in range(3)]
    for i, k in enumerate(keys):
        _manifest(s3, k, 1000 + i)
    own = {"status": "exported", "window": {"low": None, "high": "h"}, "manifest_keys": [keys[0]]}
    fan_out_async.run_part(RID, _part_event(0), lambda e: own, lambda: (s3, TARGET))  # not the last: no answer
    assert TARGET.key(answer_key(RID)) not in s3.objects
    last = {**own, "completed_manifest_keys": keys}
    fan_out_async.run_part(RID, _part_event(2), lambda e: last, lambda: (s3, TARGET))
    answer = s3.answer()
    assert (answer.status, answer.rows, answer.manifest_keys, answer.high) == ("exported", 3003, tuple(keys), "h")
    doc = json.loads(s3.objects[TARGET.key(answer_key(RID))])
    assert doc["invocations"] == 4


class _FakeManifest:
    def __init__(self, export_id: str, rows: int) -> None:
        self.export_id, self.rows = export_id, rows

    @classmethod
    def parse(cls, text: str) -> _FakeManifest:
        doc = json.loads(text)
        return cls(doc["export_id"], doc["rows"])
