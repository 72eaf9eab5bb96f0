"""`aurora-sync`: run a cycle, reconcile, run the demo, or hold the embedded stack open."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import traceback
from contextlib import suppress
from pathlib import Path

from rich.console import Console
from rich.text import Text

from aurora_sync.config import ConfigError, SyncConfig, load_config
from aurora_sync.endpoints import EndpointError, one_line

INTERRUPTED = "interrupted; nothing half-applied; run again"
EXIT_FAILED, EXIT_CONFIG, EXIT_UNREACHABLE, EXIT_INTERRUPTED = 1, 2, 3, 130  # docs/RUNBOOK.md
DEBUG_HELP = "on an error, print the traceback too"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="aurora-sync", description="Aurora PostgreSQL -> Snowflake batch sync")
    parser.add_argument("--debug", action="store_true", help=DEBUG_HELP)
    sub = parser.add_subparsers(dest="command", required=True)
    run_p = sub.add_parser("run", help="run one sync cycle: export, intake, load, validate")
    run_p.add_argument("--config", type=Path, required=True, help="path of sync.toml")
    status_p = sub.add_parser(
        "status", help="each table's last run: state, when, rows, lag, quarantined, pending, error (exit 1: failing)"
    )
    status_p.add_argument("--config", type=Path, required=True, help="path of sync.toml")
    status_p.add_argument("--json", action="store_true", help="print a JSON array, one object per table")
    status_p.add_argument("--history", type=_runs, default=0, metavar="N", help="also the last N runs of each table")
    alerts_p = sub.add_parser(
        "alerts",
        help="evaluate incidents (stale tables too) and send what waits to [alerts]; for cron, beside `run` "
        "(exit 1: an alert could not be delivered or evaluated)",
    )
    alerts_p.add_argument("--config", type=Path, required=True, help="path of sync.toml")
    dash_p = sub.add_parser("dashboard", help="the app's Streamlit page, locally, on the configured connection")
    dash_p.add_argument("--config", type=Path, required=True, help="path of sync.toml")
    dash_p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    dash_p.add_argument("--port", type=int, default=8501, help="port to listen on (default 8501)")
    rec_p = sub.add_parser("reconcile", help="compare every configured table between source and target")
    rec_p.add_argument("--config", type=Path, required=True, help="path of sync.toml")
    rec_p.add_argument("--table", help="only this schema.table")
    rec_p.add_argument(
        "--rows", action="store_true", help="read both sides whole and compare every value (not bucket fingerprints)"
    )
    resync_p = sub.add_parser("resync", help="export one table again from the beginning on the next run")
    resync_p.add_argument("--config", type=Path, required=True, help="path of sync.toml")
    resync_p.add_argument("--table", required=True, help="schema.table, as in sync.toml")
    discard_p = sub.add_parser(
        "discard", help="never load an export (NEW, failed or quarantined, or in the inbox); recorded with a reason"
    )
    discard_p.add_argument("export_id", help="as in MANIFESTS.EXPORT_ID (an invalid-… id for a document without one)")
    discard_p.add_argument("--reason", required=True, help="why: recorded with your user name and the time")
    discard_p.add_argument("--config", type=Path, required=True, help="path of sync.toml")
    retry_p = sub.add_parser(
        "retry", help="load a FAILED or QUARANTINED export again on the next run, once its cause is fixed"
    )
    retry_p.add_argument("export_id", help="as in MANIFESTS.EXPORT_ID (named by `run` and `status`)")
    retry_p.add_argument("--config", type=Path, required=True, help="path of sync.toml")
    demo_p = sub.add_parser("demo", help="the whole pipeline on the embedded stack with generated data")
    demo_p.add_argument("--orders", type=int, default=20_000, help="size of the generated orders table")
    demo_p.add_argument("--keep-logs", type=Path, help="copy the stack's server logs here before cleaning up")
    stack_p = sub.add_parser("stack", help="start the embedded stack, write a sync.toml for it, wait for Ctrl-C")
    stack_p.add_argument(
        "--write-config",
        type=Path,
        required=True,
        metavar="PATH",
        help="where to write the stack's sync.toml (its manifest key goes beside it, as <PATH stem>.manifest-key)",
    )
    for command in sub.choices.values():  # --debug after the command too (`run --config x --debug`)
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG_HELP)
    args = parser.parse_args(argv)
    console = Console() if sys.stdout.isatty() else Console(width=redirected_width())
    try:
        if args.command == "demo":
            from aurora_sync.demo import run_demo

            return run_demo(console, args.orders, args.keep_logs)
        if args.command == "stack":
            return _hold_stack(console, args.write_config)
        config = load_config(args.config)
        _check_endpoints(config, args)
        if args.command == "resync":
            return _resync(console, config, args.table)
        if args.command == "discard":
            return _discard(console, config, args.export_id, args.reason)
        if args.command == "retry":
            return _retry(console, config, args.export_id)
        if args.command == "status":
            return _status(console, config, args.json, args.history)
        if args.command == "alerts":
            return _alerts(console, config, args.config)
        if args.command == "dashboard":
            return _dashboard(console, config, args.config, args.host, args.port)
        if args.command == "reconcile":
            return _reconcile(console, config, args.table, args.rows)
        return _run(console, config, args.config)
    except KeyboardInterrupt:  # see _fail: what a Ctrl-C leaves behind
        return _fail(args.debug, INTERRUPTED, EXIT_INTERRUPTED)
    except ConfigError as err:
        if args.debug:
            traceback.print_exc()
        where = getattr(args, "config", None)
        console.print(  # Text: a value quoted in the message is never read as rich markup
            Text(f"{err}{f' (in {where})' if where and str(where) not in str(err) else ''}", style="red"),
            soft_wrap=True,
        )
        return EXIT_CONFIG
    except EndpointError as err:
        return _fail(args.debug, str(err), EXIT_UNREACHABLE)
    except Exception as err:  # a bug or a failure no handler names: one line, the traceback on request
        return _fail(
            args.debug, f"{type(err).__name__}: {one_line(err)} (run with --debug for the traceback)", EXIT_FAILED
        )


def redirected_width() -> int:
    """The summary's width when stdout is not a terminal: `COLUMNS` when it is a number above 0, else 80,
    so that a log or a pager shows every line whole (README, "Run it against your own endpoints")."""
    columns = os.environ.get("COLUMNS", "")
    return int(columns) if columns.isdigit() and int(columns) > 0 else 80


def _fail(debug: bool, message: str, code: int) -> int:
    """One line on stderr (and the traceback with --debug), then the exit status.

    Ctrl-C (EXIT_INTERRUPTED) leaves nothing half-applied: every Snowflake statement commits alone (no
    explicit transaction anywhere), the connector cancels the statement in flight (its SIGINT handler),
    the leases the run took are released by their `finally`, and whatever step boundary the interrupt hit
    is one the next run repairs (docs/CORRECTNESS.md, "Crashes"; tests/integration/test_errors.py)."""
    if debug:
        traceback.print_exc()
    print(f"aurora-sync: {message}", file=sys.stderr)
    return code


def _check_endpoints(config: SyncConfig, args: argparse.Namespace) -> None:
    """What the command reaches besides Snowflake, before anything is done (`aurora_sync.endpoints`)."""
    from aurora_sync import endpoints

    if args.command == "reconcile" and args.rows:
        endpoints.check_postgres(config.source_dsn)
    elif args.command in ("run", "reconcile"):
        endpoints.check_exporter(config)


def missing_manifest_keys(config_path: Path) -> str | None:
    """Why this process cannot verify manifests (`stored_procs.loading.manifest_keys.load`: the local
    runner's intake reads AURORA_SYNC_MANIFEST_KEYS), as one line naming the variable and the key file
    `aurora-sync stack` writes beside its config; None when it can. Checked before anything is exported:
    otherwise every table exports, then fails at intake with a message repeated per table."""
    from stored_procs.configuration.app_config import NotConfigured
    from stored_procs.loading import manifest_keys

    try:
        manifest_keys.load()
    except NotConfigured as err:
        keys = config_path.with_suffix(".manifest-key")
        if os.environ.get(manifest_keys.ENV):  # set but malformed: the parser's reason (never the key)
            return f"{one_line(err)}; nothing was exported"
        return (
            f"{manifest_keys.ENV} is not set, so no manifest could be verified; nothing was exported. With "
            f'`aurora-sync stack`: export {manifest_keys.ENV}="$(cat {keys})" '
            f'AURORA_SYNC_MANIFEST_SIGNING_KEY="$(cat {keys})" (README, "Try it by hand")'
        )
    return None


def _run(console: Console, config: SyncConfig, config_path: Path) -> int:
    from aurora_sync.cycle import run_cycle
    from aurora_sync.export_client import exporter_for
    from aurora_sync.progress import LiveProgress, LogLines
    from aurora_sync.report import print_cycle
    from aurora_sync.snowflake import snowpark_session

    if why := missing_manifest_keys(config_path):
        print(f"aurora-sync: {why}", file=sys.stderr)
        return EXIT_CONFIG
    exporter = exporter_for(config)
    stderr = Console(stderr=True)  # progress (a terminal) or one log line per stage (aurora_sync.progress)
    with snowpark_session(config.snowflake_connect, config.database) as s:
        if stderr.is_terminal:
            with LiveProgress(stderr, [t.source for t in config.tables]) as live:
                report = run_cycle(s, config, exporter, events=live)
        else:
            log = LogLines(sys.stderr)
            report = run_cycle(s, config, exporter, events=log)
            log.cycle(report.run_id, report.duration_s, len(report.failed))
    print_cycle(console, report, "sync cycle")
    return 1 if report.failed else 0


def _runs(text: str) -> int:
    """--history N: a positive number of runs."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of runs")
    return int(text)


