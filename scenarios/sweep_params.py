"""Sweep parameters: ``PATH=VALUES`` on the command line, and the scenario variant they make.

A path addresses a field of the scenario's TOML document the way a person reads the file:
``scenario.duration``, ``inject.1.qty`` (arrays of tables are 1-based, like the ``after``
field), ``firm.MIZUHO.risk.max_order_qty`` (an element of an array of tables may also be named by
its ``id``, ``symbol`` or ``name``).  Missing tables on the way are created, so
``firm.STREET.risk.max_order_qty`` works for a firm written without ``[firm.risk]``.

Values: a comma list (``1000,10000``, ``true,false``, ``"40s","2m"``), ``range(a,b,step)``
(Python's, end excluded, in exact decimals), ``linspace/logspace(a,b,n)`` (numpy's) and
``logrange(a,b,n)`` (n geometric steps from a to b); a unit after a generator makes text
(``range(10,40,10)s``).  Each value takes the type of the field it replaces, so ``100.05`` stays
the decimal text a price must be, and ``1e3`` for an integer field is 1000.

Why a variant is the *parsed* document edited and written back as TOML, rather than a patched
:class:`~scenarios.spec.Scenario`: :func:`~scenarios.spec.parse_scenario` then judges every
variant exactly as it judges a file (nothing about the schema is duplicated here), and the run's
journal carries the text it actually ran, so any row of a sweep can be replayed.  tomllib only
reads, hence the small writer below (values, tables, arrays of tables; comments are not kept).
The unmodified scenario keeps its original text, and with it its journal hash.

Every value is checked before anything runs (with the other parameters at their first value), so
a bad path or value is refused naming the ``--param`` (the variant's line numbers would mean
nothing to the user).  Combinations that are only invalid together surface at run time, as
error rows.
"""

from __future__ import annotations

import copy
import json
import math
import re
import tomllib
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

import numpy as np

from scenarios.spec import Scenario, ScenarioError, parse_scenario


class SweepError(ValueError):
    """A sweep that cannot start: a bad ``--param``, a missing extra, an unusable output directory."""


# -- parameters ----------------------------------------------------------------------------------

_GENERATOR = re.compile(r"^\s*(range|linspace|logspace|logrange)\((.*)\)\s*([A-Za-z%]*)\s*$")
_NUMBER = re.compile(r"^[+-]?(\d[\d_]*)?(\.\d+)?([eE][+-]?\d+)?$")


@dataclass(frozen=True, slots=True)
class Param:
    """One swept field: its path in the TOML document and the values (typed as the field is)."""

    path: str
    keys: tuple[str, ...]
    values: tuple[Any, ...]

    @property
    def labels(self) -> tuple[str, ...]:
        """The values as written in results.csv."""
        return tuple(value_label(v) for v in self.values)


def parse_values(text: str) -> list[Any]:
    """Values of a ``--param``: a comma list, ``range(a,b,step)``, ``linspace/logspace/logrange(a,b,n)``.

    ``range`` is Python's (end excluded) in exact decimals; ``logspace`` is numpy's (10**a..10**b);
    ``logrange(a,b,n)`` is n geometric steps from a to b.  A unit after a generator makes text:
    ``range(10,40,10)s`` gives ``"10s", "20s", "30s"``.  Generated whole numbers become integers.

    A decimal such as ``100.05`` stays as written until the field's type is known (prices are
    decimal text in scenarios; a float field gets the float).

    >>> parse_values("range(100,400,100)"), parse_values("logspace(1,3,3)"), parse_values('2.5,true,"x"')
    ([100, 200, 300], [10, 100, 1000], ['2.5', True, 'x'])
    """
    match = _GENERATOR.match(text)
    if match is None:
        return [_literal(item) for item in _split(text)]
    name, inner, unit = match.groups()
    args = [a.strip() for a in inner.split(",")]
    try:
        numbers = [Decimal(a.replace("_", "")) for a in args]
    except InvalidOperation:
        raise SweepError(f"{name}(...) takes numbers, got {inner!r}") from None
    if name == "range":
        if len(numbers) not in (2, 3) or (len(numbers) == 3 and numbers[2] == 0):
            raise SweepError(f"range takes (start, stop) or (start, stop, step) with step != 0, got ({inner})")
        start, stop, step = numbers[0], numbers[1], numbers[2] if len(numbers) == 3 else Decimal(1)
        count = max(0, math.ceil((stop - start) / step))
        values: list[Any] = [start + step * i for i in range(count)]
    else:
        if len(numbers) != 3 or numbers[2] != int(numbers[2]) or numbers[2] < 1:
            raise SweepError(f"{name} takes (start, stop, count) with a whole count, got ({inner})")
        a, b, n = float(numbers[0]), float(numbers[1]), int(numbers[2])
        if name == "logrange" and (a <= 0 or b <= 0):
            raise SweepError(f"logrange needs positive bounds, got ({inner})")
        points = {"linspace": np.linspace, "logspace": np.logspace, "logrange": np.geomspace}[name](a, b, n)
        values = [float(f"{p:.12g}") for p in points]  # 12 significant digits: stable text across platforms
    if not values:
        raise SweepError(f"{text.strip()} gives no values")
    values = [_whole(v) for v in values]
    return [f"{value_label(v)}{unit}" for v in values] if unit else values


