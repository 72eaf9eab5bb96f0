"""The embedded stack, started once per test session and stopped at its end."""

from __future__ import annotations

import itertools
import json
import tomllib
from collections.abc import Iterator
from typing import Any

import psycopg2
import pytest

from aurora_sync.config import SyncConfig, parse_config
from aurora_sync.cycle import CycleReport, run_cycle
from aurora_sync.export_client import LambdaExporter
from aurora_sync.snowflake import snowpark_session
from aurora_sync.stack.stack import EmbeddedStack, Endpoints
from stored_procs.statement import Stmt, run

_counter = itertools.count(1)


@pytest.fixture(scope="session")
def stack() -> Iterator[EmbeddedStack]:
    embedded = EmbeddedStack()
    with embedded:
        yield embedded


@pytest.fixture(scope="session")
def endpoints(stack: EmbeddedStack) -> Endpoints:
    assert stack.endpoints is not None
    return stack.endpoints


@pytest.fixture
def pg(endpoints: Endpoints) -> Iterator[Any]:
    conn = psycopg2.connect(endpoints.pg_dsn)
    conn.autocommit = True
    yield conn
    conn.close()


@pytest.fixture(scope="session")
def snow(stack: EmbeddedStack) -> Iterator[Any]:
    config = parse_config(tomllib.loads(stack.config_toml(_table("public.placeholder", ["id"], None))))
    with snowpark_session(config.snowflake_connect, config.database) as session:
        yield session


def _table(source: str, pk: list[str], watermark: str | None, **extra: str) -> str:
    # JSON strings are TOML basic strings (names with both quote kinds and backslashes survive)
    lines = ["[[tables]]", f"source = {json.dumps(source)}", f"primary_key = {json.dumps(pk)}"]
    lines.append(f"watermark_column = {json.dumps(watermark)}" if watermark else 'mode = "full"')
    lines += [f"{k} = {v}" for k, v in extra.items()]
    return "\n".join(lines) + "\n"


class Harness:
    """A sync config of its own (own control schema) on the shared stack, and helpers to drive it."""

    def __init__(self, stack: EmbeddedStack, snow: Any) -> None:
        self.stack = stack
        self.snow = snow
        self.control_schema = f"CTL_{next(_counter)}"
        self.tables: list[str] = []
        self._config: SyncConfig | None = None

    def add(self, source: str, pk: list[str], watermark: str | None = None, **extra: str) -> Harness:
        self.tables.append(_table(source, pk, watermark, **extra))
        self._config = None
        return self

    @property
    def toml(self) -> str:
        text = self.stack.config_toml("\n".join(self.tables))
        return text.replace('control_schema = "AURORA_SYNC"', f'control_schema = "{self.control_schema}"')

    @property
    def config(self) -> SyncConfig:
        if self._config is None:
            self._config = parse_config(tomllib.loads(self.toml))
        return self._config

    @property
    def exporter(self) -> LambdaExporter:
        config = self.config
        return LambdaExporter(
            config.exporter.lambda_function or "", config.s3.region, config.exporter.lambda_endpoint_url
        )

    def cycle(self, export: bool = True) -> CycleReport:
        """A whole cycle; `export=False` only takes in and loads what the stage already holds."""
        return run_cycle(self.snow, self.config, self.exporter if export else None)

    def query(self, text: str, *params: Any) -> list[Any]:
        return run(self.snow, Stmt(text, params))

    def control(self, table: str) -> str:
        return f'"ANALYTICS"."{self.control_schema}"."{table}"'

    def watermark(self, source_table: str) -> str | None:
        rows = self.query(f"SELECT WATERMARK FROM {self.control('WATERMARKS')} WHERE SOURCE_TABLE = ?", source_table)
        return rows[0][0] if rows else None


@pytest.fixture
def harness(stack: EmbeddedStack, snow: Any) -> Harness:
    return Harness(stack, snow)
