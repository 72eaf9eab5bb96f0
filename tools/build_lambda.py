"""`make lambda-package`: the exporter as a deployable zip for the Lambda Python runtime on x86_64.

Runtime dependencies come only from the hashed lock `tools/lambda-requirements.lock` (`make lambda-lock`
writes it from pyproject's `[project].dependencies` for the target platform): every package pinned
`==` with the sha256 of its files, installed with `--require-hashes --no-deps`, never from open ranges.
Before building, the lock is checked against pyproject's ranges (`check_lock`), so the two cannot drift
apart silently. The wheels are downloaded into a wheelhouse (hash-checked), then installed from there
with no index (hash-checked again), for manylinux2014 x86_64 and CPython 3.11, plus the
`lambda_exporter` and `sync_contract` packages.

The zip is reproducible: the same commit and lock give the same bytes (sorted entries, fixed timestamps
and modes). What pip writes about its own install is left out because it depends on the machine and pip
version that built it, and Lambda never reads it: `bin/` (console scripts whose first line names the
builder's interpreter) and, in each `*.dist-info`, `RECORD` (hashes of those scripts), `INSTALLER`,
`REQUESTED` and `direct_url.json`. `METADATA` (what `importlib.metadata.version` reads), `entry_points.txt`
and the licenses stay.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tools.deterministic_zip import write_zip

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "tools" / "lambda-requirements.lock"
PACKAGES = ("lambda_exporter", "sync_contract")
PLATFORM = "manylinux2014_x86_64"
RUNTIME_PYTHON = "3.11"  # the Lambda runtime python3.11
ZIP_NAME = "aurora-sync-exporter.zip"
HANDLER = "lambda_exporter.handler.handler"
# pip's record of its own install: machine- and pip-dependent, not read by the runtime (module docstring)
INSTALL_RECORDS = frozenset({"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"})
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)")


class LockError(ValueError):
    """The lock file disagrees with pyproject.toml, or a line of it is not a hashed `==` pin."""


def runtime_requirements() -> list[Requirement]:
    """pyproject's `[project].dependencies`: what the Lambda needs at run time, as open ranges."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(text) for text in project["dependencies"]]


def locked_versions(lock: Path = LOCK) -> dict[str, str]:
    """{canonical distribution name: pinned version} of a `uv pip compile --generate-hashes` lock.

    Raises LockError for a requirement that is not `name==version` or has no `--hash=sha256:`.
    """
    pins: dict[str, str] = {}
    text = lock.read_text()
    for block in re.split(r"(?<!\\)\n", text):
        line = block.strip()
        if not line or line.startswith("#"):
            continue
        match = _PIN.match(line)
        if match is None:
            raise LockError(f"{lock.name}: {line.splitlines()[0]!r} is not pinned with ==; run `make lambda-lock`")
        if "--hash=sha256:" not in line:
            raise LockError(f"{lock.name}: {match.group(1)} has no --hash=sha256:; run `make lambda-lock`")
        pins[canonicalize_name(match.group(1))] = match.group(2)
    return pins


def check_lock(lock: Path = LOCK) -> dict[str, str]:
    """The lock's pins, after checking every runtime dependency of pyproject is pinned within its range.

    Raises LockError naming the package, its range and the pin (fix: `make lambda-lock`).
    """
    pins = locked_versions(lock)
    for requirement in runtime_requirements():
        name = canonicalize_name(requirement.name)
        if name not in pins:
            raise LockError(f"{lock.name}: {requirement.name} ({requirement}) is not locked; run `make lambda-lock`")
        if not requirement.specifier.contains(pins[name], prereleases=True):
            raise LockError(
                f"{lock.name}: {requirement.name}=={pins[name]} is outside pyproject's range "
                f"{requirement.specifier}; run `make lambda-lock`"
            )
    return pins


class PipError(RuntimeError):
    """pip refused: a file whose sha256 is not in the lock, a wheel missing for the platform, no network."""


def _pip(command: str, *args: str) -> None:
    target = ("--platform", PLATFORM, "--implementation", "cp", "--python-version", RUNTIME_PYTHON)
    result = subprocess.run(
        [sys.executable, "-m", "pip", command, *args, "--quiet", "--disable-pip-version-check", "--no-deps", *target],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise PipError(f"pip {command} failed (exit {result.returncode}):\n{result.stderr.strip()}")


def download_wheels(wheelhouse: Path, lock: Path = LOCK) -> Path:
    """Download the lock's wheels for the target platform into `wheelhouse`, each checked against its hash."""
    check_lock(lock)
    wheelhouse.mkdir(parents=True, exist_ok=True)
    _pip("download", "--require-hashes", "--only-binary=:all:", "-r", str(lock), "--dest", str(wheelhouse))
    return wheelhouse


def _shipped(name: str) -> bool:
    parts = Path(name).parts
    if parts[0] == "bin" or "__pycache__" in parts or name.endswith(".pyc"):
        return False
    return not (len(parts) == 2 and parts[0].endswith(".dist-info") and parts[1] in INSTALL_RECORDS)


def build(out_dir: Path, wheelhouse: Path | None = None, lock: Path = LOCK, sources: Path = ROOT) -> Path:
    """Write `out_dir/aurora-sync-exporter.zip` (its unpacked tree in `out_dir/package`); return its path.

    `wheelhouse`: a folder `download_wheels` filled from this lock (no network is used then); default:
    download into `out_dir/wheels`. `sources`: the folder holding the `lambda_exporter` and `sync_contract`
    packages (default: this work tree; e.g. a `git archive` of one commit). Raises LockError (lock vs
    pyproject; before anything is written) or PipError (a file whose hash is not in the lock, a wheel
    missing for the platform, no index reachable).
    """
    check_lock(lock)
    if wheelhouse is None:
        wheelhouse = download_wheels(out_dir / "wheels", lock)
    staging = out_dir / "package"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    _pip(
        "install",
        "--require-hashes",
        "--only-binary=:all:",
        "--no-index",
        "--find-links",
        str(wheelhouse),
        "--no-compile",
        "--target",
        str(staging),
        "-r",
        str(lock),
    )
    for path in list(staging.iterdir()):
        if path.name == "bin":
            shutil.rmtree(path)
    for record in staging.glob("*.dist-info/*"):
        if record.name in INSTALL_RECORDS:
            record.unlink()
    for package in PACKAGES:
        shutil.copytree(sources / package, staging / package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    files = [(p.relative_to(staging).as_posix(), p) for p in staging.rglob("*") if p.is_file()]
    return write_zip(out_dir / ZIP_NAME, [(name, p) for name, p in files if _shipped(name)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "lambda")
    parser.add_argument("--wheelhouse", type=Path, help="wheels already downloaded from the lock (no network)")
    args = parser.parse_args()
    try:
        archive = build(args.out, args.wheelhouse)
    except (LockError, PipError) as error:
        raise SystemExit(str(error)) from None
    unpacked = sum(p.stat().st_size for p in (args.out / "package").rglob("*") if p.is_file())
    print(
        f"{archive}: {archive.stat().st_size / 1e6:.1f} MB zipped, {unpacked / 1e6:.1f} MB unpacked "
        f"(Lambda limits: 50 MB zipped upload, 250 MB unpacked); handler {HANDLER}, runtime python{RUNTIME_PYTHON}"
    )


if __name__ == "__main__":
    main()
