"""Stable descriptions of module-level values, for the code part of a step's cache key.

A step that reads ``FEATURES = ["a", "b"]`` must run again when the list
changes, so the key contains a digest of a description of each module-level
value the step reads. The description of a value must be the same in every
process that builds it, so it contains no memory address and no hash order.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import io
import logging
import re
import sys
import threading
import types
from typing import Any, Protocol

from tether.artifacts.digest import digest_bytes

MAX_DEPTH = 100
# Default reprs such as <Rule object at 0x7f3a2c1b9e50> name a memory
# address, which differs between processes and between runs.
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{8,}")
_LOCK_TYPES = (
    type(threading.Lock()),
    type(threading.RLock()),
    threading.Condition,
    threading.Event,
    threading.Semaphore,
)


class UnstableValueError(Exception):
    """A value cannot be described the same way in every process."""


class CodeFollower(Protocol):
    """The code walker's interface through which a description follows the code it finds."""

    def follow_function(self, function: types.FunctionType) -> None:
        """Add a function found inside a value."""

    def follow_class(self, cls: type) -> None:
        """Add a class found inside a value, or the class of an instance."""

    def is_project_class(self, cls: type) -> bool:
        """Return whether ``cls`` is defined in the project."""


def describe(value: Any, follower: CodeFollower) -> str:
    """Return text that is equal for equal values, in any process.

    Raises:
        UnstableValueError: the value's only description names a memory
            address, its repr fails, or it contains itself.
    """
    return _Describer(follower).describe(value, 0, set())


class _Describer:
    def __init__(self, follower: CodeFollower) -> None:
        self.follower = follower

    def describe(self, value: Any, depth: int, open_ids: set[int]) -> str:
        if depth > MAX_DEPTH:
            raise UnstableValueError(f"it is nested more than {MAX_DEPTH} levels deep")
        if isinstance(value, enum.Enum):
            self.follower.follow_class(type(value))
            return f"enum {_qualified(type(value))}.{value.name}"
        if value is None or isinstance(value, (bool, int, float, complex, str, bytes)):
            return f"{type(value).__qualname__} {value!r}"
        if isinstance(value, (list, tuple, set, frozenset, dict)):
            return self._container(value, depth, open_ids)
        described = self._code(value, depth, open_ids)
        if described is None:
            described = self._data(value, depth, open_ids)
        if described is None:
            described = _repr(value)
        return described

    def _container(self, value: Any, depth: int, open_ids: set[int]) -> str:
        if id(value) in open_ids:
            raise UnstableValueError("it contains itself")
        open_ids.add(id(value))
        try:
            if isinstance(value, dict):
                items = [
                    f"{self.describe(k, depth + 1, open_ids)}: "
                    f"{self.describe(v, depth + 1, open_ids)}"
                    for k, v in value.items()
                ]
            elif isinstance(value, (set, frozenset)):
                # Set order follows string hashes, which differ between processes.
                items = sorted(self.describe(v, depth + 1, open_ids) for v in value)
            else:
                items = [self.describe(v, depth + 1, open_ids) for v in value]
        finally:
            open_ids.discard(id(value))
        return f"{type(value).__qualname__}[{', '.join(items)}]"

    def _code(self, value: Any, depth: int, open_ids: set[int]) -> str | None:
        """Describe functions, classes and modules by name, following project code."""
        if isinstance(value, types.FunctionType):
            self.follower.follow_function(value)
            return f"function {_qualified(value)}"
        if isinstance(value, type):
            self.follower.follow_class(value)
            return f"class {_qualified(value)}"
        if isinstance(value, types.ModuleType):
            return f"module {value.__name__}"
        if isinstance(value, types.BuiltinFunctionType):
            owner = value.__self__
            if owner is None or isinstance(owner, types.ModuleType):
                return (
                    f"builtin {getattr(value, '__module__', None)}.{value.__qualname__}"
                )
            # A method of an object, such as random.random: its object's state counts.
            return f"builtin {value.__qualname__} of {self.describe(owner, depth + 1, open_ids)}"
        if isinstance(value, types.MethodType):
            owner = self.describe(value.__self__, depth + 1, open_ids)
            function = self.describe(value.__func__, depth + 1, open_ids)
            return f"method {function} of {owner}"
        if isinstance(value, functools.partial):
            function = self.describe(value.func, depth + 1, open_ids)
            arguments = self.describe(list(value.args), depth + 1, open_ids)
            keywords = self.describe(dict(value.keywords), depth + 1, open_ids)
            return f"partial {function} {arguments} {keywords}"
        return None

    def _data(self, value: Any, depth: int, open_ids: set[int]) -> str | None:
        """Describe arrays, frames, dataclasses, project objects and process handles."""
        np = sys.modules.get("numpy")
        if np is not None and isinstance(value, np.ndarray):
            return _array(value)

        pd = sys.modules.get("pandas")
        if pd is not None and isinstance(value, (pd.DataFrame, pd.Series, pd.Index)):
            return _pandas(value, pd)

        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            self.follower.follow_class(type(value))
            fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
            return (
                f"{_qualified(type(value))}{self.describe(fields, depth + 1, open_ids)}"
            )
        if isinstance(value, (logging.Logger, logging.LoggerAdapter)):
            return f"logger {value.name}"
        if isinstance(value, _LOCK_TYPES):
            return f"lock {type(value).__qualname__}"
        if isinstance(value, io.IOBase):
            return f"file {getattr(value, 'name', '')!r}"

        cls: type = type(value)
        if (
            self.follower.is_project_class(cls)
            and "__repr__" not in _defined_names(cls)
            and hasattr(value, "__dict__")
        ):
            # A project object with the default repr is described by its
            # attributes and its class's code.
            self.follower.follow_class(cls)
            state = self.describe(dict(vars(value)), depth + 1, open_ids)
            return f"{_qualified(cls)}{state}"
        return None


