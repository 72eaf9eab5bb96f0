"""`sync.toml`: read, validated on entry; every error names the key, the bad value and what is accepted."""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aurora_sync.alerts import KEYS as ALERT_KEYS
from aurora_sync.alerts import AlertsConfig, parse_alerts
from aurora_sync.snowflake_keys import unknown_key
from stored_procs.configuration import renames
from stored_procs.configuration.app_config import InvalidSetting
from stored_procs.configuration.schema_map import target_schema_name
from stored_procs.configuration.table_config import OPTION_KEYS, build_spec
from stored_procs.configuration.targets import CONTROL_TABLES, target_clash
from stored_procs.spec import Place, TableSpec
from sync_contract.errors import ContractError
from sync_contract.identifiers import target_name, validate_identifier

DEFAULT_MAX_FILE_MB = 128
_SECTIONS = {"source", "s3", "snowflake", "exporter", "tables", "alerts", "target"}
_TARGET_KEYS = {"schema_map"}
_TABLE_KEYS = {*OPTION_KEYS, "columns", "chunks", "max_rows_per_invocation"}
_EXPORTER_KEYS = {"lambda_function", "lambda_endpoint_url", "region", "strategy", "max_file_mb"}
_SNOWFLAKE_OWN = {"database", "control_schema", "stage", "storage_integration"}
_SOURCE_KEYS = {"dsn"}
_S3_KEYS = {"bucket", "prefix", "region", "endpoint_url"}


class ConfigError(ValueError):
    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"sync config {key}: {message}")
        self.key, self.reason = key, message


@dataclass(frozen=True)
class S3Config:
    bucket: str
    prefix: str
    region: str
    endpoint_url: str | None = None

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


@dataclass(frozen=True)
class ExporterConfig:
    """Without `lambda_function` the exporter runs in this process against `source.dsn`."""

    lambda_function: str | None = None
    lambda_endpoint_url: str | None = None
    region: str | None = None
    strategy: str = "copy"
    max_file_bytes: int = DEFAULT_MAX_FILE_MB * 1024 * 1024


@dataclass(frozen=True)
class SyncConfig:
    source_dsn: str
    s3: S3Config
    snowflake_connect: dict[str, Any]
    database: str
    control_schema: str
    stage: str | None
    storage_integration: str | None
    exporter: ExporterConfig
    tables: list[TableSpec] = field(default_factory=list)
    columns: dict[str, tuple[str, ...]] = field(default_factory=dict)  # table -> columns to export
    chunks: dict[str, int | str] = field(default_factory=dict)  # table -> chunks per export
    # table -> rows above which an initial or full export fans out (lambda_exporter.fan_out)
    max_rows_per_invocation: dict[str, int] = field(default_factory=dict)
    alerts: AlertsConfig | None = None  # [alerts]: where incidents are notified (aurora_sync.alerts)
    schema_map: dict[str, str] = field(default_factory=dict)  # [target]: source schema -> target schema

    @property
    def place(self) -> Place:
        return Place.create(self.database, self.control_schema, self.stage)


def load_config(path: Path) -> SyncConfig:
    try:
        doc = tomllib.loads(path.read_text())
    except FileNotFoundError as err:
        raise ConfigError("(file)", f"{path} does not exist") from err
    except tomllib.TOMLDecodeError as err:
        raise ConfigError("(file)", f"{path} is not valid TOML: {err}") from err
    try:
        return parse_config(doc)
    except ConfigError as err:  # the message names the file too
        raise ConfigError(err.key, f"{err.reason} (in {path})") from err


