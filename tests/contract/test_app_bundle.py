"""The Native App as the Snowflake CLI bundles it, offline: files, SQL, manifest, handlers, code zip."""

import importlib
import inspect
import logging
import os
import re
import subprocess
import sys
import types
import typing
from pathlib import Path

import pytest
import sqlglot
import yaml
from sqlglot import exp

from stored_procs import procedures
from stored_procs.monitoring import views as views_module
from stored_procs.spec import Place
from tools import app_sql, build_app_code, plain_deploy

ROOT = Path(__file__).resolve().parents[2]
SNOW = Path(os.environ.get("AURORA_SYNC_SNOW", ROOT / ".venv-snow" / "bin" / "snow"))
BUNDLE = ROOT / "output" / "deploy"
# What sqlglot cannot parse into a tree (it keeps them as a Command): the Native App's own grammar.
APP_GRAMMAR = re.compile(
    r"^(CREATE APPLICATION ROLE IF NOT EXISTS \w+"
    r"|GRANT APPLICATION ROLE \w+ TO APPLICATION ROLE \w+"
    r"|GRANT (USAGE|SELECT) ON (SCHEMA|PROCEDURE|VIEW|STREAMLIT) [\w.\"]+(\([\w, ]*\))? TO APPLICATION ROLE \w+"
    r"|EXECUTE IMMEDIATE FROM '\./sql/[\w/]+\.sql'"
    r"|CREATE OR ALTER VERSIONED SCHEMA \w+"
    r"|CREATE OR REPLACE STREAMLIT [\w.]+ FROM '/\w+' MAIN_FILE = '/\w+\.py'"
    r"|CALL CORE\.APPLY_EXTERNAL_ACCESS\(\))$"
)
PY_TYPES = {"VARCHAR": str, "NUMBER": int, "ARRAY": list, "OBJECT": dict, "FLOAT": float, "BOOLEAN": bool}

pytestmark = pytest.mark.contract


