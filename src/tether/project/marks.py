"""The project file parsed with the line and column of every key and value.

``tether.yaml_lines`` records the line of each key, which is enough for the
test suite files. ``tether validate`` prints ``FILE:LINE:COL:``, so this
parser records the column too, and for each mapping entry both where its
key and where its value start: an unknown key is reported at the key, a
bad value at the value. A key given twice is a problem here as it is there,
because PyYAML would otherwise let the last one win silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from tether.project.problems import Problem, ProjectFileError
from tether.yaml_lines import KeyPath

Position = tuple[int, int]
"""A 1-based line and column."""


@dataclass
class Marks:
    """The start positions of the keys and values of a parsed file.

    Attributes:
        file: The file as it is named in messages.
        keys: The position of each mapping key, by its path.
        values: The position of each value (and list item), by its path.
        problems: Keys given twice in one mapping.
    """

    file: str
    keys: dict[KeyPath, Position] = field(default_factory=dict)
    values: dict[KeyPath, Position] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def at_key(self, path: KeyPath) -> Position:
        """Return the position of the key at ``path``, or of its nearest parent."""
        return self._nearest(path, prefer_key=True)

    def at_value(self, path: KeyPath) -> Position:
        """Return the position of the value at ``path``, or of its nearest parent."""
        return self._nearest(path, prefer_key=False)

    def _nearest(self, path: KeyPath, *, prefer_key: bool) -> Position:
        for end in range(len(path), -1, -1):
            part = tuple(path[:end])
            first, second = (self.keys, self.values)
            if not prefer_key:
                first, second = second, first
            found = first.get(part) or second.get(part)
            if found is not None:
                return found
        return (1, 1)


def parse_marked(text: str, file: str) -> tuple[Any, Marks]:
    """Parse YAML text; return the data and the position of every key and value.

    Raises:
        ProjectFileError: the text is not valid YAML.
    """
    loader = yaml.SafeLoader(text)
    marks = Marks(file)
    try:
        node = loader.get_single_node()
        data = None if node is None else loader.construct_document(node)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = error.problem or error.context or "syntax error"
        message = (
            f"invalid YAML: {problem}; fix the syntax (indent nested keys, and "
            "quote values that contain ': ' or ' #')"
        )
        raise ProjectFileError([Problem(file, line, column, "", message)]) from None
    except yaml.YAMLError as error:
        message = f"invalid YAML: {error}"
        raise ProjectFileError([Problem(file, 1, 1, "", message)]) from None
    finally:
        loader.dispose()
    if node is not None:
        _collect(node, (), marks)
    return data, marks


def dotted(path: KeyPath) -> str:
    """Return a key path as text: ``models.penguins.tests[0].kind``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _position(node: yaml.Node) -> Position:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


def _collect(node: yaml.Node, path: KeyPath, marks: Marks) -> None:
    marks.values.setdefault(path, _position(node))
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, Position] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            where = _position(key_node)
            if key in seen:
                line, column = where
                name = dotted((*path, key))
                marks.problems.append(
                    Problem(
                        marks.file,
                        line,
                        column,
                        name,
                        f"{name}: key {key!r} appears twice (first on line "
                        f"{seen[key][0]}); keep one of them",
                    )
                )
                continue
            seen[key] = where
            marks.keys[(*path, key)] = where
            marks.values[(*path, key)] = _position(value_node)
            _collect(value_node, (*path, key), marks)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            marks.keys[(*path, index)] = _position(item)
            _collect(item, (*path, index), marks)
