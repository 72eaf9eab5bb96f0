"""The embedded stack starts on loopback only and leaves nothing behind."""

from __future__ import annotations

import socket
from urllib.parse import urlparse

import psycopg2

from aurora_sync.stack.stack import EmbeddedStack


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.3)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_stack_binds_loopback_and_cleans_up():
    stack = EmbeddedStack()
    with stack as ep:
        urls = [ep.s3_endpoint, ep.lambda_endpoint, f"http://{ep.snowflake['host']}:{ep.snowflake['port']}"]
        ports = [urlparse(u).port for u in urls] + [urlparse(ep.pg_dsn).port]
        assert all(urlparse(u).hostname == "127.0.0.1" for u in urls)
        assert urlparse(ep.pg_dsn).hostname == "127.0.0.1"
        with psycopg2.connect(ep.pg_dsn) as conn, conn.cursor() as cur:
            cur.execute("SHOW listen_addresses")
            assert cur.fetchone() == ("127.0.0.1",)
        conn.close()
        assert all(_listening(p) for p in ports)
        workdir = ep.workdir
        assert workdir.exists()
    assert not workdir.exists()
    assert not any(_listening(p) for p in ports)
