"""Where a key sits in a TOML file, so a validation error can name the line.

``tomllib`` gives line and column for syntax errors only; once a document parses, values carry no
position.  A scenario author who wrote ``qty = -5`` under the third ``[[inject]]`` deserves
"line 41", so this module scans the source once and maps key paths such as
``("inject", 2, "qty")`` to line numbers.  It understands what scenario files use: ``[table]``,
``[[array.of.tables]]``, dotted headers and ``key = value`` lines (inline tables and multi-line
values are attributed to the line of their key).
"""

from __future__ import annotations

import re

_HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\-\" ]+?)\s*\]\]?\s*(?:#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-]+|\"[^\"]*\")\s*(?:\.\s*[A-Za-z0-9_\-]+\s*)*=")

Path = tuple[str | int, ...]


def locate_keys(text: str) -> dict[Path, int]:
    """Map every table header and key path in ``text`` to its 1-based line number.

    >>> lines = locate_keys('[scenario]\\nname = "x"\\n[[inject]]\\nat = "1s"\\n[[inject]]\\nqty = 5\\n')
    >>> lines[("scenario", "name")], lines[("inject", 1)], lines[("inject", 1, "qty")]
    (2, 5, 6)
    """
    found: dict[Path, int] = {}
    counters: dict[tuple[str, ...], int] = {}
    current: Path = ()
    in_multiline = False
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if in_multiline:
            if stripped.count('"""') % 2 == 1 or stripped.count("'''") % 2 == 1:
                in_multiline = False
            continue
        if not stripped or stripped.startswith("#"):
            continue
        header = _HEADER.match(line)
        if header and stripped.startswith("["):
            names = tuple(part.strip().strip('"') for part in header.group(2).split("."))
            if header.group(1) == "[[":
                index = counters.get(names, -1) + 1
                counters[names] = index
                # nested arrays of tables reset when their parent element changes
                for key in list(counters):
                    if len(key) > len(names) and key[: len(names)] == names:
                        del counters[key]
                current = _with_indexes(names, counters) + (index,)
            else:
                current = _with_indexes(names, counters)
            found.setdefault(current, number)
            continue
        key = _KEY.match(line)
        if key:
            name = key.group(1).strip('"')
            found.setdefault(current + (name,), number)
            if stripped.count('"""') == 1 or stripped.count("'''") == 1:
                in_multiline = True
    return found


def _with_indexes(names: tuple[str, ...], counters: dict[tuple[str, ...], int]) -> Path:
    """Insert the current element index after every array-of-tables prefix of ``names``."""
    path: list[str | int] = []
    for depth in range(1, len(names) + 1):
        path.append(names[depth - 1])
        prefix = names[:depth]
        if prefix in counters and depth < len(names):
            path.append(counters[prefix])
    return tuple(path)


def line_of(lines: dict[Path, int], path: Path) -> int | None:
    """The line of ``path``, or of its nearest enclosing table when the key itself is absent."""
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return None