def _status(console: Console, config: SyncConfig, as_json: bool, history: int) -> int:
    from aurora_sync.snowflake import snowpark_session
    from aurora_sync.status import exit_status, read_status
    from aurora_sync.status_report import as_json as json_text
    from aurora_sync.status_report import print_status

    with snowpark_session(config.snowflake_connect, config.database) as s:
        tables = read_status(s, config, history)
    if as_json:
        print(json_text(tables))
    else:
        print_status(console, tables, history > 0)
    return exit_status(tables)


def _alerts(console: Console, config: SyncConfig, path: Path) -> int:
    """`aurora-sync alerts`: the FINALIZER's alert step without a run (`aurora_sync.alerts.check`), so that a
    stopped cron, an exporter that cannot be reached or a run that crashed before its end still alert
    (STALE). Exit 0: evaluated, everything due delivered; 1: not; 2: no [alerts], or no control schema."""
    from aurora_sync.alerts import check
    from aurora_sync.snowflake import snowpark_session
    from aurora_sync.status import require_control

    if config.alerts is None:
        console.print(Text(f'no [alerts] in {path}: add webhook_url = "https://..." (docs/CONFIGURATION.md)'))
        return EXIT_CONFIG
    with snowpark_session(config.snowflake_connect, config.database) as s:
        require_control(s, config.place)
        outcome = check(s, config)
    said = f"alerts: {len(outcome['opened'])} opened, {len(outcome['recovered'])} recovered sent"
    if outcome.get("busy"):
        said += f"; another evaluation is sending ({outcome['busy']})"
    if outcome["undelivered"]:
        said += f"; {len(outcome['undelivered'])} not delivered (sent again next time)"
    console.print(Text(said), soft_wrap=True)
    return 1 if outcome["undelivered"] or outcome.get("error") else 0


