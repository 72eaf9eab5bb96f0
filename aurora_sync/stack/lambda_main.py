"""Entry point of the loopback Lambda endpoint: the Lambda Invoke API on 127.0.0.1, calling the handler.

It serves `POST /2015-03-31/functions/<name>/invocations` as AWS does, so boto3's real `invoke`
path runs end to end. A handler exception comes back as AWS reports it: HTTP 200 with the header
`X-Amz-Function-Error: Unhandled` and a body of `errorMessage` / `errorType`. The header
`X-Amz-Invocation-Type: Event` (asynchronous invocation) is answered 202 with an empty body at once and the
handler runs in a thread of its own (which may invoke this endpoint again: the parts of a fan-out export);
`DryRun` is answered 204 (Lambda API reference, "Invoke": StatusCode
200 for RequestResponse, 202 for Event, 204 for DryRun).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import threading
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
        invocation = self.headers.get("X-Amz-Invocation-Type") or "RequestResponse"
        if invocation == "Event":  # queued: 202 and no payload; the function runs on its own
            threading.Thread(target=_run_event, args=(body, name), daemon=True).start()
            self._reply(202, None, body=b"")
            return
        if invocation == "DryRun":
            self._reply(204, None, body=b"")
            return
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

    def _reply(
        self, status: int, payload: Any, headers: dict[str, str] | None = None, body: bytes | None = None
    ) -> None:
        data = json.dumps(payload).encode() if body is None else body
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


def _run_event(body: bytes, name: str) -> None:
    """An asynchronous invocation (InvocationType=Event): Lambda runs it once its queue hands it over and
    keeps no result; a failure is Lambda's to retry (the exporter module sets no retries) and the
    exporter's own answer in S3 reports it (lambda_exporter.answers)."""
    with contextlib.suppress(Exception):  # as Lambda: an asynchronous invocation's error reaches no caller
        handler(json.loads(body or b"{}"), _Context(name))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--function-name", default=InvokeHandler.function_name)
    args = parser.parse_args()
    InvokeHandler.function_name = args.function_name
    # what Lambda sets in every execution environment, and where its Invoke API is: the exporter invokes its
    # own function for the parts of a fan-out export (lambda_exporter.fan_out_async) through this endpoint
    # (boto3 reads AWS_ENDPOINT_URL_<SERVICE>: "Service-specific endpoints", AWS SDKs and Tools reference)
    os.environ.update(
        {
            "AWS_LAMBDA_FUNCTION_NAME": args.function_name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_ENDPOINT_URL_LAMBDA": f"http://127.0.0.1:{args.port}",
        }
    )
    ThreadingHTTPServer(("127.0.0.1", args.port), InvokeHandler).serve_forever()


if __name__ == "__main__":
    main()
