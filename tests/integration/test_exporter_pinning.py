"""The exporter serves only what its environment allows (issue 13 item 4) and signs what it writes (item 3).

Attacks from whoever can invoke the exporter (the loopback Lambda of the embedded stack, or the handler
in this process with the environment a deployment would give it): redirect the rows to another host,
bucket or prefix; read a table nobody configured; read any column through reconcile; write through a
reconcile. And a manifest must carry a signature the procedures' key verifies, or not be written at all.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlparse

import boto3
import psycopg2
import pytest

from aurora_sync.stack.stack import BUCKET, FUNCTION, PREFIX, REGION
from lambda_exporter import settings as exporter_settings
from lambda_exporter.errors import EventError, ExportError, SourceError
from lambda_exporter.event import ExportRequest, S3Target
from lambda_exporter.exporter import run_export
from lambda_exporter.handler import handler
from lambda_exporter.reconcile import run_reconcile
from lambda_exporter.source import connect
from stored_procs.orchestration.lambda_invoke import lambda_client
from sync_contract.errors import ManifestError
from sync_contract.manifest import manifest_prefix
from sync_contract.reconcile import ReconcileRequest
from sync_contract.signing import parse_keys, verify

OTHER_BUCKET = "aurora-sync-elsewhere"


class _Listener(BaseHTTPRequestHandler):
    seen: list[str]

    def _any(self) -> None:
        self.seen.append(f"{self.command} {self.path}")
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _any

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def listener() -> Iterator[tuple[str, list[str]]]:
    """A plain HTTP server on loopback that records every request reaching it."""
    seen: list[str] = []
    handler_class = type("Recorder", (_Listener,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_class)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


@pytest.fixture
def s3(endpoints):
    client = boto3.client("s3", endpoint_url=endpoints.s3_endpoint, region_name=REGION)
    with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
        client.create_bucket(Bucket=OTHER_BUCKET)
    return client


def _invoke(endpoints, event: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
    """(failed, payload) of one call of the loopback Lambda, through boto3's Invoke as Snowflake calls it."""
    response = lambda_client(REGION, endpoints.lambda_endpoint).invoke(
        FunctionName=FUNCTION, Payload=json.dumps(event).encode()
    )
    return "FunctionError" in response, json.loads(response["Payload"].read())


def _event(table: str, **s3: str) -> dict[str, Any]:
    event: dict[str, Any] = {
        "version": 1,
        "table": {"schema": "public", "name": table},
        "watermark_column": "v",
        "late_row_guard": False,  # an integer watermark
        "low": None,
    }
    if s3:
        event["s3"] = {"bucket": BUCKET, "prefix": PREFIX, "region": REGION, **s3}
    return event


def _keys(s3, bucket: str, prefix: str = "") -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])]


def _table(pg, name: str, rows: int = 5) -> None:
    cur = pg.cursor()
    cur.execute(f"CREATE TABLE public.{name} (id int PRIMARY KEY, v int NOT NULL, secret text NOT NULL)")
    cur.execute(f"INSERT INTO public.{name} SELECT g, g, 'top-secret-' || g FROM generate_series(1, {rows}) g")


def _written_for(s3, table: str) -> list[str]:
    """Every object in any bucket of the stack that belongs to this table's exports."""
    slug_folder = manifest_prefix("public", table).split("/")[1]
    found = []
    for bucket in (BUCKET, OTHER_BUCKET):
        found += [f"{bucket}/{k}" for k in _keys(s3, bucket) if f"/{slug_folder}/" in f"/{k}"]
    return found


# --- where exports go ------------------------------------------------------------------------


