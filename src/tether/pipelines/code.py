"""Digest of a step's code: its source, and the project code and values it uses.

Starting from the step function, every name that the code looks up as a
global, or as an attribute of a project module (``features.prepare``), is
followed transitively:

- a project function: the digest of its source;
- a project class: the digest of its source, which covers its class
  attributes and methods; the names used by its methods and its class body
  are followed in turn, and so are its project base classes;
- any other module-level value, such as ``FEATURES = ["a", "b"]``: the
  digest of a stable description of the value (see
  :mod:`tether.pipelines.code_values`).

Project code is code defined outside the standard library, installed
packages and Tether. Library code is covered by the package versions in the
key. So editing a helper, a class or a constant invalidates the cache of
every step that uses it.
"""

from __future__ import annotations

import ast
import functools
import inspect
import sys
import sysconfig
import textwrap
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tether.artifacts.digest import digest_bytes
from tether.pipelines.code_values import UnstableValueError, describe, module_name

_LIBRARY_ROOTS = tuple(
    {
        sysconfig.get_paths()[name]
        for name in ("stdlib", "platstdlib", "purelib", "platlib")
    }
)
UNSTABLE = "no stable description"
"""The entry of a global value that cannot be described stably."""


@dataclass
class CodeDigests:
    """Digests of the code a step runs and of the module-level values it reads.

    Each mapping is keyed by ``module.qualname``, so a change can be traced
    to one function, class or value.

    Attributes:
        functions: Digest of the source of each project function.
        classes: Digest of the source of each project class.
        values: Digest of the description of each other global value, or
            ``UNSTABLE`` for a value without a stable description.
        problem: Why a value has no stable description, or "".
    """

    functions: dict[str, str] = field(default_factory=dict)
    classes: dict[str, str] = field(default_factory=dict)
    values: dict[str, str] = field(default_factory=dict)
    problem: str = ""

    def components(self) -> dict[str, dict[str, str]]:
        """Return the cache key parts ``code``, ``classes`` and ``globals``."""
        return {
            "code": self.functions,
            "classes": self.classes,
            "globals": self.values,
        }


def code_digests(function: Callable[..., Any]) -> CodeDigests:
    """Return the digests of ``function``'s source and of the project code and values it uses."""
    walker = _Walker()
    walker.follow_function(function)
    found = walker.found
    return CodeDigests(
        dict(sorted(found.functions.items())),
        dict(sorted(found.classes.items())),
        dict(sorted(found.values.items())),
        found.problem,
    )