def _whole(value: Decimal | float) -> int | float:
    """A generated number as an int when it is whole (10.0 -> 10), else a float."""
    if value == int(value):
        return int(value)
    return float(value)


def _split(text: str) -> list[str]:
    """Split a comma list, keeping commas inside double quotes."""
    items, current, quoted = [], "", False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == "," and not quoted:
            items.append(current)
            current = ""
        else:
            current += char
    items.append(current)
    items = [item.strip() for item in items]
    if any(not item for item in items):
        raise SweepError(f"empty value in {text!r}")
    return items


def _literal(item: str) -> Any:
    """One written value: true/false, a number, "quoted text", or bare text (kept as a _Text)."""
    if item in ("true", "false"):
        return item == "true"
    if len(item) >= 2 and item[0] == item[-1] == '"':
        return item[1:-1]
    if _NUMBER.match(item) and any(c.isdigit() for c in item):
        number = item.replace("_", "")
        return int(number) if re.fullmatch(r"[+-]?\d+", number) else _Text(item, float(number))
    return item


class _Text(str):
    """A number as the user wrote it ("100.05"): text for a text field, a float for a float field."""

    def __new__(cls, text: str, number: float) -> _Text:
        obj = super().__new__(cls, text)
        obj.number = number  # type: ignore[attr-defined]
        return obj


def _coerce(path: str, value: Any, existing: Any) -> Any:
    """Give a value the type of the field it replaces (or its own type for a new field)."""
    if isinstance(existing, (dict, list)):
        kind = "table" if isinstance(existing, dict) else "array"
        raise SweepError(f"--param {path}: this is a {kind}; sweep one of its fields instead")
    number = getattr(value, "number", None)
    if isinstance(existing, bool):
        if not isinstance(value, bool):
            raise SweepError(f"--param {path}: expects true or false, got {value!r}")
        return value
    if isinstance(existing, int):
        whole = number if number is not None else value
        if isinstance(whole, bool) or not isinstance(whole, (int, float)) or whole != int(whole):
            raise SweepError(f"--param {path}: expects a whole number, got {value!r}")
        return int(whole)
    if isinstance(existing, float):
        if number is not None:
            return number
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SweepError(f"--param {path}: expects a number, got {value!r}")
        return float(value)
    if isinstance(existing, str):
        return str(value) if isinstance(value, str) else value_label(value)
    return number if number is not None else (str(value) if isinstance(value, str) else value)


def value_label(value: Any) -> str:
    """A value as results.csv writes it (true/false, numbers and text as written)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def split_path(path: str) -> tuple[str, ...]:
    """``"firm.MIZUHO.risk.max_order_qty"`` -> its segments (refusing empty ones)."""
    keys = tuple(path.split("."))
    if not path or any(not k for k in keys):
        raise SweepError(f"--param {path!r}: a path is dotted names such as inject.1.qty")
    return keys


def _walk(doc: dict[str, Any], path: str, keys: tuple[str, ...], *, create: bool) -> tuple[Any, Any]:
    """The container holding the last key of ``path`` and that key (an index for arrays)."""
    node: Any = doc
    for depth, key in enumerate(keys):
        where = ".".join(keys[:depth]) or "the document"
        if isinstance(node, list):
            label = f"[[{'.'.join(k for k in keys[:depth] if not k.isdigit())}]]"
            if key.lstrip("-").isdigit():
                index = int(key)
                if not 1 <= index <= len(node):
                    raise SweepError(f"--param {path}: {where} has {len(node)} entries; index {index} is out of "
                                     f"range (indexes start at 1, like the after field)")
                slot: Any = index - 1
            else:
                names = [_name_of(e) for e in node]
                if key not in names:
                    known = ", ".join(n for n in names if n) or "none have an id"
                    raise SweepError(f"--param {path}: no {label} named {key!r} (ids: {known})")
                slot = names.index(key)
        elif isinstance(node, dict):
            if key not in node and depth < len(keys) - 1:
                if not create:
                    raise SweepError(f"--param {path}: {where} has no {key!r}")
                node[key] = {}
            slot = key
        else:
            raise SweepError(f"--param {path}: {where} is a value ({node!r}), not a table")
        if depth == len(keys) - 1:
            return node, slot
        node = node[slot]
    raise AssertionError(path)


def _name_of(element: Any) -> str:
    if isinstance(element, dict):
        for field_name in ("id", "symbol", "name"):
            if isinstance(element.get(field_name), str):
                return element[field_name]
    return ""


def apply_params(doc: dict[str, Any], params: list[tuple[str, Any]]) -> dict[str, Any]:
    """A deep copy of a parsed scenario document with each (path, value) set."""
    out = copy.deepcopy(doc)
    for path, value in params:
        container, slot = _walk(out, path, split_path(path), create=True)
        container[slot] = value
    return out


def build_variant(text: str, params: list[tuple[str, Any]], source: str = "<scenario>") -> Scenario:
    """The scenario of ``text`` with ``params`` applied, checked by the scenario checker."""
    if not params:
        return parse_scenario(text, source=source)
    return parse_scenario(variant_text(text, params), source=_variant_source(source, params))


def variant_text(text: str, params: list[tuple[str, Any]]) -> str:
    """The TOML a variant runs (the original text, comments and all, when nothing is changed)."""
    return dumps_toml(apply_params(_base_doc(text), params)) if params else text


def _variant_source(source: str, params: list[tuple[str, Any]]) -> str:
    return f"{source}[{','.join(f'{p}={value_label(v)}' for p, v in params)}]"


@lru_cache(maxsize=8)
def _base_doc(text: str) -> dict[str, Any]:
    return tomllib.loads(text)  # callers deep-copy before editing (apply_params)


def parse_param(spec: str, text: str) -> Param:
    """One ``PATH=VALUES``: the path resolves in the scenario and the values take its field's type."""
    path, sep, values_text = spec.partition("=")
    path = path.strip()
    if not sep or not path or not values_text.strip():
        raise SweepError(f"--param {spec!r}: expected PATH=VALUES, e.g. inject.1.qty=1000,10000")
    keys = split_path(path)
    try:
        raw = parse_values(values_text)
    except SweepError as exc:
        raise SweepError(f"--param {path}: {exc}") from None
    doc = copy.deepcopy(_base_doc(text))
    container, slot = _walk(doc, path, keys, create=True)
    existing = container[slot] if (isinstance(container, list) or slot in container) else None
    values = tuple(_coerce(path, v, existing) for v in raw)
    if len(set(map(value_label, values))) != len(values):
        raise SweepError(f"--param {path}: values repeat ({', '.join(map(value_label, values))})")
    return Param(path, keys, values)