def test_an_event_naming_another_endpoint_is_refused_and_no_request_reaches_that_host(pg, endpoints, s3, listener):
    url, seen = listener
    _table(pg, "pin_endpoint")
    failed, payload = _invoke(endpoints, _event("pin_endpoint", endpoint_url=url))
    assert failed
    assert payload["errorType"] == "EventError"
    assert payload["errorMessage"].startswith("event field s3.endpoint_url: ")
    assert "the exporter's environment decides where exports go" in payload["errorMessage"]
    assert seen == []  # not one request (not even a HEAD) reached the other host
    assert _written_for(s3, "pin_endpoint") == []


@pytest.mark.parametrize(
    ("field", "value"), [("bucket", OTHER_BUCKET), ("prefix", "elsewhere/"), ("region", "eu-west-1")]
)
def test_an_event_naming_another_bucket_prefix_or_region_is_refused_and_nothing_is_written(
    pg, endpoints, s3, field, value
):
    table = f"pin_{field}"
    _table(pg, table)
    failed, payload = _invoke(endpoints, _event(table, **{field: value}))
    assert failed
    assert payload["errorType"] == "EventError"
    assert payload["errorMessage"].startswith(f"event field s3.{field}: {value!r} differs from the exporter's")
    assert _written_for(s3, table) == []
    assert _keys(s3, OTHER_BUCKET) == [] and _keys(s3, BUCKET, "elsewhere/") == []


def test_without_s3_in_the_event_the_export_goes_where_the_environment_says(pg, endpoints, s3):
    _table(pg, "pin_env_only", rows=3)
    failed, payload = _invoke(endpoints, _event("pin_env_only"))
    assert not failed, payload
    assert payload["rows"] == 3
    assert payload["manifest_key"].startswith(PREFIX + manifest_prefix("public", "pin_env_only"))
    body = s3.get_object(Bucket=BUCKET, Key=payload["manifest_key"])["Body"].read()
    assert json.loads(body)["rows"] == 3


# --- which tables are served (the handler in this process, with a deployment's environment) ---------


@pytest.fixture
def exporter_env(endpoints, monkeypatch):
    """The handler's environment as Terraform would set it, with an unreachable database: any read the
    handler attempted would fail with a connection error instead of the refusal the tests expect."""

    def configure(allowed: str | None, dsn: str = "postgresql://nobody@127.0.0.1:1/none?connect_timeout=1") -> None:
        env = {
            "AURORA_SYNC_SOURCE_DSN": dsn,
            "AURORA_SYNC_S3_BUCKET": BUCKET,
            "AURORA_SYNC_S3_PREFIX": PREFIX,
            "AURORA_SYNC_S3_REGION": REGION,
            "AURORA_SYNC_S3_ENDPOINT_URL": endpoints.s3_endpoint,
            "AURORA_SYNC_ALLOW_LOCAL_ENDPOINT": "1",
        }
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        monkeypatch.delenv("VAULT_ADDR", raising=False)
        if allowed is None:
            monkeypatch.delenv("AURORA_SYNC_ALLOWED_TABLES", raising=False)
        else:
            monkeypatch.setenv("AURORA_SYNC_ALLOWED_TABLES", allowed)
        exporter_settings.load_settings.cache_clear()

    yield configure
    exporter_settings.load_settings.cache_clear()


def test_a_table_outside_the_allow_list_is_refused_before_anything_is_read(pg, s3, exporter_env):
    _table(pg, "pin_unlisted")
    exporter_env("public.pin_listed, sales.*")
    with pytest.raises(EventError, match=r"public\.pin_unlisted is not in the exporter's AURORA_SYNC_ALLOWED_TABLES"):
        handler(_event("pin_unlisted"))
    reconcile = {"action": "reconcile", "schema": "public", "table": "pin_unlisted", "primary_key": ["id"]}
    with pytest.raises(EventError, match="AURORA_SYNC_ALLOWED_TABLES"):
        handler({**reconcile, "bucket_digits": 1})
    assert _written_for(s3, "pin_unlisted") == []


