"""`make lambda-package`: a zip built only from the hashed lock, byte-identical across builds of one commit,
whose handler imports in a clean interpreter without dev tools.

The first build downloads the locked wheels from the package index (CI has it); the second installs from
the first one's wheelhouse with no index, so the pair costs one download.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
import zipfile
from email.parser import HeaderParser
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tools.build_lambda import (
    HANDLER,
    LOCK,
    PACKAGES,
    ROOT,
    RUNTIME_PYTHON,
    LockError,
    PipError,
    build,
    check_lock,
    locked_versions,
    runtime_requirements,
)

# The Lambda runtime python3.11 on x86_64, for the environment markers of Requires-Dist
TARGET_ENVIRONMENT = {
    **default_environment(),
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "python_version": RUNTIME_PYTHON,
    "python_full_version": f"{RUNTIME_PYTHON}.0",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
    "os_name": "posix",
    "extra": "",
}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def commit_sources(tmp_path_factory):
    """The packages as committed at HEAD (`git archive`): what a release builds, untouched by edits in progress."""
    sources = tmp_path_factory.mktemp("lambda-sources")
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", "HEAD", *PACKAGES], capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(sources)], input=archive, check=True)
    return sources


@pytest.fixture(scope="module")
def builds(tmp_path_factory, commit_sources):
    """Two builds of one commit into two folders; the second from the first's wheelhouse."""
    first, second = tmp_path_factory.mktemp("lambda-first"), tmp_path_factory.mktemp("lambda-second")
    one = build(first, sources=commit_sources)
    two = build(second, wheelhouse=first / "wheels", sources=commit_sources)
    return one, two


@pytest.fixture(scope="module")
def package(builds, tmp_path_factory):
    archive, _ = builds
    unpacked = tmp_path_factory.mktemp("lambda-unpacked")
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(unpacked)
    return archive, unpacked


def distributions(unpacked: Path) -> dict[str, tuple[str, list[str]]]:
    """{canonical name: (version, Requires-Dist lines)} of every *.dist-info in the unpacked zip."""
    found = {}
    for metadata in unpacked.glob("*.dist-info/METADATA"):
        headers = HeaderParser().parsestr(metadata.read_text(encoding="utf-8"))
        found[canonicalize_name(headers["Name"])] = (headers["Version"], headers.get_all("Requires-Dist") or [])
    return found


def test_two_builds_of_one_commit_are_byte_identical(builds):
    one, two = builds
    assert one != two
    assert sha256(one) == sha256(two), "the Lambda zip is not reproducible"


def test_every_runtime_dependency_of_pyproject_is_pinned_in_the_lock_within_its_range():
    pins = locked_versions(LOCK)
    for requirement in runtime_requirements():
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement} is not in {LOCK.name}: run `make lambda-lock`"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"{name}=={pins[name]} is outside pyproject's {requirement.specifier}: run `make lambda-lock`"
        )
    assert check_lock(LOCK) == pins


def test_every_requirement_in_the_lock_is_pinned_exactly_with_sha256_hashes():
    blocks = [b for b in LOCK.read_text().replace("\\\n", " ").splitlines() if b and not b.lstrip().startswith("#")]
    assert len(blocks) == len(locked_versions(LOCK)) > len(runtime_requirements())
    for block in blocks:
        assert re.match(r"^[A-Za-z0-9._-]+==[^\s;]+ ", block), f"not pinned with ==: {block[:60]}"
        hashes = re.findall(r"--hash=(\S+)", block)
        assert hashes, f"no hash: {block[:60]}"
        assert all(re.fullmatch(r"sha256:[0-9a-f]{64}", h) for h in hashes), block[:60]


@pytest.mark.parametrize(
    ("lock_text", "message"),
    [
        ("boto3==1.43.0 \\\n    --hash=sha256:" + "0" * 64 + "\n", r"psycopg2-binary \(.*\) is not locked"),
        ("psycopg2-binary>=2.9\n", "is not pinned with =="),
        ("psycopg2-binary==2.9.13\n", "has no --hash=sha256:"),
    ],
)
def test_a_lock_that_disagrees_with_pyproject_or_is_unhashed_is_refused_before_any_download(
    tmp_path, lock_text, message
):
    lock = tmp_path / "lambda-requirements.lock"
    lock.write_text(lock_text)
    with pytest.raises(LockError, match=message):
        build(tmp_path / "out", lock=lock)
    assert not (tmp_path / "out").exists()


def test_a_pin_outside_pyprojects_range_is_refused(tmp_path):
    lock = tmp_path / "lambda-requirements.lock"
    lock.write_text(LOCK.read_text().replace(f"boto3=={locked_versions(LOCK)['boto3']}", "boto3==1.42.0"))
    with pytest.raises(LockError, match=r"boto3==1\.42\.0 is outside pyproject's range"):
        check_lock(lock)


def test_a_wheel_that_does_not_match_its_locked_hash_is_refused(builds, tmp_path):
    """A substituted wheel (a compromised mirror or cache) with the locked name and version fails the build."""
    archive, _ = builds
    wheelhouse = tmp_path / "wheels"
    shutil.copytree(archive.parent / "wheels", wheelhouse)
    wheel = min(wheelhouse.glob("*.whl"), key=lambda p: p.stat().st_size)  # any locked wheel will do
    name = canonicalize_name(wheel.name.split("-")[0])
    with zipfile.ZipFile(wheel, "a") as zf:
        zf.writestr("backdoor.py", "import os\n")
    pin = re.escape(f"{name}=={locked_versions(LOCK)[name]}")
    with pytest.raises(PipError, match=rf"(?s)DO NOT MATCH THE HASHES.*{pin} from .*Got"):
        build(tmp_path / "out", wheelhouse=wheelhouse, sources=archive.parent / "package")
    assert not (tmp_path / "out" / "aurora-sync-exporter.zip").exists()


def test_the_zip_holds_the_handler_and_only_locked_distributions_at_their_locked_versions(package):
    archive, unpacked = package
    with zipfile.ZipFile(archive) as zf:
        names = set(zf.namelist())
    assert "lambda_exporter/handler.py" in names
    assert "sync_contract/__init__.py" in names
    shipped = {name: version for name, (version, _) in distributions(unpacked).items()}
    assert shipped == locked_versions(LOCK)
    # pip's record of its own install depends on the builder and is left out
    assert not [n for n in names if n.startswith("bin/") or n.endswith((".dist-info/RECORD", "/INSTALLER"))]


def test_the_lock_holds_every_dependency_of_what_it_locks(package):
    """--no-deps installs only the lock: a hand-edited lock missing a transitive dependency would ship broken."""
    _, unpacked = package
    shipped = distributions(unpacked)
    for name, (_, requires) in shipped.items():
        for line in requires:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate(TARGET_ENVIRONMENT):
                dependency = canonicalize_name(requirement.name)
                assert dependency in shipped, f"{name} needs {requirement}, which the lock does not hold"
                assert requirement.specifier.contains(shipped[dependency][0], prereleases=True), (name, line)


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
