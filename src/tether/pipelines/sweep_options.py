"""Parse sweep parameters written on the command line."""

from __future__ import annotations

import json
from typing import Any

from tether.errors import ConfigError
from tether.pipelines.sweep import Choice, Distribution, LogUniform, RandInt, Uniform


def parse_grid(items: list[str]) -> dict[str, list[Any]]:
    """Parse ``NAME=V1,V2`` items; each value is JSON when it parses, else text."""
    grid: dict[str, list[Any]] = {}
    for item in items:
        name, text = _split(item, "--grid", "learning_rate=0.05,0.1")
        grid[name] = [_value(part) for part in text.split(",")]
    return grid


def parse_space(items: list[str]) -> dict[str, Distribution]:
    """Parse ``NAME=KIND:ARGS`` items into distributions."""
    space: dict[str, Distribution] = {}
    for item in items:
        name, text = _split(item, "--random", "learning_rate=loguniform:0.01:0.3")
        kind, _, arguments = text.partition(":")
        space[name] = _distribution(item, kind, arguments)
    return space


def _distribution(item: str, kind: str, arguments: str) -> Distribution:
    if kind == "choice" and arguments:
        return Choice(tuple(_value(part) for part in arguments.split(",")))
    bounds = arguments.split(":")
    try:
        if kind in ("uniform", "loguniform") and len(bounds) == 2:
            low, high = float(bounds[0]), float(bounds[1])
            if low < high and (kind == "uniform" or low > 0):
                return (
                    Uniform(low, high) if kind == "uniform" else LogUniform(low, high)
                )
        if kind == "int" and len(bounds) == 2:
            low_int, high_int = int(bounds[0]), int(bounds[1])
            if low_int <= high_int:
                return RandInt(low_int, high_int)
    except ValueError:
        pass
    raise ConfigError(
        f"invalid --random {item!r}; use uniform:LOW:HIGH, loguniform:LOW:HIGH "
        "(LOW above 0), int:LOW:HIGH or choice:A,B,C, with LOW below HIGH",
        setting="--random",
        value=item,
    )


def _split(item: str, option: str, example: str) -> tuple[str, str]:
    name, sep, text = item.partition("=")
    if not sep or not name or not text:
        raise ConfigError(
            f"invalid {option} {item!r}; use NAME=VALUES, e.g. {example}",
            setting=option,
            value=item,
        )
    return name, text


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text
