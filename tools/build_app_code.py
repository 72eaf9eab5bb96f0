"""The procedures' Python as one zip for the app stage (`IMPORTS = ('/python/aurora_sync_procs.zip')`).

`stored_procs` and the shared `sync_contract` package, nothing else: Snowflake's Python runtime provides
snowflake-snowpark-python and boto3 from its own channel (the procedures' PACKAGES). A zip, not the
loose files: a .py file in IMPORTS lands at the top level of the import directory, which would break
the package imports (`from stored_procs import ...`). Deterministic, like the Lambda zip.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from stored_procs.procedures import CODE_ARCHIVE
from tools.deterministic_zip import python_sources, write_zip

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("stored_procs", "sync_contract")
OUT = ROOT / "build" / "app"


def build(out_dir: Path = OUT) -> Path:
    return write_zip(out_dir / CODE_ARCHIVE, python_sources(ROOT, PACKAGES))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=OUT)
    archive = build(parser.parse_args().out)
    print(f"{archive}: {archive.stat().st_size / 1e3:.0f} kB")


if __name__ == "__main__":
    main()