def _dashboard(console: Console, config: SyncConfig, path: Path, host: str, port: int) -> int:
    """Checks the connection first (one line when Snowflake is unreachable), then becomes the page's
    Streamlit server (`aurora_sync.dashboard.serve`: same process, Ctrl-C stops it)."""
    from aurora_sync.dashboard import serve
    from aurora_sync.snowflake import snowpark_session

    with snowpark_session(config.snowflake_connect, config.database):
        pass
    console.print(Text(f"dashboard on http://{host}:{port} (Ctrl-C stops it)"))
    sys.stdout.flush()
    serve(path, host, port)


def _reconcile(console: Console, config: SyncConfig, table: str | None, rows: bool) -> int:
    from aurora_sync.snowflake import snowpark_session

    specs = [t for t in config.tables if table in (None, t.source)]
    if not specs:
        console.print(Text(f"{table} is not configured in the sync configuration", style="red"))
        return 2
    with console.status("reconciling"), snowpark_session(config.snowflake_connect, config.database) as s:
        if rows:
            from aurora_sync.reconcile import reconcile
            from aurora_sync.report import print_reconciliation

            results = reconcile(s, config.source_dsn, config.database, specs, config.columns)
            print_reconciliation(console, results)
            return 0 if all(r.clean for r in results) else 1
        from aurora_sync.reconcile import bucket_reconcile

        reports = bucket_reconcile(s, config, specs)
    from aurora_sync.report import print_bucket_reconciliation

    print_bucket_reconciliation(console, reports)
    return 0 if all(r["status"] == "CLEAN" for r in reports) else 1


