"""Exceptions raised by Tether.

Every error the project raises on purpose derives from :class:`TetherError`.
Leaves also subclass the nearest builtin, so callers that catch ``KeyError``
or ``ValueError`` keep working, and they carry the offending value as fields.
The CLI turns any ``TetherError`` into a one-line message and exit code 2.

::

    TetherError
    ├── ConfigError (ValueError)           invalid setting, path or option
    ├── NotFoundError (KeyError)           missing run, dataset, model or alias
    ├── InvalidURIError (ValueError)       a URI that does not parse
    ├── DataError (ValueError)             data missing, unreadable or malformed
    ├── QualityCheckError                  a check with severity "error" failed
    ├── GateError                          a model test gate failed
    ├── SchemaError (ValueError)           input violates a model signature
    ├── StoreError (RuntimeError)          the store cannot be opened or written
    │   └── VersionConflictError           a dataset version was added meanwhile
    ├── UntrustedModelError (PermissionError)  loading would run untrusted code
    ├── PromotionError (PermissionError)   an alias may not move to an untested version
    ├── ServingError (RuntimeError)        the server cannot start or serve
    └── PipelineError (RuntimeError)       a pipeline cannot be built or run
        └── StepFailedError                a step raised in another process

Every error pickles with its fields, so a step that fails in a worker
process or on a Ray node raises the same error in the driver.
"""

from __future__ import annotations

from typing import Any


class TetherError(Exception):
    """Root of every error Tether raises on purpose."""

    def __init__(self, message: str) -> None:
        if not message:
            raise ValueError("TetherError needs a message")
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        # The default pickling calls cls(*args), which fails for keyword-only fields.
        return (_rebuild, (type(self), self.message, dict(self.__dict__)))


def _rebuild(
    cls: type[TetherError], message: str, state: dict[str, Any]
) -> TetherError:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(state)
    return error


class ConfigError(TetherError, ValueError):
    """A setting, path or option has an invalid value."""

    def __init__(
        self, message: str, *, setting: str | None = None, value: Any = None
    ) -> None:
        super().__init__(message)
        self.setting = setting
        self.value = value


class NotFoundError(TetherError, KeyError):
    """A named entity (run, dataset, model, version, alias) does not exist."""

    def __init__(self, message: str, *, kind: str, name: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.name = name

    def __str__(self) -> str:
        # KeyError.__str__ would wrap the message in quotes.
        return self.message


class InvalidURIError(TetherError, ValueError):
    """A URI that does not match any of the forms Tether understands."""

    def __init__(self, message: str, *, uri: str) -> None:
        super().__init__(message)
        self.uri = uri


class DataError(TetherError, ValueError):
    """A data file or frame is missing, unreadable or has the wrong columns."""

    def __init__(self, message: str, *, source: str | None = None) -> None:
        super().__init__(message)
        self.source = source


class QualityCheckError(TetherError):
    """One or more quality checks with severity ``error`` failed."""

    def __init__(self, message: str, *, report: Any) -> None:
        super().__init__(message)
        self.report = report


class GateError(TetherError):
    """A model test gate failed, so the model may not be registered."""

    def __init__(
        self, message: str, *, gate: str, value: float, threshold: float
    ) -> None:
        super().__init__(message)
        self.gate = gate
        self.value = value
        self.threshold = threshold


class SchemaError(TetherError, ValueError):
    """Input does not satisfy a model signature."""

    def __init__(self, message: str, *, column: str | None = None) -> None:
        super().__init__(message)
        self.column = column


class StoreError(TetherError, RuntimeError):
    """The metadata store cannot be opened, migrated or written."""


class VersionConflictError(StoreError):
    """Another writer added a dataset version after the one a change was built on."""

    def __init__(self, message: str, *, latest: int) -> None:
        super().__init__(message)
        self.latest = latest


class UntrustedModelError(TetherError, PermissionError):
    """Loading a model would run code or types that were not trusted."""

    def __init__(self, message: str, *, untrusted: list[str]) -> None:
        super().__init__(message)
        self.untrusted = untrusted


class AccessDeniedError(TetherError, PermissionError):
    """The Tether server refused a request: the caller's role is too low."""


class PromotionError(TetherError, PermissionError):
    """An alias may not move to a version whose required tests have not passed."""

    def __init__(self, message: str, *, uri: str, alias: str) -> None:
        super().__init__(message)
        self.uri = uri
        self.alias = alias


class ServingError(TetherError, RuntimeError):
    """The scoring server cannot start or serve."""


class PipelineError(TetherError, RuntimeError):
    """A pipeline cannot be built or run: a bad graph, executor or step output."""

    def __init__(self, message: str, *, step: str | None = None) -> None:
        super().__init__(message)
        self.step = step


class StepFailedError(PipelineError):
    """A step raised an error that could not be sent back from its worker.

    The message contains the error's type and text; the step run stores the
    traceback as ``logs/traceback.txt``.
    """

    def __init__(self, message: str, *, step: str, error_type: str) -> None:
        super().__init__(message, step=step)
        self.error_type = error_type


def error_from_json(error: dict[str, Any]) -> TetherError:
    """Return the Tether error a server sent as ``{"type", "message", "fields"}``.

    Only Tether's own error classes are rebuilt; any other type becomes a
    ``StoreError`` with the same message.
    """
    kind = globals().get(str(error.get("type")))
    message = str(error.get("message") or "the server rejected the request")
    if not (isinstance(kind, type) and issubclass(kind, TetherError)):
        return StoreError(message)
    fields = error.get("fields")
    state = dict(fields) if isinstance(fields, dict) else {}
    return _rebuild(kind, message, {**state, "message": message})