def parse_config(doc: dict[str, Any]) -> SyncConfig:
    _refuse_unknown(doc, _SECTIONS, "", "section")
    source = _section(doc, "source")
    _refuse_unknown(source, _SOURCE_KEYS, "source.")
    dsn = _str(source.get("dsn"), "source.dsn")
    s3 = _section(doc, "s3")
    _refuse_unknown(s3, _S3_KEYS, "s3.")
    prefix = s3.get("prefix", "")
    if (
        not isinstance(prefix, str)
        or (prefix and not prefix.endswith("/"))
        or prefix.startswith("/")
        or ".." in prefix.split("/")
    ):
        raise ConfigError("s3.prefix", f"must be empty or end with '/' (no '..'), e.g. 'aurora-sync/'; got {prefix!r}")
    s3_config = S3Config(
        bucket=_str(s3.get("bucket"), "s3.bucket"),
        prefix=prefix,
        region=_str(s3.get("region", "us-east-1"), "s3.region"),
        endpoint_url=s3.get("endpoint_url"),
    )
    sf = _section(doc, "snowflake")
    if bad := unknown_key(sf, _SNOWFLAKE_OWN):
        raise ConfigError(f"snowflake.{bad[0]}", bad[1])
    connect = {k: v for k, v in sf.items() if k not in _SNOWFLAKE_OWN}
    if not connect:
        raise ConfigError("snowflake", "needs connection_name or connect() arguments (account, user, ...)")
    exporter = _exporter(doc.get("exporter", {}))
    raw_tables = doc.get("tables")
    if not isinstance(raw_tables, list) or not raw_tables:
        raise ConfigError("tables", "at least one [[tables]] entry is required")
    schema_map = _schema_map(doc.get("target", {}))
    tables, columns, chunks, max_rows = [], {}, {}, {}
    for i, t in enumerate(raw_tables):
        spec, cols = _table(t, f"tables[{i}]", schema_map)
        tables.append(spec)
        if cols:
            columns[spec.source] = cols
        if "chunks" in t:
            chunks[spec.source] = _chunks(t["chunks"], f"tables[{i}].chunks")
        if "max_rows_per_invocation" in t:
            max_rows[spec.source] = _max_rows(t["max_rows_per_invocation"], f"tables[{i}].max_rows_per_invocation")
    sources = [t.source for t in tables]
    if dupes := sorted({s for s in sources if sources.count(s) > 1}):
        raise ConfigError("tables", f"{dupes[0]} is configured twice")
    _refuse_unused_map_keys(schema_map, [t.source_schema for t in tables])
    control_schema = _ident(sf.get("control_schema", "AURORA_SYNC"), "snowflake.control_schema")
    for i, spec in enumerate(tables):  # the target database is snowflake.database, the control schema's
        if clash := target_clash(spec, tables[:i], {control_schema: CONTROL_TABLES}):
            if "target" in raw_tables[i] or spec.source_schema not in schema_map:
                raise ConfigError(f"tables[{i}].target", clash)
            raise ConfigError(  # the target schema came from the map: name the entry, and both fixes
                f"target.schema_map.{spec.source_schema}",
                f"{clash} (tables[{i}] has no `target`: its schema comes from this entry; map {spec.source_schema} "
                f"elsewhere, or give tables[{i}] a target)",
            )
    return SyncConfig(
        source_dsn=dsn,
        s3=s3_config,
        snowflake_connect=connect,
        database=_ident(sf.get("database"), "snowflake.database"),
        control_schema=control_schema,
        stage=sf.get("stage"),
        storage_integration=sf.get("storage_integration"),
        exporter=exporter,
        tables=tables,
        columns=columns,
        chunks=chunks,
        max_rows_per_invocation=max_rows,
        alerts=_alerts(doc["alerts"]) if "alerts" in doc else None,
        schema_map=schema_map,
    )


def _exporter(value: Any) -> ExporterConfig:
    if not isinstance(value, dict):
        raise ConfigError("exporter", "must be a table")
    _refuse_unknown(value, _EXPORTER_KEYS, "exporter.")
    strategy = value.get("strategy", "copy")
    if strategy not in ("copy", "aws_s3"):
        raise ConfigError("exporter.strategy", f"must be 'copy' or 'aws_s3', got {strategy!r}")
    max_mb = value.get("max_file_mb", DEFAULT_MAX_FILE_MB)
    if not isinstance(max_mb, int) or not 5 <= max_mb <= 5000:
        raise ConfigError("exporter.max_file_mb", f"must be an integer between 5 and 5000, got {max_mb!r}")
    return ExporterConfig(
        lambda_function=value.get("lambda_function"),
        lambda_endpoint_url=value.get("lambda_endpoint_url"),
        region=value.get("region"),
        strategy=strategy,
        max_file_bytes=max_mb * 1024 * 1024,
    )


def _schema_map(value: Any) -> dict[str, str]:
    """[target] schema_map: source schema (as PostgreSQL names it) -> target schema. A table without
    `target` goes to its source schema's entry; one whose schema is not listed, to the default rule
    (the source schema upper-cased). A value is a Snowflake name as Snowflake resolves it, as the app's
    SET_SCHEMA_MAP reads it: unquoted upper-cased (`raw` -> RAW), double-quoted kept (`'"Raw"'`).
    docs/CUSTOMIZATION.md."""
    if not isinstance(value, dict):
        raise ConfigError("target", 'must be a table, e.g. [target] schema_map = { public = "RAW" }')
    _refuse_unknown(value, _TARGET_KEYS, "target.")
    mapping = value.get("schema_map", {})
    if not isinstance(mapping, dict):
        raise ConfigError(
            "target.schema_map",
            f'must map source schemas to target schemas, e.g. {{ public = "RAW" }}; got {mapping!r}',
        )
    out = {}
    for k, v in mapping.items():
        source = _ident(k, "target.schema_map")
        try:  # as CORE.SET_SCHEMA_MAP reads a value: `raw` is RAW, `"Raw"` keeps its case (app_config.object_name)
            out[source] = target_schema_name(_str(v, f"target.schema_map.{k}"))
        except InvalidSetting as err:
            raise ConfigError(f"target.schema_map.{k}", err.reason) from err
    return out


