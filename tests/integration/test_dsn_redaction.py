"""Errors a person acts on (issue 15 item 3), other inputs: a DSN libpq cannot decode must not print its
password; `aurora-sync status` with an unreachable Snowflake is one line, exit 3, like `run`."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from aurora_sync.cli import EXIT_UNREACHABLE
from aurora_sync.stack.process import free_port

pytestmark = pytest.mark.integration


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aurora_sync.cli", *args], capture_output=True, text=True, timeout=180, check=False
    )


@pytest.mark.parametrize(
    "dsn",
    [
        "postgresql://postgres:pg-secret-pw%zz@127.0.0.1:{port}/app",  # a '%' the user did not encode
        "postgresql://postgres:pg-secret-pw@127.0.0.1:{port}x/app",  # a typo in the port
        "host=127.0.0.1 port={port} user=postgres password='pg-secret-pw dbname=app",  # an unclosed quote
    ],
)
def test_a_dsn_libpq_refuses_never_prints_its_password(harness, tmp_path, dsn):
    port = free_port()
    toml = harness.add("public.atk_dsn", ["id"], "v").toml
    toml = "\n".join(line for line in toml.splitlines() if not line.startswith(("lambda_function", "lambda_endpoint")))
    toml = re.sub(
        r'(?m)^dsn = ".*"$', lambda _: f"dsn = {dsn.format(port=port)!r}".replace("'", '"', 1)[:-1] + '"', toml
    )
    config = tmp_path / "sync.toml"
    config.write_text(toml)
    result = _cli("run", "--config", str(config))
    assert result.returncode != 0
    assert "pg-secret-pw" not in result.stdout + result.stderr, result.stdout + result.stderr


def test_status_with_an_unreachable_snowflake_is_one_line(harness, tmp_path):
    port = free_port()
    toml = re.sub(r"(?m)^port = \d+$", f"port = {port}", harness.add("public.atk_unreached", ["id"], "v").toml)
    config = tmp_path / "sync.toml"
    config.write_text(toml)
    result = _cli("status", "--config", str(config))
    assert result.returncode == EXIT_UNREACHABLE, result.stdout + result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"aurora-sync: Snowflake at 127.0.0.1:{port}"), line


@pytest.mark.parametrize("line", ['passwrd = "sf-secret-pw"', "password = 12345678", 'token = ["sf-secret-pw"]'])
def test_a_refused_snowflake_key_never_prints_its_value(harness, tmp_path, line):
    toml = harness.add("public.atk_typo", ["id"], "v").toml.replace("[snowflake]\n", f"[snowflake]\n{line}\n")
    config = tmp_path / "sync.toml"
    config.write_text(toml)
    result = _cli("run", "--config", str(config))
    out = result.stdout + result.stderr
    assert "sf-secret-pw" not in out and "12345678" not in out, out
