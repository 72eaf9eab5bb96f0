"""Alerts with two runs finishing close together (the documented concurrent runs) and a slow webhook:
one message per incident ("once when it opens"), whatever the number of finalizers evaluating it."""

from __future__ import annotations

import json
import threading
import time
import tomllib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from aurora_sync.alerts import AlertsConfig, evaluate_local
from aurora_sync.config import parse_config
from aurora_sync.snowflake import snowpark_session

pytestmark = pytest.mark.integration


def _slow_receiver(delay: float) -> tuple[ThreadingHTTPServer, list[Any]]:
    posts: list[Any] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            posts.append(json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0))))
            time.sleep(delay)  # a webhook that takes its time (within timeout_seconds)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, posts


def test_two_finalizers_send_one_message_per_incident(pg, harness):
    h = harness.add("public.atk_alert_missing", ["id"], "updated_at")  # no such source table: the run fails
    assert h.cycle().failed
    server, posts = _slow_receiver(3.0)
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        alerts = AlertsConfig(url, "generic", 30.0)
        config = parse_config(tomllib.loads(h.toml))
        results: list[Any] = []

        def finalizer(run_id: str, wait: float) -> None:
            time.sleep(wait)
            with snowpark_session(config.snowflake_connect, config.database) as session:
                results.append(evaluate_local(session, config.place, list(config.tables), run_id, alerts))

        threads = [
            threading.Thread(target=finalizer, args=("run-a", 0.0)),
            threading.Thread(target=finalizer, args=("run-b", 1.0)),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    finally:
        server.shutdown()
        server.server_close()
    opened = [p.get("incident_id") for p in posts if p.get("event") == "opened"]
    rows = h.query(f"SELECT INCIDENT_ID, OPEN_NOTIFIED_AT IS NOT NULL FROM {h.control('INCIDENTS')}")
    assert (len(opened), [tuple(r) for r in rows]) == (1, [(opened[0], True)]), (opened, rows)


def test_a_webhook_that_never_answers_delays_the_run_once_not_per_incident(pg, harness):
    """A blackholed webhook (accepts the connection, never answers): every notice waits timeout_seconds.
    With four incidents opening at once, the finalizer should give up on the destination after the first
    timeout (the others are sent again next run anyway), not add 4 x timeout to the run."""
    import socket

    for i in range(4):
        harness.add(f"public.atk_alert_gone_{i}", ["id"], "updated_at")
    assert len(harness.cycle().failed) == 4
    sink = socket.socket()
    sink.bind(("127.0.0.1", 0))
    sink.listen(16)  # never accepted: the request is sent, no answer comes
    try:
        alerts = AlertsConfig(f"http://127.0.0.1:{sink.getsockname()[1]}/hook", "generic", 2.0)
        config = parse_config(tomllib.loads(harness.toml))
        started = time.monotonic()
        result = evaluate_local(harness.snow, config.place, list(config.tables), "run-x", alerts)
        elapsed = time.monotonic() - started
    finally:
        sink.close()
    assert len(result["undelivered"]) == 4
    assert elapsed < 2 * 2.0 + 3, f"the finalizer waited {elapsed:.1f} s on a dead webhook"