class _Walker:
    """Follows names from a step function to the project code and values they reach."""

    def __init__(self) -> None:
        self.found = CodeDigests()

    def follow_function(self, function: Any) -> None:
        function = _unwrap(function)
        if not isinstance(function, types.FunctionType):
            return
        name = f"{module_name(function.__module__)}.{function.__qualname__}"
        if name in self.found.functions or not _is_project_code(function):
            return
        self.found.functions[name] = digest_bytes(_source(function).encode())
        # NOTE: closure variables and the default values of a helper's
        # parameters are not followed: `def helper(x, cols=FEATURES)` misses a
        # change of FEATURES. A step's own defaults enter the key as params.
        self._follow_code(function.__code__, function.__globals__)

    def follow_class(self, cls: type) -> None:
        if not self.is_project_class(cls):
            return
        name = f"{module_name(cls.__module__)}.{cls.__qualname__}"
        if name in self.found.classes:
            return
        source, global_names, names = _class_source(cls)
        self.found.classes[name] = digest_bytes(source.encode())
        # Base classes, decorators and class attributes such as
        # `limit = LIMIT` are looked up in the module of the class.
        self._follow_names(vars(sys.modules[cls.__module__]), global_names, names)
        for base in cls.__bases__:
            self.follow_class(base)
        for member in vars(cls).values():
            self._follow_member(member)

    def is_project_class(self, cls: type) -> bool:
        module = sys.modules.get(cls.__module__)
        return module is not None and _is_project_module(module)

    def _follow_member(self, member: Any) -> None:
        """Follow the names a method, property or nested class of a class uses."""
        if isinstance(member, (staticmethod, classmethod)):
            member = member.__func__
        if isinstance(member, functools.cached_property):
            member = member.func
        if isinstance(member, type):
            self.follow_class(member)
            return
        functions = (
            [member.fget, member.fset, member.fdel]
            if isinstance(member, property)
            else [member]
        )
        for function in functions:
            function = _unwrap(function)
            # The class source already covers the method's own source.
            if isinstance(function, types.FunctionType) and _is_project_code(function):
                self._follow_code(function.__code__, function.__globals__)

    def _follow_code(self, code: types.CodeType, namespace: dict[str, Any]) -> None:
        global_names, names = _names(code)
        self._follow_names(namespace, global_names, names)

    def _follow_names(
        self,
        namespace: dict[str, Any],
        global_names: frozenset[str],
        names: frozenset[str],
        visited: set[str] | None = None,
    ) -> None:
        """Follow ``names`` in a module's namespace.

        Functions, classes and modules are followed by any name the code
        uses, values only by the names it reads as globals. Attribute names
        are in ``names`` too, so a project module found here is searched for
        the same names: ``features.prepare`` yields ``prepare``, and values
        are looked up there by every name, because the code reads them as
        attributes of the module.
        """
        visited = set() if visited is None else visited
        module = module_name(str(namespace.get("__name__", "")))
        for ref in sorted(names):
            if ref not in namespace:
                continue
            value = namespace[ref]
            if isinstance(value, types.ModuleType):
                if value.__name__ not in visited and _is_project_module(value):
                    visited.add(value.__name__)
                    self._follow_names(vars(value), names, names, visited)
                continue
            if self._follow_callable(value):
                continue
            if ref in global_names and not (
                ref.startswith("__") and ref.endswith("__")
            ):
                self._add_value(f"{module}.{ref}", value)

    def _follow_callable(self, value: Any) -> bool:
        """Follow a function or class; return whether ``value`` was one."""
        target = _unwrap(value)
        if isinstance(target, types.FunctionType):
            self.follow_function(target)
            return True
        if isinstance(value, type):
            self.follow_class(value)
            return True
        return False

    def _add_value(self, name: str, value: Any) -> None:
        try:
            text = describe(value, self)
        except UnstableValueError as exc:
            self.found.values[name] = UNSTABLE
            if not self.found.problem:
                self.found.problem = (
                    f"global {name} of type {type(value).__qualname__} has no stable "
                    f"description ({exc}); pass it to the step as an argument or make "
                    "it inside the step"
                )
            return
        self.found.values[name] = digest_bytes(text.encode())


def _unwrap(value: Any) -> Any:
    """Return the function that decorators such as ``@tether.step`` or ``lru_cache`` wrap."""
    seen = 0
    while seen < 100:
        try:
            wrapped = getattr(value, "__wrapped__", None)
        except Exception:
            return value
        if wrapped is None or not callable(wrapped):
            return value
        value = wrapped
        seen += 1
    return value


# Names by code object, and source by code object or class. A code object or
# class belongs to one definition, and reloading an edited module makes new
# ones, so an entry never goes stale. Reading the source again for every step
# call cost about a millisecond.
MAX_CACHED_SOURCES = 10_000
_sources: dict[types.CodeType, str] = {}
_code_names: dict[types.CodeType, tuple[frozenset[str], frozenset[str]]] = {}
_class_sources: dict[type, tuple[str, frozenset[str], frozenset[str]]] = {}


def _names(code: types.CodeType) -> tuple[frozenset[str], frozenset[str]]:
    """Return the names ``code`` reads as globals, and all names it uses, nested code included."""
    found = _code_names.get(code)
    if found is None:
        global_names: set[str] = set()
        names: set[str] = set()
        _collect_names(code, global_names, names)
        found = (frozenset(global_names), frozenset(names))
        _remember(_code_names, code, found)
    return found


