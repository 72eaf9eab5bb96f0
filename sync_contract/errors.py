"""Errors of the contract: each names the object and says what would be accepted."""


class ContractError(ValueError):
    """Input that breaks the contract (identifier, type, manifest)."""


class IdentifierError(ContractError):
    """An object name that cannot be used."""


class UnsupportedTypeError(ContractError):
    """A PostgreSQL type with no exact Snowflake counterpart."""


class ManifestError(ContractError):
    """A manifest that does not follow the contract; `path` names the offending field."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"manifest field {path}: {message}")
        self.path = path
