"""A webhook receiver for the alert tests: an HTTP server on 127.0.0.1 (a free port) keeping every POST."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    url: str
    posts: list[dict[str, Any]] = field(default_factory=list)  # {"path", "content_type", "body" (JSON or text)}

    def texts(self) -> list[str]:
        return [p["body"]["text"] if isinstance(p["body"], dict) else p["body"] for p in self.posts]


@contextmanager
def webhook_receiver(status: int = 200, delay_s: float = 0.0) -> Iterator[Received]:
    """Yields the receiver; its URL has a path like a Slack webhook's (its secret), which no message may show.
    `delay_s`: each POST is kept (at once) and answered that much later (a slow webhook)."""
    received: Received

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            try:
                body: Any = json.loads(raw)
            except ValueError:
                body = raw
            received.posts.append({"path": self.path, "content_type": self.headers.get("Content-Type"), "body": body})
            time.sleep(delay_s)
            self.send_response(status)
            self.end_headers()

        def log_message(self, *args: Any) -> None:  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    received = Received(f"http://127.0.0.1:{server.server_address[1]}/services/T0/B0/SECRET")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield received
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Silent:
    url: str
    connections: int = 0  # TCP connections accepted (a POST each)


@contextmanager
def silent_receiver() -> Iterator[Silent]:
    """A webhook that accepts connections and never answers: every POST to it waits for its timeout."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    silent = Silent(f"http://127.0.0.1:{server.getsockname()[1]}/services/T0/B0/SECRET")
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            held.append(conn)
            silent.connections += 1

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield silent
    finally:
        stop.set()
        thread.join(timeout=2)
        for conn in held:
            conn.close()
        server.close()
