"""Files the console and the command line write (a map, a recap card, a playlist's export): a
path that can't be written is the user's to fix, said in one line, not a traceback."""

from __future__ import annotations

from pathlib import Path

from bot.errors import CrateError


def write_output(path: Path, data: bytes | str) -> None:
    """Write ``data`` (bytes, or text as UTF-8) to ``path``; :class:`CrateError` when it can't be."""
    try:
        if isinstance(data, str):
            path.write_text(data, encoding="utf-8")
        else:
            path.write_bytes(data)
    except OSError as error:
        raise CrateError(f"Can't write {path}: {error.strerror or error}.", detail=repr(error)) from error


def make_folder(path: Path) -> None:
    """Make the folder ``path`` (and its parents) to write into; :class:`CrateError` when it can't be."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CrateError(f"Can't make the folder {path}: {error.strerror or error}.", detail=repr(error)) from error


__all__ = ["make_folder", "write_output"]
