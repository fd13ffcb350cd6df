"""What the project's Prometheus exports share: one place that drops the wall-clock series."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from prometheus_client.metrics_core import Metric


def without_created(families: Iterable[Metric]) -> Iterator[Metric]:
    """Drop the ``*_created`` samples prometheus_client adds to counters.

    They hold the wall-clock time a series was created, which means nothing next to a run's
    simulated time, doubles the series, and would make the same run render different text.
    """
    for family in families:
        family.samples = [s for s in family.samples if not s.name.endswith("_created")]
        yield family
