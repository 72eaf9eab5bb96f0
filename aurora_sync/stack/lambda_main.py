"""Entry point of the loopback Lambda endpoint: the Lambda Invoke API on 127.0.0.1, calling the handler.

It serves `POST /2015-03-31/functions/<name>/invocations` as AWS does, so boto3's real `invoke`
path runs end to end. A handler exception comes back as AWS reports it: HTTP 200 with the header
`X-Amz-Function-Error: Unhandled` and a body of `errorMessage` / `errorType`.
"""

from __future__ import annotations

import argparse
import json
import re
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from lambda_exporter.handler import handler

INVOKE_PATH = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations$")


class _Context:
    def __init__(self, name: str) -> None:
        self.function_name = name
        self.aws_request_id = "loopback"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 900_000


class InvokeHandler(BaseHTTPRequestHandler):
    function_name = "aurora-sync-exporter"

    def do_POST(self) -> None:
        match = INVOKE_PATH.match(self.path.split("?")[0])
        if not match:
            self._reply(404, {"message": f"no route {self.path}"})
            return
        name = match.group("name")
        if name != self.function_name:
            self._reply(
                404,
                {"Type": "User", "message": f"Function not found: {name}"},
                {"x-amzn-ErrorType": "ResourceNotFoundException"},
            )
            return
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            payload: Any = handler(json.loads(body or b"{}"), _Context(name))
            self._reply(200, payload)
        except Exception as err:
            error = {
                "errorMessage": str(err),
                "errorType": type(err).__name__,
                "stackTrace": traceback.format_exception(err)[-3:],
            }
            self._reply(200, error, {"X-Amz-Function-Error": "Unhandled"})

    def _reply(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Amz-Executed-Version", "$LATEST")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        return


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--function-name", default=InvokeHandler.function_name)
    args = parser.parse_args()
    InvokeHandler.function_name = args.function_name
    ThreadingHTTPServer(("127.0.0.1", args.port), InvokeHandler).serve_forever()


if __name__ == "__main__":
    main()
