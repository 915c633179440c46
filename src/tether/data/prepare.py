"""Register a frame made from other dataset versions, with the code that made it.

:func:`derive` loads each parent version, calls a preparation function
(a join, a filter, derived features) on the frames and registers the result
as a version. Its lineage then names every parent version and the code:

- a ``derived`` edge runs from each parent version to the new version;
- the function's source text is stored as a blob named by its BLAKE3 digest,
  with a ``code`` edge from that blob to the new version;
- the version's ``source`` records ``function`` (the qualified name),
  ``code_digest``, ``parents`` (their URIs) and ``params``, plus ``bound``
  for the arguments a ``functools.partial`` binds;
- inside a run, each parent gets an ``input`` edge into the run and the run
  an ``output`` edge to the new version.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tether.errors import ConfigError, DataError
from tether.store.records import DatasetVersionRecord, Edge

if TYPE_CHECKING:
    import pandas as pd

    from tether.active import RunLike as Run
    from tether.data.catalog import VersionReference

CODE_MEDIA_TYPE = "text/x-python"


@dataclass(frozen=True)
class CodeReference:
    """A function named by module and qualified name, with its source and digest."""

    name: str
    source: str
    digest: str


def code_reference(function: Callable[..., Any]) -> CodeReference:
    """Return the qualified name, source text and BLAKE3 source digest of a function.

    Decorated functions are unwrapped, and a ``functools.partial`` names
    the function it wraps.

    Raises:
        ConfigError: the source cannot be read, as for a function typed into
            an interactive interpreter or a built-in.
    """
    from tether.artifacts.digest import digest_bytes

    target = inspect.unwrap(function)
    while isinstance(target, functools.partial):
        target = inspect.unwrap(target.func)
    module = getattr(target, "__module__", None) or "<unknown module>"
    qualname = getattr(target, "__qualname__", None) or type(target).__qualname__
    name = f"{module}.{qualname}"
    try:
        source = inspect.getsource(target)
    except (OSError, TypeError) as exc:
        raise ConfigError(
            f"cannot read the source of {name} ({exc}); define the preparation "
            "function in a file or notebook cell so its code can be recorded",
            setting="function",
            value=name,
        ) from None
    return CodeReference(name, source, digest_bytes(source.encode()))


def derive(
    name: str,
    function: Callable[..., pd.DataFrame],
    *parents: VersionReference,
    params: Mapping[str, Any] | None = None,
    run: Run | None = None,
) -> DatasetVersionRecord:
    """Make a version of ``name`` from ``function(*parent_frames, **params)``.

    Example::

        def late_flights(flights, weather, threshold):
            joined = flights.merge(weather, on=["origin", "time_hour"])
            return joined[joined["dep_delay"] > threshold]

        version = tether.data.derive(
            "late-flights", late_flights,
            "datasets:/flights@1", "datasets:/weather@1",
            params={"threshold": 60},
        )

    Args:
        name: The dataset that receives the new version.
        function: Called with one DataFrame per parent, in order, and
            ``params`` as keyword arguments. It must return a DataFrame.
        parents: The versions it reads: URIs such as ``datasets:/flights@1``
            or records.
        params: Keyword arguments for ``function``, recorded in the version's
            source. Values that JSON cannot hold are recorded as text.
        run: The run that derives the data; defaults to the active run, if any.

    Returns:
        The new version, or the latest one when the content is unchanged.
        An unchanged version keeps the source it was first registered with,
        and still gains the lineage edges of this call.

    Raises:
        ConfigError: no parent was given, or the function's source cannot be read.
        NotFoundError: a parent version does not exist.
        DataError: the function did not return a DataFrame.
    """
    from tether.active import current
    from tether.artifacts import get_objects
    from tether.data.catalog import version_of
    from tether.data.profiles import json_safe
    from tether.data.versions import load, register
    from tether.store import get_store

    if not parents:
        raise ConfigError(
            f"derive({name!r}, ...) needs at least one parent version, for example "
            "derive(name, function, 'datasets:/flights@1'); register data without "
            "parents with tether.data.register",
            setting="parents",
            value=[],
        )
    code = code_reference(function)
    records = [version_of(parent) for parent in parents]
    arguments = dict(params or {})
    frame = _call(function, code.name, [load(record) for record in records], arguments)
    run = run or current()
    code_blob = get_objects().put_bytes(code.source.encode(), CODE_MEDIA_TYPE)
    source = {
        "type": "derived",
        "function": code.name,
        "code_digest": code.digest,
        "parents": [record.uri for record in records],
        "params": json_safe(arguments),
    }
    bound = _bound_arguments(function)
    if bound:
        source["bound"] = json_safe(bound)
    record = register(
        name, frame, run=run, role="output", source=source, parents=records
    )
    store = get_store()
    store.add_edge(
        Edge("artifact", code_blob.digest, "dataset_version", record.id, "code")
    )
    if run is not None:
        for parent in records:
            store.add_edge(Edge("dataset_version", parent.id, "run", run.id, "input"))
    return record


def _bound_arguments(function: Callable[..., Any]) -> dict[str, Any]:
    """Return the ``args`` and ``keywords`` that ``functools.partial`` layers bind."""
    layers = []
    while isinstance(function, functools.partial):
        layers.append(function)
        function = function.func
    args: list[Any] = []
    keywords: dict[str, Any] = {}
    # The innermost partial's arguments come first in the final call.
    for layer in reversed(layers):
        args.extend(layer.args)
        keywords.update(layer.keywords)
    bound: dict[str, Any] = {}
    if args:
        bound["args"] = args
    if keywords:
        bound["keywords"] = keywords
    return bound


def _call(
    function: Callable[..., Any],
    name: str,
    frames: list[pd.DataFrame],
    params: dict[str, Any],
) -> pd.DataFrame:
    import pandas as pd

    result = function(*frames, **params)
    if not isinstance(result, pd.DataFrame):
        raise DataError(
            f"preparation function {name} returned {type(result).__name__}, "
            "not a pandas DataFrame; return the prepared frame",
            source=name,
        )
    return result
