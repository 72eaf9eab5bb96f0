"""Zip files so the same sources always give the same bytes: sorted entries, fixed timestamps, modes and host.

The compressed bytes also depend on the zlib that Python links (zlib and zlib-ng can deflate the same
input differently): builds compare equal on machines of one kind, e.g. CI's image.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

FIXED_TIME = (2020, 1, 1, 0, 0, 0)


def python_sources(root: Path, packages: tuple[str, ...]) -> list[tuple[str, Path]]:
    """(name in the archive, file) for every file of these packages, bytecode caches left out."""
    return [
        (path.relative_to(root).as_posix(), path)
        for package in packages
        for path in (root / package).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    ]


def write_zip(archive: Path, entries: list[tuple[str, Path]]) -> Path:
    archive.parent.mkdir(parents=True, exist_ok=True)
    archive.unlink(missing_ok=True)
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name, path in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.create_system = 3  # Unix, whatever the building machine (ZipInfo's default follows it)
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes())
    return archive
