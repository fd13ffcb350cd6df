"""A tiny, safe predicate language for expectations: ``qty > 10000 and side == sell``.

Used by ``no_order_reaches_venue`` to say which orders must never get through.  Grammar::

    predicate := clause (("and" | "or") clause)*        evaluated left to right, "and" binds tighter
    clause    := FIELD OP VALUE
    FIELD     := qty | price | notional | side | symbol | firm | ord_type
    OP        := == | != | < | <= | > | >=
    VALUE     := a number (exact decimal) or a word

No ``eval``: a scenario file is data, and a typo must be a clear error, not code execution.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

FIELDS = ("qty", "price", "notional", "side", "symbol", "firm", "ord_type")
NUMERIC = ("qty", "price", "notional")
_OPS = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt,
        ">=": operator.ge}


class PredicateError(ValueError):
    """A predicate that does not parse; says which word was wrong."""


@dataclass(frozen=True, slots=True)
class Clause:
    """One ``field op value`` comparison."""

    field: str
    op: str
    value: Decimal | str

    def test(self, order: Mapping[str, Any]) -> bool:
        """Whether ``order`` satisfies this clause (a missing field never does)."""
        actual = order.get(self.field)
        if actual is None:
            return False
        if self.field in NUMERIC:
            actual = Decimal(str(actual))
        return _OPS[self.op](actual, self.value)

    def __str__(self) -> str:
        return f"{self.field} {self.op} {self.value}"


@dataclass(frozen=True, slots=True)
class Predicate:
    """Clauses in disjunctive normal form: any group whose clauses all hold matches."""

    groups: tuple[tuple[Clause, ...], ...]
    text: str

    def __call__(self, order: Mapping[str, Any]) -> bool:
        return any(all(c.test(order) for c in group) for group in self.groups)

    def __str__(self) -> str:
        return self.text


def parse_predicate(text: str) -> Predicate:
    """Parse ``text``; PredicateError says what was expected where.

    >>> p = parse_predicate("qty > 10000 or price < 1.00 and side == sell")
    >>> p({"qty": 5, "price": "0.50", "side": "sell"}), p({"qty": 5, "price": "0.50", "side": "buy"})
    (True, False)
    """
    words = text.split()
    if not words:
        raise PredicateError("empty predicate: expected e.g. 'qty > 10000'")
    groups: list[list[Clause]] = [[]]
    position = 0
    while True:
        if position + 3 > len(words):
            raise PredicateError(f"incomplete clause at {' '.join(words[position:]) or 'the end'!r}: "
                                 "expected FIELD OP VALUE")
        name, op, raw = words[position:position + 3]
        if name not in FIELDS:
            raise PredicateError(f"unknown field {name!r} (fields: {', '.join(FIELDS)})")
        if op not in _OPS:
            raise PredicateError(f"unknown operator {op!r} (operators: {' '.join(_OPS)})")
        value: Decimal | str
        if name in NUMERIC:
            try:
                value = Decimal(raw)
            except InvalidOperation:
                raise PredicateError(f"{name} compares with a number, got {raw!r}") from None
        else:
            if op not in ("==", "!="):
                raise PredicateError(f"{name} can only be compared with == or !=")
            value = raw
        groups[-1].append(Clause(name, op, value))
        position += 3
        if position == len(words):
            break
        joiner = words[position]
        if joiner == "or":
            groups.append([])
        elif joiner != "and":
            raise PredicateError(f"expected 'and' or 'or' after '{groups[-1][-1]}', got {joiner!r}")
        position += 1
    return Predicate(tuple(tuple(g) for g in groups), text)
