"""The source database's credentials, from HashiCorp Vault (KV version 2) through hvac.

Authentication is by AWS IAM (the Lambda's own role, Vault's `aws` auth method) or by token. The
secret is cached for the life of the execution environment (warm invocations reuse it) and read again
when the database refuses the cached password. Each failure has its own error type and a message that
names the Vault address, the path and the fix, never a secret value.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import requests

from lambda_exporter.errors import ExportError

REQUIRED_FIELDS = ("host", "port", "database", "user", "password")
T = TypeVar("T")


class SecretError(ExportError):
    """The source credentials could not be obtained."""


class VaultUnreachableError(SecretError):
    """Vault did not answer (network, DNS, TLS)."""


class VaultSealedError(SecretError):
    """Vault answered that it is sealed or not initialised."""


class VaultAuthError(SecretError):
    """Vault refused to log this exporter in."""


class VaultPermissionError(SecretError):
    """Vault refused to read the secret's path with this exporter's token."""


class SecretMissingError(SecretError):
    """Nothing is stored at the configured path."""


class SecretMalformedError(SecretError):
    """The secret lacks fields or has values of the wrong type."""


@dataclass(frozen=True)
class AuroraCredentials:
    host: str
    port: int
    database: str
    user: str
    password: str = field(repr=False)

    def dsn(self) -> str:
        from psycopg2.extensions import make_dsn

        return str(
            make_dsn(host=self.host, port=self.port, dbname=self.database, user=self.user, password=self.password)
        )


@dataclass(frozen=True)
class VaultSettings:
    addr: str
    secret_path: str  # path inside the KV v2 mount, e.g. "aurora-sync/prod"
    mount_point: str = "secret"
    auth_method: str = "aws"  # "aws" (IAM) or "token"
    token: str | None = field(default=None, repr=False)
    aws_role: str | None = None
    aws_mount_point: str = "aws"
    aws_server_id: str | None = None  # X-Vault-AWS-IAM-Server-ID, when Vault requires one
    verify: bool | str = True  # True, or the path of a CA bundle; False only when asked for explicitly
    namespace: str | None = None
    timeout_s: float = 5.0

    @classmethod
    def from_env(
        cls,
        env: dict[str, str] | None = None,
        path_env: str = "VAULT_SECRET_PATH_AURORA",
        what: str = "the source database's credentials",
    ) -> VaultSettings:
        """Settings from the environment; `path_env` names the variable holding the secret's path (the
        source credentials' by default, VAULT_SECRET_PATH_MANIFEST_KEY for the manifest signing key)."""
        e = dict(os.environ if env is None else env)
        missing = [k for k in ("VAULT_ADDR", path_env) if not e.get(k)]
        if missing:
            raise SecretError(
                f"environment variable(s) {', '.join(missing)} not set: the exporter cannot find {what} in Vault"
            )
        method = e.get("VAULT_AUTH_METHOD") or ("token" if e.get("VAULT_TOKEN") else "aws")
        if method not in ("aws", "token"):
            raise SecretError(f"VAULT_AUTH_METHOD must be 'aws' or 'token', got {method!r}")
        if method == "token" and not e.get("VAULT_TOKEN"):
            raise SecretError("VAULT_AUTH_METHOD is 'token' but VAULT_TOKEN is not set")
        if method == "aws" and not e.get("VAULT_AWS_ROLE"):
            raise SecretError("VAULT_AUTH_METHOD is 'aws' but VAULT_AWS_ROLE (the Vault role to log in as) is not set")
        verify: bool | str = e.get("VAULT_CACERT") or True
        if e.get("VAULT_SKIP_VERIFY", "").lower() in ("1", "true", "yes"):
            verify = False
        return cls(
            addr=e["VAULT_ADDR"],
            secret_path=e[path_env].strip("/"),
            mount_point=e.get("VAULT_KV_MOUNT", "secret").strip("/"),
            auth_method=method,
            token=e.get("VAULT_TOKEN"),
            aws_role=e.get("VAULT_AWS_ROLE"),
            aws_mount_point=e.get("VAULT_AWS_MOUNT", "aws").strip("/"),
            aws_server_id=e.get("VAULT_AWS_SERVER_ID"),
            verify=verify,
            namespace=e.get("VAULT_NAMESPACE"),
            timeout_s=float(e.get("VAULT_TIMEOUT_S", "5")),
        )

    @property
    def where(self) -> str:
        return f"{self.mount_point}/{self.secret_path} at {self.addr}"


