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
from pathlib import Path

from tools.deterministic_zip import write_zip

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("lambda_exporter", "sync_contract")
PLATFORM = "manylinux2014_x86_64"
RUNTIME_PYTHON = "3.11"  # the Lambda runtime python3.11
ZIP_NAME = "aurora-sync-exporter.zip"
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
    files = [(p.relative_to(staging).as_posix(), p) for p in staging.rglob("*") if p.is_file()]
    return write_zip(out_dir / ZIP_NAME, [(name, p) for name, p in files if "__pycache__" not in Path(name).parts])


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
