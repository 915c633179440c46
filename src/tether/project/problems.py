"""Problems found in a project file, each at a line and column.

The loader collects every problem it finds instead of stopping at the
first, so ``tether validate`` prints them all, one per line, in the form
compilers and editors read: ``tether.yaml:LINE:COL: message``.
"""

from __future__ import annotations

from dataclasses import dataclass

from tether.errors import ConfigError


@dataclass(frozen=True)
class Problem:
    """One problem in a project file.

    Attributes:
        file: The file as it is named in messages, such as ``tether.yaml``.
        line: The 1-based line of the key or value at fault.
        column: The 1-based column of the key or value at fault.
        key: The dotted path of the key, such as ``models.penguins.suite``;
            empty for the whole file.
        message: What is wrong, with the value and the fix.
    """

    file: str
    line: int
    column: int
    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


class ProjectFileError(ConfigError):
    """A project file is missing, not valid YAML, or has invalid keys or values.

    Attributes:
        problems: Every problem found, in the order of the file.
    """

    def __init__(self, problems: list[Problem]) -> None:
        if not problems:
            raise ValueError("ProjectFileError needs at least one problem")
        ordered = sorted(problems, key=lambda p: (p.line, p.column))
        more = len(ordered) - 1
        suffix = f" (and {more} more; run `tether validate`)" if more else ""
        first = ordered[0]
        super().__init__(
            f"{first}{suffix}", setting=first.key or "project", value=first.file
        )
        self.problems = ordered
