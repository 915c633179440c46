"""Write files the user asked for: reports, exports and configs.

The text goes to a temporary file beside the target, which then replaces the
target in one rename, so an interrupted write never leaves half a file behind
and never destroys the previous one. Missing parent folders are created.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from tether.errors import ConfigError


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` as UTF-8 to ``path`` and return the path.

    Raises:
        ConfigError: the folder cannot be created or the file cannot be written.
    """
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
        )
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                file.write(text)
            # mkstemp creates the file readable by its owner only.
            Path(temporary).chmod(0o666 & ~_umask())
            Path(temporary).replace(target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise ConfigError(
            f"cannot write {target}: {_problem(target, exc)}",
            setting="path",
            value=str(target),
        ) from exc
    return target


def _problem(target: Path, exc: OSError) -> str:
    """Return why ``target`` could not be written, and what to do about it."""
    if target.is_dir():
        # f-string, not target / "FILE", which would drop the "./" of ".".
        example = f"{target}{os.sep}FILE"
        return f"it is a folder, not a file; give the path of a file, such as {example}"
    for folder in target.parents:
        if folder.exists():
            if not folder.is_dir():
                return (
                    f"{folder} is a file, not a folder, so it cannot contain "
                    f"{target.relative_to(folder)}; choose a path in a folder, or "
                    f"move {folder} away"
                )
            break
    return f"{exc.strerror or exc}; choose a path in a folder you may write to"


def _umask() -> int:
    """Return the process's umask; reading it means setting it, so set it back."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