def _defined_names(cls: type) -> set[str]:
    """Return the attribute names that ``cls`` and its bases other than ``object`` define."""
    return {name for base in cls.__mro__ if base is not object for name in vars(base)}


def _repr(value: Any) -> str:
    # NOTE: a repr that shortens a long value, as some libraries' reprs do,
    # hides a change in the part it leaves out.
    try:
        text = repr(value)
    except Exception as exc:
        raise UnstableValueError(f"its repr raised {type(exc).__name__}") from None
    if _ADDRESS.search(text):
        raise UnstableValueError("its repr contains a memory address")
    return f"{_qualified(type(value))} {text}"


def _array(array: Any) -> str:
    from tether.artifacts.materializers import NotMaterializableError, to_bytes

    try:
        data = to_bytes(array)[0]
    except NotMaterializableError:
        raise UnstableValueError("it is an array of Python objects") from None
    return f"ndarray {digest_bytes(data)}"


def _pandas(value: Any, pd: Any) -> str:
    # The repr of a long frame, series or index leaves rows out, so the rows
    # are hashed instead (pandas' hash_pandas_object uses a fixed hash key).
    try:
        hashes = pd.util.hash_pandas_object(value, index=True).to_numpy()
    except TypeError as exc:
        raise UnstableValueError(f"pandas cannot hash it ({exc})") from None
    if isinstance(value, pd.DataFrame):
        layout = repr([(str(c), str(t)) for c, t in value.dtypes.items()])
    else:
        layout = repr((str(value.name), str(value.dtype)))
    return f"{type(value).__qualname__} {layout} {digest_bytes(hashes.tobytes())}"


def _qualified(target: Any) -> str:
    return f"{module_name(target.__module__)}.{target.__qualname__}"


def module_name(name: str) -> str:
    """Return a module's name, ``__main__`` also for the copy a spawned worker imports.

    multiprocessing imports a script run as ``__main__`` again as
    ``__mp_main__`` in its workers; both name the same code.
    """
    return "__main__" if name == "__mp_main__" else name