@pytest.fixture(scope="module")
def bundle() -> Path:
    """`snow app bundle` with an empty Snowflake home: no connection, no network."""
    if not SNOW.exists():
        pytest.fail(f"the Snowflake CLI is not installed at {SNOW}: run `make snow-cli` (make test does)")
    build_app_code.build()
    home = ROOT / ".pytest-tmp" / "snowflake-home"
    home.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [str(SNOW), "app", "bundle"],
        cwd=ROOT,
        env={**os.environ, "SNOWFLAKE_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Bundle generated at" in done.stdout
    return BUNDLE


def statements(path: Path) -> list[exp.Expression]:
    logging.getLogger("sqlglot").setLevel(logging.ERROR)
    return [s for s in sqlglot.parse(path.read_text(), read="snowflake") if s is not None]


def accepted(hint: typing.Any) -> set[type]:
    """The classes a parameter annotation admits: `str | None` -> {str, NoneType}, `list[str]` -> {list}."""
    members = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    return {typing.get_origin(m) or m for m in members}


def test_the_generated_object_files_are_up_to_date():
    assert app_sql.stale() == []


def test_the_setup_script_runs_every_object_file_once():
    ran = re.findall(r"EXECUTE IMMEDIATE FROM '\./([^']+)'", (ROOT / "snowflake_app/setup_script.sql").read_text())
    files = sorted(str(p.relative_to(ROOT / "snowflake_app")) for p in (ROOT / "snowflake_app/sql").rglob("*.sql"))
    assert sorted(ran) == files
    assert len(ran) == len(set(ran))


def test_the_bundle_holds_the_app_with_its_templates_expanded(bundle):
    page = ("streamlit/dashboard.py", "streamlit/dashboard_sql.py")  # the page and its SQL (snowflake.yml)
    for name in ("manifest.yml", "setup_script.sql", "README.md", *page, procedures.CODE_ARCHIVE):
        assert (bundle / name).is_file(), name
    sql_files = list((bundle / "sql").rglob("*.sql"))
    assert len(sql_files) == len(list((ROOT / "snowflake_app/sql").rglob("*.sql")))
    for path in sql_files:
        assert "<%" not in path.read_text(), path
    load = (bundle / "sql/procedures/load_table.sql").read_text()
    assert f"IMPORTS = ('/{procedures.CODE_ARCHIVE}')" in load


def test_every_statement_of_the_bundle_parses_as_snowflake_sql(bundle):
    parsed = 0
    for path in [bundle / "setup_script.sql", *sorted((bundle / "sql").rglob("*.sql"))]:
        for stmt in statements(path):
            parsed += 1
            if isinstance(stmt, exp.Command):
                text = " ".join(re.sub(r"/\*.*?\*/", "", stmt.sql(dialect="snowflake")).split())
                assert APP_GRAMMAR.match(text), f"{path.name}: sqlglot could not parse {text!r}"
    assert parsed > 60


def test_every_procedure_has_a_handler_with_the_declared_signature(bundle):
    created = {}
    for path in sorted((bundle / "sql/procedures").glob("*.sql")):
        text = path.read_text()
        head = re.search(r'CREATE OR REPLACE PROCEDURE "CORE"\."(\w+)"\((.*)\)\n', text)
        handler = re.search(r"HANDLER = '([\w.]+)'", text)
        assert head and handler, path
        created[head[1]] = (head[2], handler[1])
    assert sorted(created) == sorted(p.name for p in procedures.PROCEDURES)
    for name, (sql_args, handler_path) in created.items():
        module_name, function_name = handler_path.rsplit(".", 1)
        function = getattr(importlib.import_module(module_name), function_name)
        params = list(inspect.signature(function).parameters.values())
        hints = typing.get_type_hints(function)
        assert params[0].name == "session", name
        args = [a.strip() for a in sql_args.split(",")] if sql_args else []
        assert len(params) - 1 == len(args), f"{name}: SQL {args} vs Python {[p.name for p in params[1:]]}"
        for param, arg in zip(params[1:], args, strict=True):
            arg_name, arg_type, *default = arg.split(" ", 2)
            assert param.name == arg_name.lower(), name
            assert PY_TYPES[arg_type] in accepted(hints[param.name]), (name, arg)
            if default:
                literal = default[0].removeprefix("DEFAULT ")
                expected = {"NULL": None, "FALSE": False, "TRUE": True}.get(literal, literal.strip("'"))
                assert param.default == expected, (name, arg)
            else:
                assert param.default is inspect.Parameter.empty, (name, arg)


def test_the_manifest_names_objects_the_setup_script_creates(bundle):
    manifest = yaml.safe_load((bundle / "manifest.yml").read_text())
    assert manifest["manifest_version"] == 2
    assert manifest["artifacts"]["setup_script"] == "setup_script.sql"
    every_sql = "\n".join(p.read_text() for p in (bundle / "sql").rglob("*.sql"))
    assert f"CREATE OR REPLACE STREAMLIT {manifest['artifacts']['default_streamlit']} " in every_sql
    privileges = {next(iter(p)) for p in manifest["privileges"]}
    assert {"EXECUTE TASK", "EXECUTE MANAGED TASK"} <= privileges
    references = {next(iter(r)): next(iter(r.values())) for r in manifest["references"]}
    assert {"EXPORTER_ACCESS", "EXPORTER_SECRET", "MANIFEST_KEY"} == set(references)
    for ref_name, ref in references.items():
        assert f"CREATE OR REPLACE PROCEDURE {ref['register_callback']}(" in every_sql, ref_name
    access = (bundle / "sql/app/apply_external_access.sql").read_text()
    assert "REFERENCE('EXPORTER_ACCESS')" in access and "REFERENCE('EXPORTER_SECRET')" in access
    assert "'manifest_key' = REFERENCE('MANIFEST_KEY')" in access
    # one block per procedure: an unbound MANIFEST_KEY (after an upgrade) leaves the exporter procedures bound
    bound = [p for p in procedures.PROCEDURES if p.external_access or p.manifest_key]
    assert access.count("ALTER PROCEDURE") == access.count("EXCEPTION") == len(bound)


def test_the_code_zip_alone_imports_every_handler(bundle):
    """Only the standard library beside the zip (`-S`: no site-packages): boto3 and Snowpark are
    imported inside the handlers that need them, from the procedure's PACKAGES."""
    code = (
        f"import sys; sys.path.insert(0, {str(bundle / procedures.CODE_ARCHIVE)!r}); "
        "import stored_procs.procedures as p; print(len(p.PROCEDURES))"
    )
    done = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) == len(procedures.PROCEDURES)


