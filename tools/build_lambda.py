"""`make lambda-package`: the exporter as a deployable zip for the Lambda Python runtime on x86_64.

Runtime dependencies only (pyproject's `[project].dependencies`), as manylinux wheels for the target
Python, plus the `lambda_exporter` and `sync_contract` packages. The zip is deterministic (sorted
entries, fixed timestamps) so the same sources give the same bytes.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("lambda_exporter", "sync_contract")
PLATFORM = "manylinux2014_x86_64"
RUNTIME_PYTHON = "3.11"  # the Lambda runtime python3.11
ZIP_NAME = "aurora-sync-exporter.zip"
FIXED_TIME = (2020, 1, 1, 0, 0, 0)
HANDLER = "lambda_exporter.handler.handler"


def runtime_requirements() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return list(project["dependencies"])


def build(out_dir: Path, python_version: str = RUNTIME_PYTHON) -> Path:
    staging = out_dir / "package"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-compile",
            "--no-warn-conflicts",
            "--target",
            str(staging),
            "--platform",
            PLATFORM,
            "--implementation",
            "cp",
            "--python-version",
            python_version,
            "--only-binary=:all:",
            *runtime_requirements(),
        ],
        check=True,
    )
    for package in PACKAGES:
        shutil.copytree(ROOT / package, staging / package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    archive = out_dir / ZIP_NAME
    archive.unlink(missing_ok=True)
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for path in sorted(p for p in staging.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
            info = zipfile.ZipInfo(path.relative_to(staging).as_posix(), date_time=FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes())
    return archive


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "lambda")
    args = parser.parse_args()
    archive = build(args.out)
    unpacked = sum(p.stat().st_size for p in (args.out / "package").rglob("*") if p.is_file())
    print(
        f"{archive}: {archive.stat().st_size / 1e6:.1f} MB zipped, {unpacked / 1e6:.1f} MB unpacked "
        f"(Lambda limits: 50 MB zipped upload, 250 MB unpacked); handler {HANDLER}, runtime python{RUNTIME_PYTHON}"
    )


if __name__ == "__main__":
    main()