def _resync(console: Console, config: SyncConfig, table: str) -> int:
    from aurora_sync.cycle import prepare
    from aurora_sync.snowflake import snowpark_session
    from stored_procs.configuration.app_config import InvalidSetting
    from stored_procs.configuration.table_config import resync_table
    from stored_procs.orchestration.runs import new_run_id

    with snowpark_session(config.snowflake_connect, config.database) as s:
        prepare(s, config)
        try:
            summary = resync_table(s, config.place, table, new_run_id())
        except InvalidSetting as err:
            console.print(Text(str(err), style="red"))
            return 2
    console.print(
        Text(f"{summary['table']}: {summary['manifests_superseded']} manifests superseded; {summary['next']}")
    )
    return 0


def _discard(console: Console, config: SyncConfig, export_id: str, reason: str) -> int:
    from aurora_sync.cycle import prepare
    from aurora_sync.snowflake import snowpark_session
    from stored_procs.configuration.app_config import InvalidSetting
    from stored_procs.loading.discard import discard
    from stored_procs.orchestration.runs import new_run_id

    with snowpark_session(config.snowflake_connect, config.database) as s:
        prepare(s, config)
        try:
            done = discard(s, config.place, export_id, reason, new_run_id())
        except InvalidSetting as err:
            console.print(Text(str(err), style="red"))
            return 2
    table = f" of {done['table']}" if done["table"] else ""
    console.print(Text(f"export {done['export_id']}{table}: DISCARDED (was {done['discarded_from']}); {done['next']}"))
    return 0


def _retry(console: Console, config: SyncConfig, export_id: str) -> int:
    """`aurora-sync retry`: CORE.RETRY_MANIFEST's code (stored_procs.loading.retry_guard.retry) on the
    configured connection. Exit 0: NEW again; 2: no such FAILED or QUARANTINED export, or an unsigned one."""
    from aurora_sync.cycle import prepare
    from aurora_sync.snowflake import snowpark_session
    from stored_procs.configuration.app_config import InvalidSetting
    from stored_procs.loading.retry_guard import retry

    with snowpark_session(config.snowflake_connect, config.database) as s:
        prepare(s, config)
        try:
            done = retry(s, config.place, export_id)
        except InvalidSetting as err:
            console.print(Text(str(err), style="red"), soft_wrap=True)
            return EXIT_CONFIG
    console.print(Text(f"export {done['export_id']}: {done['status']} again; the next `aurora-sync run` loads it"))
    return 0


def _hold_stack(console: Console, path: Path) -> int:
    import psycopg2

    from aurora_sync.demo_data import TABLES_TOML, create_and_populate
    from aurora_sync.stack.stack import EmbeddedStack

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stack = EmbeddedStack()
    with stack as endpoints:
        with psycopg2.connect(endpoints.pg_dsn) as conn:
            create_and_populate(conn, 2_000)
        conn.close()
        path.write_text(stack.config_toml(TABLES_TOML))
        # this stack's throwaway manifest key, for a second shell's `aurora-sync run` (never printed)
        keys = path.with_suffix(".manifest-key")
        keys.unlink(missing_ok=True)
        keys.touch(mode=0o600)
        keys.write_text(stack.manifest_keys_text)
        console.print(Text(f"embedded stack up with the demo tables; config written to {path}"))
        console.print(
            f'try: export AURORA_SYNC_MANIFEST_KEYS="$(cat {keys})" AURORA_SYNC_MANIFEST_SIGNING_KEY="$(cat {keys})"\n'
            f"     .venv/bin/aurora-sync run --config {path}   (PostgreSQL: psql '{endpoints.pg_dsn}'); "
            "Ctrl-C stops it",
            markup=False,
        )
        with suppress(KeyboardInterrupt):
            stop.wait()
        keys.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
