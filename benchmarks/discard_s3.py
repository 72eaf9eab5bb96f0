"""A loopback S3 endpoint that accepts objects and multipart uploads and throws the bytes away.

It is to the exporter what /dev/null is to `psql \\copy`: the benchmark's like-for-like target, so the
figure measures the exporter's own work (COPY, batching, gzip, part uploads over HTTP), not the CPU
an S3 emulator burns on the same two cores.
"""

from __future__ import annotations

import argparse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _drain(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        while length > 0:
            length -= len(self.rfile.read(min(length, 1 << 20)))

    def _reply(self, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(200)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_PUT(self) -> None:
        self._drain()
        self._reply(headers={"ETag": f'"{uuid.uuid4().hex}"'})

    def do_GET(self) -> None:
        self._drain()
        body = b"<Error><Code>NoSuchKey</Code><Message>discarded</Message></Error>"
        self.send_response(404)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        self._drain()
        query = parse_qs(urlparse(self.path).query, keep_blank_values=True)
        if "uploads" in query:
            body = (
                f"<InitiateMultipartUploadResult><UploadId>{uuid.uuid4().hex}</UploadId>"
                "</InitiateMultipartUploadResult>"
            )
        else:
            body = f'<CompleteMultipartUploadResult><ETag>"{uuid.uuid4().hex}"</ETag></CompleteMultipartUploadResult>'
        self._reply(body.encode(), {"Content-Type": "application/xml"})

    def log_message(self, format: str, *args: Any) -> None:
        return


def main() -> None:
    """Run in its own process, so it does not share the exporter's interpreter lock."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    ThreadingHTTPServer(("127.0.0.1", parser.parse_args().port), _Handler).serve_forever()


if __name__ == "__main__":
    main()
