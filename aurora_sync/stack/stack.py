"""The embedded stack as one context manager: start everything on loopback, write a sync config for
it, stop everything and remove every file it made."""

from __future__ import annotations

import os
import secrets
import shutil
import sys
import tempfile
import urllib.request
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import boto3

from aurora_sync.stack.postgres import EmbeddedPostgres
from aurora_sync.stack.process import LOOPBACK, ManagedProcess, StackError, free_port, port_open
from aurora_sync.stack.vault import DevVault

REGION = "us-east-1"
BUCKET = "aurora-sync-exports"
PREFIX = "aurora-sync/"
FUNCTION = "aurora-sync-exporter"
VAULT_SECRET_PATH = "aurora-sync/source"  # noqa: S105 - a path in Vault, not a secret
VAULT_MANIFEST_KEY_PATH = "aurora-sync/manifest-key"  # the exporter's manifest signing key in Vault
SIGNING_KEY_ENV = "AURORA_SYNC_MANIFEST_SIGNING_KEY"  # lambda_exporter.manifest_key: an in-process exporter
VERIFY_KEYS_ENV = "AURORA_SYNC_MANIFEST_KEYS"  # the procedures' keys outside Snowflake (stored_procs)
ALLOWED_TABLES = "*"  # the stack's tests create tables of every name; a deployment lists its own
DATABASE = "ANALYTICS"
CONTROL_SCHEMA = "AURORA_SYNC"
# moto accepts any credentials; these keep boto3 from looking for real ones
FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_EC2_METADATA_DISABLED": "true",
}


@dataclass(frozen=True)
class Endpoints:
    pg_dsn: str
    s3_endpoint: str
    snowflake: dict[str, Any]
    lambda_endpoint: str
    vault_addr: str
    workdir: Path