def _refuse_unused_map_keys(schema_map: dict[str, str], schemas: list[str]) -> None:
    """ConfigError naming a [target] schema_map key that is no configured table's source schema: keys match
    PostgreSQL's names exactly (`public`, not `PUBLIC`), and a key that matches nothing is ignored, so the
    tables it was meant for would get their default targets and (a map changed later) restart into new ones.
    Names the schema of the same name in another case, else the closest (difflib), when there is one."""
    known = sorted(set(schemas))
    for key in sorted(schema_map):
        if key in known:
            continue
        same = [s for s in known if s.casefold() == key.casefold()]
        guess = same or difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        hint = f"did you mean {guess[0]}? (source schemas are named exactly as PostgreSQL names them) " if guess else ""
        raise ConfigError(
            f"target.schema_map.{key}",
            f"no configured table is in source schema {key!r}; {hint}the tables' source schemas are "
            f"{', '.join(known)}. Name one of them, or remove the entry",
        )


def _table(value: Any, key: str, schema_map: dict[str, str]) -> tuple[TableSpec, tuple[str, ...]]:
    if not isinstance(value, dict):
        raise ConfigError(key, "must be a table")
    _refuse_unknown(value, _TABLE_KEYS, f"{key}.")
    try:
        spec = build_spec({k: v for k, v in value.items() if k in OPTION_KEYS}, key, schema_map)
    except InvalidSetting as err:
        raise ConfigError(err.key, err.reason) from err
    columns = value.get("columns", [])
    if not isinstance(columns, list):
        raise ConfigError(f"{key}.columns", "must be a list of column names")
    listed = tuple(_ident(c, f"{key}.columns") for c in columns)
    if why := renames.internal_refusal([target_name(c) for c in listed if c not in spec.rename], "column"):
        raise ConfigError(f"{key}.columns", why)
    if listed:  # the exported columns are known: every rename must name one and keep apart from the others
        exported = {*listed, *spec.primary_key, *([spec.watermark_column] if spec.watermark_column else [])}
        if found := renames.clash(spec.rename, exported) or renames.unmatched(spec.rename, exported, ()):
            raise ConfigError(f"{key}.rename.{found[0]}", found[1])
    return spec, listed


def _alerts(value: Any) -> AlertsConfig:
    if isinstance(value, dict):
        _refuse_unknown(value, set(ALERT_KEYS), "alerts.")
    try:
        return parse_alerts(value)
    except InvalidSetting as err:
        raise ConfigError(err.key, err.reason) from err


def _chunks(value: Any, key: str) -> int | str:
    if value == "auto" or (isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 64):
        return value  # type: ignore[no-any-return]
    raise ConfigError(key, f'must be an integer 1..64 or "auto", got {value!r}')


def _max_rows(value: Any, key: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    raise ConfigError(key, f"must be an integer >= 1 (rows one exporter invocation reads), got {value!r}")


def _refuse_unknown(section: dict[str, Any], accepted: set[str], prefix: str, kind: str = "key") -> None:
    """ConfigError naming the first unknown key (sorted) of a section, with the closest accepted one when
    there is one (difflib, as `[snowflake]` does): `s3.buckt: unknown key; did you mean bucket? ...`. A typo
    of a required key would otherwise be reported as that key missing, never naming what was written."""
    for key in sorted(section):
        if key in accepted:
            continue
        guess = difflib.get_close_matches(key, sorted(accepted), n=1, cutoff=0.6)
        hint = f"did you mean {guess[0]}? " if guess else ""
        raise ConfigError(f"{prefix}{key}", f"unknown {kind}; {hint}{kind}s are {', '.join(sorted(accepted))}")


def _section(doc: dict[str, Any], name: str) -> dict[str, Any]:
    value = doc.get(name)
    if not isinstance(value, dict):
        raise ConfigError(name, f"the [{name}] section is missing")
    return value


def _str(value: Any, key: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(key, f"must be a non-empty string, got {value!r}")
    return value


def _ident(value: Any, key: str) -> str:
    try:
        return validate_identifier(_str(value, key), key)
    except ContractError as err:
        raise ConfigError(key, str(err)) from err
