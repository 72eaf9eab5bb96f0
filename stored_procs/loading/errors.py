"""Why a batch is not loaded, by kind: the retry rule depends on it (loading.load._record_failure).

- LoadError: a batch that must not be merged (counts that disagree, a chunk of other columns...). A
  failure counts as an attempt; after ledger.MAX_ATTEMPTS the export is QUARANTINED.
- ConfigRefused: the table's own configuration refuses the batch (a rename of a column the export lacks,
  a transform that does not compile or fails over the rows, a type override that cannot hold the values
  without allow_lossy or that the existing column cannot hold, history switched on or off for a loaded
  target). The export is not at fault: it stays FAILED and is retried by every run without using up its
  attempts, so the run after the user fixes sync.toml (or CONFIGURE_TABLE) loads it; until then the table
  fails every run naming the key. The message names the key (`rename.notee`, `transform.EMAIL`,
  `type_overrides.amount`, `history`).

Both live here, apart from loading.batch, so that the modules sql.py imports (transforms, overrides) can
raise them. ConfigRefused is also a ValueError: the callers that report a setting's ValueError (the
app's CONFIGURE_TABLE checks) keep doing so.
"""

from __future__ import annotations


class LoadError(RuntimeError):
    """A batch that must not be merged; the message names the export, the table and the reason."""


class ConfigRefused(LoadError, ValueError):
    """A batch the table's configuration refuses; the message names the configuration key and the fix."""


def by_configuration(err: BaseException | None) -> bool:
    """Whether `err`, or an error it was raised from (`raise ... from`), is a ConfigRefused."""
    seen = 0
    while err is not None and seen < 10:  # a bounded walk of the __cause__ chain
        if isinstance(err, ConfigRefused):
            return True
        err, seen = err.__cause__, seen + 1
    return False