class EmbeddedStack:
    """PostgreSQL + moto S3 + fakesnow + OpenBao + loopback Lambda, each bound to 127.0.0.1."""

    def __init__(self, keep_logs: Path | None = None) -> None:
        self.keep_logs = keep_logs
        self.workdir = Path(tempfile.mkdtemp(prefix="aurora-sync-stack-"))
        self.workdir.chmod(0o711)  # PostgreSQL runs as an unprivileged user when we are root
        self._exit = ExitStack()
        self._procs: list[ManagedProcess] = []
        self._saved_env: dict[str, str | None] = {}
        self.endpoints: Endpoints | None = None
        # a fresh manifest signing key per start (sync_contract.signing): the exporter Lambda reads it from
        # Vault; this process (in-process exporter, the procedures' verifier) from the environment
        self.manifest_key_id = f"stack-{secrets.token_hex(4)}"
        self._manifest_key_hex = secrets.token_hex(32)

    @property
    def manifest_keys_text(self) -> str:
        """The stack's manifest key as '<key_id>:<hex>': the verifier's (and an in-process exporter's) key."""
        return f"{self.manifest_key_id}:{self._manifest_key_hex}"

    def exporter_env(self, s3_endpoint: str) -> dict[str, str]:
        """The exporter's own settings (lambda_exporter.policy): where exports go, which tables it serves."""
        return {
            "AURORA_SYNC_S3_BUCKET": BUCKET,
            "AURORA_SYNC_S3_PREFIX": PREFIX,
            "AURORA_SYNC_S3_REGION": REGION,
            "AURORA_SYNC_S3_ENDPOINT_URL": s3_endpoint,
            "AURORA_SYNC_ALLOW_LOCAL_ENDPOINT": "1",  # moto on loopback, over http
            "AURORA_SYNC_ALLOWED_TABLES": ALLOWED_TABLES,
        }

    def __enter__(self) -> Endpoints:
        try:
            return self._start()
        except BaseException:
            self.close()
            raise

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _start(self) -> Endpoints:
        self._set_env(FAKE_AWS_ENV)  # this process talks to moto too
        (self.workdir / "tmp").mkdir()
        child_env = {**FAKE_AWS_ENV, "TMPDIR": str(self.workdir / "tmp")}
        pg = self._exit.enter_context(EmbeddedPostgres(self.workdir / "pg"))

        s3_port = free_port()
        moto = self._spawn("moto", [sys.executable, "-m", "moto.server", "-H", LOOPBACK, "-p", str(s3_port)], child_env)
        s3_endpoint = f"http://{LOOPBACK}:{s3_port}"
        moto.wait_ready(lambda: _http_ok(s3_endpoint + "/moto-api/"))
        boto3.client("s3", endpoint_url=s3_endpoint, region_name=REGION).create_bucket(Bucket=BUCKET)

        sf_port = free_port()
        fakesnow = self._spawn(
            "fakesnow",
            [
                sys.executable,
                "-m",
                "aurora_sync.stack.fakesnow_main",
                "--port",
                str(sf_port),
                "--s3-endpoint",
                s3_endpoint,
                "--region",
                REGION,
            ],
            child_env,
        )
        fakesnow.wait_ready(lambda: port_open(sf_port))

        # the exporter reads the database credentials from Vault, as in production
        vault = self._exit.enter_context(DevVault(self.workdir / "vault"))
        vault.put(VAULT_SECRET_PATH, **pg.login)  # as libpq logged in: PGPASSWORD / ~/.pgpass resolved
        vault.put(VAULT_MANIFEST_KEY_PATH, key_id=self.manifest_key_id, key=self._manifest_key_hex)
        lambda_port = free_port()
        exporter = self._spawn(
            "lambda",
            [
                sys.executable,
                "-m",
                "aurora_sync.stack.lambda_main",
                "--port",
                str(lambda_port),
                "--function-name",
                FUNCTION,
            ],
            {
                **child_env,
                "VAULT_ADDR": vault.addr,
                "VAULT_TOKEN": vault.root_token,
                "VAULT_SECRET_PATH_AURORA": VAULT_SECRET_PATH,
                "VAULT_SECRET_PATH_MANIFEST_KEY": VAULT_MANIFEST_KEY_PATH,
                **self.exporter_env(s3_endpoint),
            },
        )
        exporter.wait_ready(lambda: port_open(lambda_port))
        # after the children started (they inherit this environment): the Lambda reads its key from Vault only
        self._set_env({SIGNING_KEY_ENV: self.manifest_keys_text, VERIFY_KEYS_ENV: self.manifest_keys_text})

        self.endpoints = Endpoints(
            pg_dsn=pg.dsn,
            s3_endpoint=s3_endpoint,
            snowflake={
                "account": "fakesnow",
                "user": "fake",
                "password": "snow",
                "host": LOOPBACK,
                "port": sf_port,
                "protocol": "http",
            },
            lambda_endpoint=f"http://{LOOPBACK}:{lambda_port}",
            vault_addr=vault.addr,
            workdir=self.workdir,
        )
        return self.endpoints

    def _set_env(self, values: dict[str, str]) -> None:
        """Set variables of this process's environment; `close` puts back what was there before."""
        for key, value in values.items():
            self._saved_env.setdefault(key, os.environ.get(key))
            os.environ[key] = value

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> ManagedProcess:
        proc = ManagedProcess(name=name, argv=argv, log_path=self.workdir / "logs" / f"{name}.log", env=env)
        proc.start()
        self._procs.append(proc)
        return proc

    def config_toml(self, tables_toml: str) -> str:
        """A sync.toml pointing at this stack, followed by the given [[tables]] entries."""
        ep = self.endpoints
        assert ep is not None
        sf = ep.snowflake
        return f"""# written by the embedded stack; every endpoint is on {LOOPBACK}
[source]
dsn = "{ep.pg_dsn}"

[s3]
bucket = "{BUCKET}"
prefix = "{PREFIX}"
endpoint_url = "{ep.s3_endpoint}"
region = "{REGION}"

[snowflake]
account = "{sf["account"]}"
user = "{sf["user"]}"
password = "{sf["password"]}"
host = "{sf["host"]}"
port = {sf["port"]}
protocol = "{sf["protocol"]}"
database = "{DATABASE}"
control_schema = "{CONTROL_SCHEMA}"
login_timeout = 10  # a local server: fail fast instead of retrying for minutes
# an emulator error (HTTP 500) is retried for this long; it also cancels a statement running longer
# (aurora_sync/snowflake.py), so it is well above any laptop-sized COPY or MERGE
network_timeout = 300

[exporter]
lambda_function = "{FUNCTION}"
lambda_endpoint_url = "{ep.lambda_endpoint}"

{tables_toml}"""

    def close(self) -> None:
        """Stop everything we started, even when one part fails to stop; then remove our files."""
        failures: list[str] = []
        for proc in reversed(self._procs):
            try:
                proc.stop()
            except Exception as err:
                failures.append(f"{proc.name}: {err}")
        self._procs.clear()
        try:
            self._exit.close()
        except Exception as err:
            failures.append(f"postgres: {err}")
        if self.keep_logs is not None and (self.workdir / "logs").exists():
            shutil.copytree(self.workdir / "logs", self.keep_logs, dirs_exist_ok=True)
        shutil.rmtree(self.workdir, ignore_errors=True)
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env.clear()
        if failures:
            raise StackError("the embedded stack did not stop cleanly: " + "; ".join(failures))


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 # nosec B310
            return bool(response.status < 500)
    except OSError:
        return False