class VaultSecret(Generic[T]):
    """Reads one KV v2 secret and caches it (for `max_age_s` seconds when set, else for the execution
    environment's life); `refresh()` forgets it (and the token) so the next read logs in and reads again.
    Subclasses say which fields the secret holds (`required_fields`) and turn its data into a value."""

    required_fields: tuple[str, ...] = ()

    def __init__(self, settings: VaultSettings, max_age_s: float | None = None) -> None:
        self.settings = settings
        self.max_age_s = max_age_s
        self._client: Any = None
        self._cached: T | None = None
        self._read_at = 0.0
        self._lock = threading.Lock()
        self.reads = 0  # how many times the secret was read from Vault (observability, tests)

    def get(self) -> T:
        with self._lock:  # chunk workers ask from several threads at once
            stale = self.max_age_s is not None and time.monotonic() - self._read_at > self.max_age_s
            if self._cached is None or stale:
                self._cached = self._read_with_relogin()
                self._read_at = time.monotonic()
            return self._cached

    def refresh(self) -> T:
        with self._lock:
            self._cached = None
            self._client = None
        return self.get()

    def parse(self, data: dict[str, Any]) -> T:
        raise NotImplementedError

    def _read_with_relogin(self) -> T:
        import hvac.exceptions

        try:
            return self._read()
        except (hvac.exceptions.Forbidden, hvac.exceptions.Unauthorized):
            if self.settings.auth_method != "aws" or self._client is None:
                raise self._translate_forbidden() from None
            self._client = None  # the IAM token may have expired: log in again, once
            try:
                return self._read()
            except (hvac.exceptions.Forbidden, hvac.exceptions.Unauthorized):
                raise self._translate_forbidden() from None

    def _read(self) -> T:
        import hvac.exceptions

        s = self.settings
        try:
            client = self._logged_in_client()
            response = client.secrets.kv.v2.read_secret_version(
                path=s.secret_path, mount_point=s.mount_point, raise_on_deleted_version=True
            )
        except (hvac.exceptions.VaultDown, hvac.exceptions.VaultNotInitialized) as err:
            raise VaultSealedError(f"Vault at {s.addr} is sealed or not initialised; unseal it, then retry") from err
        except (
            hvac.exceptions.InternalServerError,
            hvac.exceptions.BadGateway,
            hvac.exceptions.RateLimitExceeded,
            hvac.exceptions.UnexpectedError,
        ) as err:
            raise VaultUnreachableError(
                f"Vault at {s.addr} answered {type(err).__name__} reading {s.mount_point}/{s.secret_path}; "
                "retrying (check Vault's health if it persists)"
            ) from err
        except hvac.exceptions.InvalidPath as err:
            raise SecretMissingError(
                f"no secret at {s.where}: write one with fields {', '.join(self.required_fields)} "
                f"(e.g. `vault kv put -mount={s.mount_point} {s.secret_path} {self.required_fields[0]}=... ...`)"
            ) from err
        except requests.exceptions.SSLError as err:
            raise VaultUnreachableError(
                f"TLS verification of Vault at {s.addr} failed; set VAULT_CACERT to its CA bundle"
            ) from err
        except requests.exceptions.RequestException as err:
            raise VaultUnreachableError(
                f"Vault at {s.addr} is unreachable ({type(err).__name__}); "
                "check VAULT_ADDR and the exporter's network path to Vault"
            ) from err
        self.reads += 1
        data = response.get("data", {}).get("data") if isinstance(response, dict) else None
        if not isinstance(data, dict):
            raise SecretMalformedError(f"the secret at {s.where} is not a KV v2 secret with fields")
        missing = [f for f in self.required_fields if f not in data or data[f] in (None, "")]
        if missing:
            raise SecretMalformedError(
                f"the secret at {s.where} lacks {', '.join(missing)}; it must hold {', '.join(self.required_fields)}"
            )
        return self.parse(data)

    def _logged_in_client(self) -> Any:
        if self._client is not None:
            return self._client
        import hvac
        import hvac.exceptions

        s = self.settings
        client = hvac.Client(url=s.addr, verify=s.verify, timeout=s.timeout_s, namespace=s.namespace)
        if s.auth_method == "token":
            client.token = s.token
        else:
            try:
                _aws_login(client, s)
            except (hvac.exceptions.Forbidden, hvac.exceptions.Unauthorized, hvac.exceptions.InvalidRequest) as err:
                raise VaultAuthError(
                    f"Vault at {s.addr} refused the AWS IAM login as role {s.aws_role!r} "
                    f"(auth mount {s.aws_mount_point!r}); bind the Lambda's IAM role to that Vault role"
                ) from err
        self._client = client
        return client

    def _translate_forbidden(self) -> SecretError:
        s = self.settings
        if s.auth_method == "token":
            return VaultPermissionError(
                f"Vault denied reading {s.where} with the configured token (expired, revoked, or its policy "
                f"lacks `read` on {s.mount_point}/data/{s.secret_path})"
            )
        return VaultPermissionError(
            f"Vault denied reading {s.where} to role {s.aws_role!r}; grant its policy `read` on "
            f"{s.mount_point}/data/{s.secret_path}"
        )


def _aws_login(client: Any, s: VaultSettings) -> None:
    import boto3

    creds = boto3.Session().get_credentials()
    if creds is None:
        raise VaultAuthError("no AWS credentials in the exporter's environment for Vault's AWS IAM login")
    frozen = creds.get_frozen_credentials()
    client.auth.aws.iam_login(
        frozen.access_key,
        frozen.secret_key,
        frozen.token,
        role=s.aws_role,
        header_value=s.aws_server_id,
        mount_point=s.aws_mount_point,
        region=os.environ.get("AWS_REGION", "us-east-1"),
    )


class VaultCredentials(VaultSecret[AuroraCredentials]):
    """The source database's credentials, cached for the execution environment's life and read again
    when the database refuses them (`refresh`)."""

    required_fields = REQUIRED_FIELDS

    def parse(self, data: dict[str, Any]) -> AuroraCredentials:
        return _parse(data, self.settings)


def _parse(data: dict[str, Any], s: VaultSettings) -> AuroraCredentials:
    wrong = [f for f in ("host", "database", "user", "password") if not isinstance(data[f], str)]
    try:
        port = int(data["port"])
    except (TypeError, ValueError):
        wrong.append("port")
        port = 0
    if wrong or not 0 < port < 65536:
        raise SecretMalformedError(
            f"the secret at {s.where} has fields of the wrong type: {', '.join(sorted(set(wrong)) or ['port'])} "
            "(host, database, user, password are strings; port is an integer 1..65535)"
        )
    return AuroraCredentials(data["host"], port, data["database"], data["user"], data["password"])