def test_the_streamlit_page_imports():
    spec = importlib.util.spec_from_file_location("dashboard", ROOT / "snowflake_app/streamlit/dashboard.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert callable(module.render) and callable(module.connect)
    q = module.q  # stored_procs.monitoring.dashboard_sql
    made = [f(q.APP) for f in (q.status_sql, q.sla_sql, q.history_sql, q.failure_log_sql, q.quarantined_rows_sql)]
    for sql in [*made, q.graph_runs_sql(q.APP), q.credits_sql()]:
        assert not isinstance(sqlglot.parse_one(sql, read="snowflake"), exp.Command)


def test_the_consumer_script_calls_procedures_that_exist_with_their_arguments():
    script = (ROOT / "docs/snowflake/consumer_setup.sql").read_text()
    calls = re.findall(r"CALL AURORA_SYNC\.CORE\.(\w+)\((.*?)\);", script, re.S)
    declared = procedures.by_name()
    assert len(calls) >= 9
    for name, args in calls:
        if name == "REGISTER_REFERENCE":  # the app's reference callback (sql/app/register_reference.sql)
            continue
        proc = declared[name]
        given = len(re.findall(r"'[^']*'|\[[^]]*\]|NULL", args))
        required = sum(a.default is None for a in proc.args)
        assert required <= given <= len(proc.args), (name, args)


def test_every_procedure_is_documented():
    configuration = (ROOT / "docs/CONFIGURATION.md").read_text()
    for proc in procedures.PROCEDURES:
        assert f"`{proc.name}(" in configuration or f", `{proc.name}(" in configuration, proc.name


def test_the_plain_deployment_runs_the_same_object_files_without_the_app_ones(tmp_path):
    parts = plain_deploy.plain_parts(
        "SYNC_DB", "SYNC_ADMIN", "SYNC_VIEWER", tmp_path / "code.zip", "EAI", "DB.S.AWS", manifest_key="DB.S.KEY"
    )
    script = "\n".join(parts)
    assert "<%" not in script and "APPLICATION ROLE" not in script and "STREAMLIT" not in script
    for proc in procedures.PROCEDURES:
        assert f'CREATE OR REPLACE PROCEDURE "CORE"."{proc.name}"(' in script
    assert 'IMPORTS = (\'@"SYNC_DB"."CORE"."CODE"/python/aurora_sync_procs.zip\')' in script
    assert 'SET EXTERNAL_ACCESS_INTEGRATIONS = ("EAI") SECRETS = (\'aws\' = "DB"."S"."AWS")' in script
    # every procedure that takes manifests in can read the signing key, and only those
    for proc in procedures.PROCEDURES:
        bound = f'ALTER PROCEDURE "CORE"."{proc.name}"{proc.arg_types} SET'
        line = next((x for x in script.splitlines() if x.startswith(bound)), "")
        assert ('\'manifest_key\' = "DB"."S"."KEY"' in line) == proc.manifest_key, proc.name
    assert {p.name for p in procedures.PROCEDURES if p.manifest_key} == {
        "REQUEST_EXPORTS",  # verifies the exporter's signed answers (orchestration.answers)
        "INTAKE_MANIFESTS",
        "SYNC_TABLE",
        "SYNC_ALL",
        "LOAD_PENDING",
        "RETRY_MANIFEST",
    }
    logging.getLogger("sqlglot").setLevel(logging.ERROR)
    parsed = [s for part in parts for s in sqlglot.parse(part, read="snowflake") if s is not None]
    kinds = [type(s).__name__ for s in parsed]
    tables = len(list((ROOT / "snowflake_app/sql/state").glob("*.sql")))
    views = len(views_module.view_ddl(Place.app(), "CORE"))
    assert kinds.count("Create") == 3 + 1 + tables + len(procedures.PROCEDURES) + views  # db, schemas, stage, objects
    assert kinds.count("Grant") == 3 + len(procedures.PROCEDURES) + views
    commands = [" ".join(s.sql(dialect="snowflake").split()) for s in parsed if isinstance(s, exp.Command)]
    for text in commands:  # what sqlglot keeps as text: roles and the external access of the exporter procedures
        assert re.match(
            r'^(CREATE ROLE IF NOT EXISTS "\w+"|GRANT ROLE "\w+" TO ROLE "\w+"'
            r'|GRANT MONITOR, OPERATE ON FUTURE TASKS IN SCHEMA STATE TO ROLE "\w+"'
            r'|ALTER PROCEDURE "CORE"\."\w+"\([\w, ]*\) SET EXTERNAL_ACCESS_INTEGRATIONS = \("EAI"\) '
            r'SECRETS = \((\'aws\' = "DB"\."S"\."AWS"(, )?)?(\'manifest_key\' = "DB"\."S"\."KEY")?\))$',
            text,
        ), text
    bound = sum(p.external_access or p.manifest_key for p in procedures.PROCEDURES)
    assert len(commands) == 5 + bound  # 3 roles, 1 grant, tasks, the ALTER PROCEDUREs
    assert "INSERT INTO \"STATE\".\"SETTINGS\" (NAME, VALUE, UPDATED_AT) SELECT 'deployment', 'plain'" in script


def test_the_consumer_script_lets_an_analyst_read_a_replicated_table_last():
    """consumer_setup.sql in order: the reader role exists in the app, is granted with USAGE on the
    database before the analyst reads, and the analyst's SELECT names the default target schema."""
    script = (ROOT / "docs/snowflake/consumer_setup.sql").read_text()
    statements = [s.strip() for s in re.sub(r"--[^\n]*", "", script).split(";") if s.strip()]
    setup = (ROOT / "snowflake_app/setup_script.sql").read_text()
    assert "CREATE APPLICATION ROLE IF NOT EXISTS AURORA_SYNC_READER;" in setup
    reader = statements.index("GRANT APPLICATION ROLE AURORA_SYNC.AURORA_SYNC_READER TO ROLE <ANALYST_ROLE>")
    usage = statements.index("GRANT USAGE ON DATABASE <TARGET_DATABASE> TO ROLE <ANALYST_ROLE>")
    sync = statements.index("CALL AURORA_SYNC.CORE.SYNC_ALL()")
    assert reader < sync and usage < sync
    assert statements[-2:] == ["USE ROLE <ANALYST_ROLE>", "SELECT COUNT(*) FROM <TARGET_DATABASE>.PG_PUBLIC.ORDERS"]


def test_the_plain_deployment_creates_its_reader_role_and_names_it_in_the_settings(tmp_path):
    parts = plain_deploy.plain_parts(
        "SYNC_DB", "SYNC_ADMIN", "SYNC_VIEWER", tmp_path / "c.zip", reader_role="ANALYSTS_RO"
    )
    script = "\n".join(parts)
    assert 'CREATE ROLE IF NOT EXISTS "ANALYSTS_RO";' in script
    assert "SELECT 'reader_role', 'ANALYSTS_RO', SYSDATE();" in script
    assert "SELECT 'deployment', 'plain', SYSDATE();" in script


def test_the_plain_deployment_drops_retired_procedure_signatures_only(tmp_path):
    script = "\n".join(plain_deploy.plain_parts("SYNC_DB", "SYNC_ADMIN", "SYNC_VIEWER", tmp_path / "c.zip"))
    assert 'DROP PROCEDURE IF EXISTS "CORE"."ENABLE_SCHEDULE"(VARCHAR, VARCHAR);' in script
    current = {(p.name, ", ".join(a.sql_type for a in p.args)) for p in procedures.PROCEDURES}
    assert not current & set(plain_deploy.RETIRED)  # never drop what the release creates
