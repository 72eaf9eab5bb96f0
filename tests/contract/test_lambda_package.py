"""`make lambda-package` builds a zip whose handler imports in a clean interpreter, without dev tools."""

from __future__ import annotations

import subprocess
import sys
import zipfile

import pytest

from tools.build_lambda import HANDLER, RUNTIME_PYTHON, build


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    out = tmp_path_factory.mktemp("lambda")
    archive = build(out)
    unpacked = out / "unpacked"
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(unpacked)
    return archive, unpacked


def test_the_handler_imports_from_the_unpacked_zip_in_a_clean_interpreter(package):
    if f"{sys.version_info.major}.{sys.version_info.minor}" != RUNTIME_PYTHON:
        pytest.skip(f"the zip holds wheels for Python {RUNTIME_PYTHON}")
    _, unpacked = package
    module, _, function = HANDLER.rpartition(".")
    code = (
        f"import sys; sys.path[:0] = [{str(unpacked)!r}]; import {module} as m; "
        f"import psycopg2, isal, hvac; assert callable(m.{function}); print(m.__file__)"
    )
    result = subprocess.run([sys.executable, "-I", "-S", "-B", "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(str(unpacked))


def test_the_zip_holds_runtime_code_only_and_fits_lambda_limits(package):
    archive, unpacked = package
    top = {p.name for p in unpacked.iterdir()}
    assert {"lambda_exporter", "sync_contract", "psycopg2", "boto3", "botocore", "isal", "hvac"} <= top
    for dev_only in ("pytest", "moto", "fakesnow", "snowflake", "duckdb", "aurora_sync", "stored_procs", "tests"):
        assert dev_only not in top
    with zipfile.ZipFile(archive) as zf:
        assert not [n for n in zf.namelist() if "__pycache__" in n or n.endswith(".pyc")]
    assert archive.stat().st_size < 50 * 1024 * 1024
    assert sum(p.stat().st_size for p in unpacked.rglob("*") if p.is_file()) < 250 * 1024 * 1024


def test_the_build_is_deterministic(package, tmp_path):
    archive, _ = package
    again = build(tmp_path)
    assert again.read_bytes() == archive.read_bytes()
