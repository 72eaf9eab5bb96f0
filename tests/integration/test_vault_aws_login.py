"""The AWS IAM login, checked at the HTTP boundary: Vault's `aws` auth method needs AWS STS, which cannot
run here, so a loopback stand-in for Vault records what the exporter sends and answers as Vault does."""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from lambda_exporter.secrets import VaultAuthError, VaultCredentials, VaultSettings


class FakeVault:
    def __init__(self, accept_login: bool = True) -> None:
        self.logins: list[dict[str, Any]] = []
        self.reads: list[str | None] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.logins.append({"path": self.path, **body})
                if not accept_login:
                    self._send(400, {"errors": ["entry for role lambda-exporter not found"]})
                    return
                self._send(200, {"auth": {"client_token": "hvs.from-iam-login", "lease_duration": 3600}})

            def do_GET(self) -> None:
                fake.reads.append(self.headers.get("X-Vault-Token"))
                self._send(
                    200,
                    {
                        "data": {
                            "data": {"host": "db", "port": 5432, "database": "app", "user": "u", "password": "p"},
                            "metadata": {"version": 1},
                        }
                    },
                )

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.addr = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def aws_env(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "example-secret-key")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "example-session-token")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")


def test_the_iam_login_sends_a_signed_sts_request_and_uses_the_token_it_gets(aws_env):
    vault = FakeVault()
    try:
        settings = VaultSettings(
            addr=vault.addr,
            secret_path="aurora-sync/prod",
            auth_method="aws",
            aws_role="lambda-exporter",
            aws_server_id="vault.example.com",
        )
        creds = VaultCredentials(settings).get()
    finally:
        vault.close()
    assert creds.user == "u"
    (login,) = vault.logins
    assert login["path"] == "/v1/auth/aws/login"
    assert login["role"] == "lambda-exporter"
    assert login["iam_http_request_method"] == "POST"
    assert base64.b64decode(login["iam_request_body"]).decode() == "Action=GetCallerIdentity&Version=2011-06-15"
    headers = json.loads(base64.b64decode(login["iam_request_headers"]))
    flat = {k.lower(): v[0] if isinstance(v, list) else v for k, v in headers.items()}
    assert flat["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIAEXAMPLEEXAMPLE/")
    assert flat["x-vault-aws-iam-server-id"] == "vault.example.com"
    assert flat["x-amz-security-token"] == "example-session-token"
    assert vault.reads == ["hvs.from-iam-login"]


def test_a_refused_iam_login_names_the_role_and_the_fix(aws_env):
    vault = FakeVault(accept_login=False)
    try:
        settings = VaultSettings(addr=vault.addr, secret_path="p", auth_method="aws", aws_role="lambda-exporter")
        with pytest.raises(VaultAuthError, match="refused the AWS IAM login as role 'lambda-exporter'") as info:
            VaultCredentials(settings).get()
    finally:
        vault.close()
    assert "example-secret-key" not in str(info.value)
