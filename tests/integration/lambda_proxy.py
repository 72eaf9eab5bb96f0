"""A loopback proxy in front of the stack's Lambda endpoint: it records every invocation that reaches the
endpoint (the event's table and fan-out part), and can answer chosen part invocations the way Lambda
reports a function that failed (HTTP 200, `X-Amz-Function-Error: Unhandled`, errorMessage/errorType),
e.g. one that ran out of time, without forwarding them."""

from __future__ import annotations

import http.client
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlparse

TIMED_OUT = {"errorMessage": "Task timed out after 900.00 seconds", "errorType": "Sandbox.Timedout"}


@dataclass
class Invocation:
    table: str | None
    part: int | None  # the fan-out part's index, None for a plan or an ordinary export
    failed: bool  # answered with a function error by the proxy, never reached the endpoint


@dataclass
class LambdaProxy:
    upstream: str
    fail_parts: dict[int, int] = field(default_factory=dict)  # part index -> invocations to fail
    invocations: list[Invocation] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        target = urlparse(self.upstream)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                event: Any = json.loads(body or b"{}")
                table = f"{event['table']['schema']}.{event['table']['name']}" if "table" in event else None
                part = event.get("part", {}).get("index") if isinstance(event.get("part"), dict) else None
                with proxy._lock:
                    fail = part is not None and proxy.fail_parts.get(part, 0) > 0
                    if fail:
                        proxy.fail_parts[part] -= 1
                    proxy.invocations.append(Invocation(table, part, fail))
                if fail:
                    self._send(200, json.dumps(TIMED_OUT).encode(), {"X-Amz-Function-Error": "Unhandled"})
                    return
                conn = http.client.HTTPConnection(target.hostname, target.port, timeout=900)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                conn.request("POST", self.path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
                extra = {k: v for k, v in response.getheaders() if k.lower().startswith("x-amz")}
                self._send(response.status, data, extra)
                conn.close()

            def _send(self, status: int, data: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def reached(self, table: str) -> list[Invocation]:
        """The invocations of `table` that reached the Lambda endpoint."""
        with self._lock:
            return [i for i in self.invocations if i.table == table and not i.failed]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