def test_an_unset_allow_list_serves_no_table(pg, s3, exporter_env):
    _table(pg, "pin_unset")
    exporter_env(None)
    with pytest.raises(EventError, match="AURORA_SYNC_ALLOWED_TABLES is not set"):
        handler(_event("pin_unset"))
    assert _written_for(s3, "pin_unset") == []


def test_a_listed_table_and_a_listed_schema_are_served(pg, s3, endpoints, exporter_env):
    _table(pg, "pin_listed", rows=4)
    exporter_env("sales.*, public.pin_listed", dsn=endpoints.pg_dsn)
    first = handler(_event("pin_listed"))
    assert first["rows"] == 4
    exporter_env("public.*", dsn=endpoints.pg_dsn)
    again = handler(_event("pin_listed"))
    assert (again["rows"], again["export_id"]) == (4, first["export_id"])  # the same window, rewritten


def test_a_loopback_endpoint_in_the_environment_needs_the_explicit_test_setting(exporter_env, monkeypatch):
    exporter_env("*")
    monkeypatch.delenv("AURORA_SYNC_ALLOW_LOCAL_ENDPOINT")
    exporter_settings.load_settings.cache_clear()
    with pytest.raises(ExportError, match="is not an https endpoint of Amazon S3"):
        handler(_event("pin_anything"))


# --- reconcile returns only a real key's values ---------------------------------------------------


def _reconcile_event(table: str, key: list[str], buckets: list[str] | None = None) -> dict[str, Any]:
    return {
        "action": "reconcile",
        "schema": "public",
        "table": table,
        "primary_key": key,
        "bucket_digits": 1,
        "buckets": buckets,
    }


def test_reconcile_by_a_column_that_is_not_the_key_is_refused_and_returns_no_value(pg, endpoints):
    _table(pg, "pin_recon")
    every_bucket = [f"{i:x}" for i in range(16)]
    failed, payload = _invoke(endpoints, _reconcile_event("pin_recon", ["secret"], every_bucket))
    assert failed
    assert payload["errorType"] == "SourceError"
    assert "reconcile by (secret) refused" in payload["errorMessage"]
    assert "its primary key (id)" in payload["errorMessage"]
    assert "top-secret" not in json.dumps(payload)
    # the key together with another column is no key either
    failed, payload = _invoke(endpoints, _reconcile_event("pin_recon", ["id", "secret"], every_bucket))
    assert failed and "top-secret" not in json.dumps(payload)
    # the real key is answered: its values, and row hashes only
    failed, payload = _invoke(endpoints, _reconcile_event("pin_recon", ["id"], every_bucket))
    assert not failed, payload
    assert sorted(int(k[0]) for k, _ in payload["rows"]) == [1, 2, 3, 4, 5]
    assert "top-secret" not in json.dumps(payload)


def test_a_table_without_primary_key_is_not_reconciled_by_a_unique_index_unless_its_key_is_declared(
    pg, endpoints, exporter_env
):
    """A unique NOT NULL index is no key to hand out (its values may be emails): without a primary key,
    only the key the exporter's allow-list declares is accepted."""
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.pin_nopk (email text NOT NULL, code text, note text)")
    cur.execute("CREATE UNIQUE INDEX ON public.pin_nopk (email)")  # unique and NOT NULL: still not declared
    cur.execute("CREATE UNIQUE INDEX ON public.pin_nopk (code)")  # unique but nullable
    cur.execute("CREATE UNIQUE INDEX ON public.pin_nopk (note) WHERE note IS NOT NULL")  # partial
    cur.execute("INSERT INTO public.pin_nopk VALUES ('a@example.com', 'a', 'x'), ('b@example.com', NULL, NULL)")
    every_bucket = [f"{i:x}" for i in range(16)]
    for key in (["email"], ["code"], ["note"]):  # the stack's Lambda serves every table, declares no key
        failed, payload = _invoke(endpoints, _reconcile_event("pin_nopk", key, every_bucket))
        assert failed and payload["errorType"] == "SourceError"
        message = payload["errorMessage"]
        assert f"reconcile by ({key[0]}) refused" in message
        assert "no key is declared for it" in message and "public.pin_nopk(email)" in message  # the fix, named
        assert "example.com" not in json.dumps(payload)
    # declared by the exporter's configuration: answered, and only by that key
    exporter_env("public.pin_nopk(email)", dsn=endpoints.pg_dsn)
    answer = handler(_reconcile_event("pin_nopk", ["email"], every_bucket))
    assert sorted(k[0] for k, _ in answer["rows"]) == ["a@example.com", "b@example.com"]
    with pytest.raises(SourceError, match=r"reconcile by \(code\) refused.* declares for it: \(email\)"):
        handler(_reconcile_event("pin_nopk", ["code"], every_bucket))
    cur.execute("CREATE TABLE public.pin_nokey (a int, b int)")
    failed, payload = _invoke(endpoints, _reconcile_event("pin_nokey", ["a"]))
    assert failed and "the table has no primary key" in payload["errorMessage"]
    assert "its unique index" not in payload["errorMessage"]  # no candidate to name


