"""The exporter's errors. Terminal errors fail at once; transient ones may be retried by the caller."""


class ExportError(RuntimeError):
    """A terminal export failure: the message names the object and the fix."""


class EventError(ExportError):
    """The invocation event breaks the event contract; `field` names the offending field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"event field {field}: {message}")
        self.field = field


class SourceError(ExportError):
    """The source table or its columns are not what the event says."""