def check_params(text: str, source: str, params: list[Param]) -> None:
    """Check every value of every parameter, the others at their first value (SweepError names it).

    One at a time around the grid's first point: a bad value is caught for the price of one parse
    per value, not per combination, and values that only make sense together (a shorter
    ``scenario.duration`` with an earlier ``inject.1.at``) pass when given together.
    """
    first = [(p.path, p.values[0]) for p in params]
    for index, param in enumerate(params):
        for value in param.values:
            combo = first[:index] + [(param.path, value)] + first[index + 1:]
            try:
                _check_agents(build_variant(text, combo, source))
            except ScenarioError as exc:
                # the variant's line numbers mean nothing to the user: name the --param instead
                detail = re.sub(r"^(:\d+)?: ", "", str(exc).removeprefix(_variant_source(source, combo)))
                raise SweepError(f"--param {param.path}={value_label(value)}: {detail}") from None


def _check_agents(scenario: Scenario) -> None:
    """The [agents] table is checked when the market starts; check it now so a typo fails up front."""
    if scenario.venue.agents:
        from sim.agents import agents_config_from_dict
        from sim.agents.config import AgentsConfigError

        try:
            agents_config_from_dict(scenario.venue.agents, source=scenario.source)
        except AgentsConfigError as exc:
            raise ScenarioError(str(exc)) from None


# -- a small TOML writer (tomllib reads only) ----------------------------------------------------

_BARE = re.compile(r"[A-Za-z0-9_-]+")


def dumps_toml(doc: dict[str, Any]) -> str:
    """Write a parsed TOML document back as TOML (values, tables, arrays of tables; no comments)."""
    lines: list[str] = []
    _write_table(lines, (), doc)
    return "\n".join(lines).lstrip("\n") + "\n"


def _write_table(lines: list[str], prefix: tuple[str, ...], table: dict[str, Any]) -> None:
    nested = [(k, v) for k, v in table.items() if isinstance(v, dict) or _table_array(v)]
    # scalars first: after a [header], every key belongs to that header's table
    lines.extend(f"{_key(k)} = {_toml(v)}" for k, v in table.items() if (k, v) not in nested)
    for key, value in nested:
        name = ".".join(_key(k) for k in prefix + (key,))
        for element in (value if isinstance(value, list) else [value]):
            lines.extend(["", f"[[{name}]]" if isinstance(value, list) else f"[{name}]"])
            _write_table(lines, prefix + (key,), element)


def _table_array(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _key(key: str) -> str:
    return key if _BARE.fullmatch(key) else _string(key)


def _string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")  # JSON escapes are TOML escapes


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "nan" if value != value else ("inf" if value == math.inf else "-inf" if value == -math.inf
                                             else repr(value))
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_toml(v)}" for k, v in value.items()) + " }" if value else "{}"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if hasattr(value, "isoformat"):  # TOML dates and times
        return value.isoformat()
    raise TypeError(f"cannot write {value!r} as TOML")