def test_a_key_declared_in_the_exporters_allow_list_serves_a_table_without_one(pg, endpoints, exporter_env):
    """The configured key of a keyless table is the exporter's configuration's, never the event's."""
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.pin_declared (k int NOT NULL, secret text NOT NULL)")
    cur.execute("INSERT INTO public.pin_declared SELECT g % 3, 'top-secret-' || g FROM generate_series(1, 6) g")
    exporter_env("public.pin_declared(k)", dsn=endpoints.pg_dsn)
    answer = handler(_reconcile_event("pin_declared", ["k"]))
    assert answer["rows"] == 6
    with pytest.raises(SourceError, match=r"reconcile by \(secret\) refused.* declares for it: \(k\)"):
        handler(_reconcile_event("pin_declared", ["secret"], [f"{i:x}" for i in range(16)]))
    exporter_env("public.pin_declared", dsn=endpoints.pg_dsn)  # allowed, but no key declared
    with pytest.raises(SourceError, match=r"declare its key in the exporter's AURORA_SYNC_ALLOWED_TABLES"):
        handler(_reconcile_event("pin_declared", ["k"]))


def test_reconcile_runs_in_a_read_only_transaction(pg, endpoints):
    """A row-level security policy that writes on every row read (a function inserting an audit row):
    a reading role sees it write in an ordinary transaction; the reconcile's transaction refuses the write."""
    cur = pg.cursor()
    cur.execute("DROP ROLE IF EXISTS pin_reader")
    cur.execute("CREATE ROLE pin_reader LOGIN PASSWORD 'reader'")
    cur.execute("CREATE TABLE public.pin_audit (seen int)")
    cur.execute(
        "CREATE FUNCTION public.pin_audited(i int) RETURNS boolean LANGUAGE plpgsql VOLATILE AS "
        "$$ BEGIN INSERT INTO public.pin_audit VALUES (i); RETURN true; END $$"
    )
    cur.execute("CREATE TABLE public.pin_rls (id int PRIMARY KEY, v int NOT NULL)")
    cur.execute("INSERT INTO public.pin_rls SELECT g, g FROM generate_series(1, 3) g")
    cur.execute("ALTER TABLE public.pin_rls ENABLE ROW LEVEL SECURITY")
    cur.execute("CREATE POLICY audited ON public.pin_rls FOR SELECT USING (public.pin_audited(id))")
    cur.execute("GRANT SELECT ON public.pin_rls TO pin_reader")
    cur.execute("GRANT INSERT ON public.pin_audit TO pin_reader")
    url = urlparse(endpoints.pg_dsn)
    dsn = url._replace(netloc=f"pin_reader:reader@{url.hostname}:{url.port}").geturl()
    with psycopg2.connect(dsn) as control, control.cursor() as c:  # the policy really writes
        c.execute("SELECT count(*) FROM public.pin_rls")
    cur.execute("SELECT count(*) FROM public.pin_audit")
    assert cur.fetchone() == (3,)
    conn = connect(dsn)
    try:
        with pytest.raises(psycopg2.errors.ReadOnlySqlTransaction, match="read-only transaction"):
            run_reconcile(conn, ReconcileRequest("public", "pin_rls", ("id",), 1))
    finally:
        conn.close()
    cur.execute("SELECT count(*) FROM public.pin_audit")
    assert cur.fetchone() == (3,)  # nothing more was written