def _collect_names(
    code: types.CodeType, global_names: set[str], names: set[str]
) -> None:
    names.update(code.co_names)
    # LOAD_GLOBAL reads a module global; in Python 3.11 its argval is the
    # name. LOAD_NAME does the same in class bodies and module code.
    import dis

    for instruction in dis.get_instructions(code):
        if instruction.opname in ("LOAD_GLOBAL", "LOAD_NAME"):
            global_names.add(str(instruction.argval))
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            _collect_names(const, global_names, names)


def _remember(cache: dict[Any, Any], key: Any, value: Any) -> None:
    if len(cache) >= MAX_CACHED_SOURCES:
        cache.clear()
    cache[key] = value


def _is_project_module(module: types.ModuleType) -> bool:
    filename = getattr(module, "__file__", None)
    if filename is None or module.__name__.split(".")[0] == "tether":
        return False
    return not str(filename).startswith(_LIBRARY_ROOTS)


def _is_project_code(function: types.FunctionType) -> bool:
    module = sys.modules.get(function.__module__)
    filename = getattr(module, "__file__", None) or function.__code__.co_filename
    if function.__module__.startswith("tether."):
        return False
    return not str(filename).startswith(_LIBRARY_ROOTS)


def _source(function: types.FunctionType) -> str:
    code = function.__code__
    found = _sources.get(code)
    if found is None:
        try:
            found = inspect.getsource(function)
        except (OSError, TypeError):
            found = code.co_code.hex()
        _remember(_sources, code, found)
    return found


def _class_source(cls: type) -> tuple[str, frozenset[str], frozenset[str]]:
    """Return the source of ``cls``, and the global and all names its class body uses.

    Names used inside its methods are not included: they are read from the
    methods' code objects.
    """
    found = _class_sources.get(cls)
    if found is None:
        try:
            source = inspect.getsource(cls)
        except (OSError, TypeError):
            found = (_class_outline(cls), frozenset(), frozenset())
        else:
            found = (source, *_class_body_names(source))
        _remember(_class_sources, cls, found)
    return found


def _class_body_names(source: str) -> tuple[frozenset[str], frozenset[str]]:
    try:
        tree = ast.parse(textwrap.dedent(source))
    except SyntaxError:
        return frozenset(), frozenset()
    classes = [node for node in tree.body if isinstance(node, ast.ClassDef)]
    if not classes:
        return frozenset(), frozenset()
    collector = _BodyNames()
    node = classes[0]
    for part in [*node.decorator_list, *node.bases, *node.keywords, *node.body]:
        collector.visit(part)
    return frozenset(collector.global_names), frozenset(collector.names)


class _BodyNames(ast.NodeVisitor):
    """Collect the names a class body evaluates, leaving out function and nested class bodies."""

    def __init__(self) -> None:
        self.global_names: set[str] = set()
        self.names: set[str] = set()

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self.global_names.add(node.id)
            self.names.add(node.id)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        self.names.add(node.attr)
        self.visit(node.value)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._visit_signature(node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self._visit_signature(node)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        for default in [*node.args.defaults, *node.args.kw_defaults]:
            if default is not None:
                self.visit(default)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for part in [*node.decorator_list, *node.bases, *node.keywords]:
            self.visit(part)

    def _visit_signature(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for part in [*node.decorator_list, *node.args.defaults, *node.args.kw_defaults]:
            if part is not None:
                self.visit(part)


def _class_outline(cls: type) -> str:
    """Describe a class whose source cannot be read, such as one made in a notebook."""
    lines = [f"class {cls.__qualname__}{tuple(b.__qualname__ for b in cls.__bases__)}"]
    for key, member in vars(cls).items():
        if key in ("__dict__", "__weakref__", "__module__"):
            continue
        function = _unwrap(getattr(member, "__func__", member))
        if isinstance(function, types.FunctionType):
            lines.append(f"{key}: {_source(function)}")
        elif member is None or isinstance(member, (bool, int, float, str, bytes)):
            lines.append(f"{key} = {member!r}")
        else:
            lines.append(f"{key}: {type(member).__qualname__}")
    return "\n".join(lines)
