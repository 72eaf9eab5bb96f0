"""The benchmark lines other modules own (benchmarks.full_mode, benchmarks.fan_out).

A peer module offers a public function whose name contains `line`; it is called with the arguments
its signature names, from: stack (the running EmbeddedStack), endpoints / ep, dsn / pg_dsn, workdir,
log / progress (a str -> None callable to stderr). Its answer must match that line's pattern
(benchmarks.lines); otherwise this module says why on stderr and returns None.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any

from aurora_sync.stack.stack import EmbeddedStack
from benchmarks import lines


def line(module_name: str, index: int, stack: EmbeddedStack, log: Callable[[str], None]) -> str | None:
    """benchmarks.<module_name>'s line `index` (0-based, benchmarks.lines.PATTERNS), or None."""
    try:
        module = importlib.import_module(f"benchmarks.{module_name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"benchmarks.{module_name}":
            raise
        log(f"benchmarks.{module_name} is not there")
        return None
    ep = stack.endpoints
    assert ep is not None
    offered: dict[str, Any] = {
        "stack": stack,
        "endpoints": ep,
        "ep": ep,
        "dsn": ep.pg_dsn,
        "pg_dsn": ep.pg_dsn,
        "workdir": ep.workdir,
        "log": log,
        "progress": log,
    }
    candidates = [
        fn
        for name, fn in inspect.getmembers(module, inspect.isfunction)
        if "line" in name and not name.startswith("_") and fn.__module__ == module.__name__
    ]
    for fn in candidates:
        params = inspect.signature(fn).parameters.values()
        required = [p.name for p in params if p.default is inspect.Parameter.empty]
        if any(name not in offered for name in required):
            continue
        answer = fn(**{p.name: offered[p.name] for p in params if p.name in offered})
        text = answer if isinstance(answer, str) else ""
        if lines.matches(index, text.strip()):
            return text.strip()
        log(f"benchmarks.{module_name}.{fn.__name__} answered {answer!r}, not {lines.PATTERNS[index]!r}")
    log(f"benchmarks.{module_name} has no usable *line* function")
    return None