# --- signed manifests ----------------------------------------------------------------------------


def test_a_manifest_the_lambda_writes_is_signed_with_the_stacks_key(pg, endpoints, s3, stack):
    _table(pg, "pin_signed", rows=6)
    failed, payload = _invoke(endpoints, _event("pin_signed"))
    assert not failed, payload
    doc = json.loads(s3.get_object(Bucket=BUCKET, Key=payload["manifest_key"])["Body"].read())
    keys = parse_keys(stack.manifest_keys_text)
    assert verify(doc, keys) == stack.manifest_key_id  # the Lambda read the key from Vault
    assert doc["signature"]["algorithm"] == "HMAC-SHA256"
    assert stack.manifest_keys_text.split(":")[1] not in json.dumps(doc)
    doc["window"]["high"] = "9999"  # a writer of manifests/ without the key
    with pytest.raises(ManifestError, match="does not match the manifest's content"):
        verify(doc, keys)


def test_without_a_signing_key_the_export_fails_and_writes_nothing(pg, endpoints, s3, monkeypatch):
    _table(pg, "pin_nokey_export")
    monkeypatch.delenv("AURORA_SYNC_MANIFEST_SIGNING_KEY")
    monkeypatch.delenv("VAULT_SECRET_PATH_MANIFEST_KEY", raising=False)
    request = ExportRequest(
        "public", "pin_nokey_export", "incremental", S3Target(BUCKET, PREFIX, REGION), "v", late_row_guard=False
    )
    conn = connect(endpoints.pg_dsn)
    try:
        with pytest.raises(ExportError) as info:
            run_export(conn, s3, request)
    finally:
        conn.close()
    message = str(info.value)
    assert "VAULT_SECRET_PATH_MANIFEST_KEY" in message and "AURORA_SYNC_MANIFEST_SIGNING_KEY" in message
    assert _written_for(s3, "pin_nokey_export") == []


def test_include_columns_of_the_primary_key_are_no_key_for_reconcile_or_export(pg, endpoints, s3):
    """`PRIMARY KEY (id) INCLUDE (secret)`: pg_index.indkey lists the INCLUDE column after the key, but only
    the first indnkeyatts are the key. Reconcile by (id, secret) is refused with no value; an export without
    a configured key takes (id) alone as its primary key."""
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.pin_include (id int, v int NOT NULL, secret text NOT NULL)")
    cur.execute("ALTER TABLE public.pin_include ADD PRIMARY KEY (id) INCLUDE (secret)")
    cur.execute("INSERT INTO public.pin_include SELECT g, g, 'top-secret-' || g FROM generate_series(1, 3) g")
    every_bucket = [f"{i:x}" for i in range(16)]
    failed, payload = _invoke(endpoints, _reconcile_event("pin_include", ["id", "secret"], every_bucket))
    assert failed and "top-secret" not in json.dumps(payload)
    failed, payload = _invoke(endpoints, _reconcile_event("pin_include", ["id"], every_bucket))
    assert not failed, payload

    failed, payload = _invoke(endpoints, _event("pin_include"))
    assert not failed, payload
    key = PREFIX + manifest_prefix("public", "pin_include") + payload["export_id"] + ".json"
    manifest = json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    keyed = {c["name"]: c["primary_key_position"] for c in manifest["columns"] if c["primary_key_position"]}
    assert keyed == {"id": 1}
