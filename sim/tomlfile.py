"""Reading a TOML file for any of our configuration loaders, with one shape of error.

Every loader (instruments, FIX settings, venue config, scenarios) must refuse a missing file or a
syntax error with the file named and tomllib's line and column; this is that code, once.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any


def read_toml_text(path: str | Path, error: type[Exception], what: str) -> str:
    """The file's text; ``error("<path>: cannot read <what>: <reason>")`` if it cannot be read."""
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise error(f"{path}: cannot read {what}: {exc.strerror or exc}") from None


def parse_toml(text: str, source: str, error: type[Exception]) -> dict[str, Any]:
    """Parsed TOML; ``error("<source>: TOML syntax error: ... (at line L, column C)")`` if invalid."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{source}: TOML syntax error: {exc}") from None


def read_toml(path: str | Path, error: type[Exception], what: str) -> dict[str, Any]:
    """Read and parse a TOML file, raising ``error`` with the file named on any problem."""
    return parse_toml(read_toml_text(path, error, what), str(path), error)
