"""PostgreSQL for the embedded stack: the system's binaries on a temporary directory, else the
`pgserver` wheel, else an external DSN (AURORA_SYNC_PG_DSN)."""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import signal
import subprocess
from contextlib import AbstractContextManager
from pathlib import Path
from types import TracebackType
from typing import Any

import psycopg2

from aurora_sync.stack.process import LOOPBACK, ManagedProcess, StackError, free_port

DSN_ENV = "AURORA_SYNC_PG_DSN"
BIN_ENV = "AURORA_SYNC_PG_BIN"
DATABASE = "app"


def find_pg_bindir() -> Path | None:
    """The directory holding initdb and postgres, newest major version first."""
    candidates: list[str] = []
    if env := os.environ.get(BIN_ENV):
        candidates.append(env)
    if pg_config := shutil.which("pg_config"):
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        candidates.append(out.stdout.strip())
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_major, reverse=True)
    if initdb := shutil.which("initdb"):
        candidates.append(str(Path(initdb).resolve().parent))
    for cand in candidates:
        if cand and (Path(cand) / "initdb").exists() and (Path(cand) / "postgres").exists():
            return Path(cand)
    return None


def _major(path: str) -> int:
    part = Path(path).parent.name
    return int(part) if part.isdigit() else 0


def _unprivileged_user() -> pwd.struct_passwd | None:
    """PostgreSQL refuses to run as root: pick an unprivileged account when we are root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise StackError("running as root and neither a 'postgres' nor a 'nobody' account exists to run PostgreSQL")


class EmbeddedPostgres(AbstractContextManager["EmbeddedPostgres"]):
    """A throw-away PostgreSQL server on 127.0.0.1 with a database named `app`."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.dsn = ""
        self.kind = ""
        self._proc: ManagedProcess | None = None
        self._pgserver: Any = None
        self.login: dict[str, Any] = {}  # host, port, database, user, password: what libpq used (`login_of`)

    def __enter__(self) -> EmbeddedPostgres:
        try:
            if external := os.environ.get(DSN_ENV):
                self.dsn, self.kind = external, "external"
            elif bindir := find_pg_bindir():
                self._start_binaries(bindir)
            else:
                self._start_pgserver()
            self._ensure_database()
            self.login = login_of(self.dsn, self.kind == "external")
        except BaseException:
            self.stop()  # a server that started but never became usable must not outlive us
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.stop()
            self._proc = None
        if self._pgserver is not None:
            self._pgserver.cleanup()
            self._pgserver = None

    def _start_binaries(self, bindir: Path) -> None:
        data = self.workdir / "pgdata"
        data.mkdir(parents=True)
        user = _unprivileged_user()
        preexec = None
        if user is not None:
            os.chown(self.workdir, user.pw_uid, user.pw_gid)
            os.chown(data, user.pw_uid, user.pw_gid)
            uid, gid = user.pw_uid, user.pw_gid

            def preexec() -> None:
                os.setgid(gid)
                os.setuid(uid)

        # TCP logins need a password, as on a real server (a throw-away one, made per stack)
        password = secrets.token_hex(12)
        pwfile = self.workdir / "pwfile"
        pwfile.write_text(password + "\n")
        if user is not None:
            os.chown(pwfile, user.pw_uid, user.pw_gid)
        init = subprocess.run(
            [
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                f"--pwfile={pwfile}",
                "-E",
                "UTF8",
                "--no-locale",
            ],
            capture_output=True,
            text=True,
            preexec_fn=preexec,
            check=False,
        )
        if init.returncode != 0:
            raise StackError(f"initdb failed: {init.stderr.strip()}")
        port = free_port()
        self._proc = ManagedProcess(
            name="postgres",
            argv=[
                str(bindir / "postgres"),
                "-D",
                str(data),
                "-p",
                str(port),
                "-c",
                f"listen_addresses={LOOPBACK}",
                "-c",
                f"unix_socket_directories={data}",
                "-c",
                "fsync=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "max_connections=50",
            ],
            log_path=self.workdir / "logs" / "postgres.log",
            preexec=preexec,
            stop_signal=signal.SIGINT,
        )
        self._proc.start()
        pwfile.unlink()
        self.dsn = f"postgresql://postgres:{password}@{LOOPBACK}:{port}/{DATABASE}"
        self.kind = f"system binaries ({bindir})"
        admin = f"postgresql://postgres:{password}@{LOOPBACK}:{port}/postgres"
        self._proc.wait_ready(lambda: _can_connect(admin))

    def _start_pgserver(self) -> None:
        try:
            import pgserver
        except ImportError as err:
            raise StackError(
                "no PostgreSQL found: install PostgreSQL server binaries (initdb, postgres), "
                f"`pip install pgserver`, or set {DSN_ENV} to a database the stack may use"
            ) from err
        self._pgserver = pgserver.get_server(str(self.workdir / "pgserver"), cleanup_mode="stop")
        self.dsn = self._pgserver.get_uri(DATABASE)
        self.kind = "pgserver wheel"

    def _ensure_database(self) -> None:
        if self.kind == "external":
            return
        admin = self.dsn.rsplit("/", 1)[0] + "/postgres"
        conn = psycopg2.connect(admin)
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,))
                if cur.fetchone() is None:
                    cur.execute(f'CREATE DATABASE "{DATABASE}"')
        finally:
            conn.close()


def login_of(dsn: str, external: bool) -> dict[str, Any]:
    """The login libpq makes of `dsn`, for the exporter (another process, given it through Vault).

    A DSN without a password works when libpq finds one: PGPASSWORD, the password file (~/.pgpass or
    PGPASSFILE), or a server that asks for none; the password libpq used is what `conn.info.password`
    (PQpass) returns ("Connection Status Functions", libpq). Else the stack refuses to start here,
    naming the endpoint and why (never the password)."""
    from psycopg2.extensions import parse_dsn

    from aurora_sync.endpoints import one_line, postgres_endpoint

    try:
        conn = psycopg2.connect(dsn, connect_timeout=5)
    except psycopg2.Error as err:
        hint = ""
        if external and not parse_dsn(dsn).get("password"):
            hint = "; it has no password: set PGPASSWORD or add the login to ~/.pgpass (or PGPASSFILE)"
        where = f"{DSN_ENV} ({postgres_endpoint(dsn)})" if external else f"PostgreSQL ({postgres_endpoint(dsn)})"
        raise StackError(f"{where}: cannot log in: {one_line(err)}{hint}") from err
    try:
        info = conn.info
        return {
            "host": info.host,
            "port": info.port,
            "database": info.dbname,
            "user": info.user,
            "password": info.password or "",
        }
    finally:
        conn.close()


def _can_connect(dsn: str) -> bool:
    try:
        psycopg2.connect(dsn, connect_timeout=1).close()
    except psycopg2.OperationalError:
        return False
    return True
