"""YAML parsed with the line of every key and list item, for errors that name it.

The data-quality suites and the model test suites are both YAML files whose
errors name the line of the key at fault, and both reject a key given twice
in one mapping, which PyYAML would otherwise let the last one win.
"""

from __future__ import annotations

from typing import Any

import yaml

from tether.errors import ConfigError

KeyPath = tuple[str | int, ...]


def parse_with_lines(
    text: str, source: str, *, noun: str = "key"
) -> tuple[Any, dict[KeyPath, int]]:
    """Parse YAML and return the data and the 1-based line of every key and item.

    Args:
        text: The YAML text.
        source: What to call the text in errors, such as its file name.
        noun: What the file's keys are called in errors ("key", "field").

    Raises:
        ConfigError: the text is not valid YAML, or a mapping repeats a key.
    """
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = None if node is None else loader.construct_document(node)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = error.problem or error.context or "syntax error"
        raise ConfigError(
            f"{source}{where}: invalid YAML: {problem}; fix the syntax (indent "
            f"nested {noun}s, and quote values that contain ': ' or '#')",
            setting="suite",
            value=source,
        ) from None
    except yaml.YAMLError as error:
        raise ConfigError(
            f"{source}: invalid YAML: {error}", setting="suite", value=source
        ) from None
    finally:
        loader.dispose()
    lines: dict[KeyPath, int] = {}
    if node is not None:
        _collect_lines(node, (), lines, source, noun)
    return data, lines


def line_of(lines: dict[KeyPath, int], source: str, *path: str | int) -> str:
    """Return ``"SOURCE, line N"`` for the deepest part of ``path`` with a known line."""
    for end in range(len(path), -1, -1):
        line = lines.get(tuple(path[:end]))
        if line is not None:
            return f"{source}, line {line}"
    return source


def _collect_lines(
    node: yaml.Node,
    path: KeyPath,
    lines: dict[KeyPath, int],
    source: str,
    noun: str,
) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            line = key_node.start_mark.line + 1
            if key in seen:
                raise ConfigError(
                    f"{source}, line {line}: {noun} {key!r} appears twice (first on "
                    f"line {seen[key]}); keep one of them",
                    setting=str(key),
                )
            seen[key] = line
            _collect_lines(value_node, (*path, key), lines, source, noun)
            lines[(*path, key)] = line
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _collect_lines(item, (*path, index), lines, source, noun)
