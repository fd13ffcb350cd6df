"""Command-line value parsers with ranges: one place for "expected a number, got 'x'" messages."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def bounded(convert: Callable[[str], float], low: float, high: float, what: str, example: str) -> Callable[[str], float]:
    """An argparse ``type=``: ``convert`` the text and keep it within [low, high], else a one-line error."""

    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {example}, got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{what} must be between {low:g} and {high:g}, got {value:g}")
        return value

    return parse


port = bounded(int, 0, 65535, "port", "a port number")
"""A TCP port, 0 meaning any free one."""

speed = bounded(float, 0.05, 1000, "speed", "a number such as 1 or 10")
"""Simulated seconds per wall second for runs paced to the wall clock."""
