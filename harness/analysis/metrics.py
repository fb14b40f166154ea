"""Which metrics a set of results was measured by, and the one chosen (``--metric``) to rank, time and gate.

The metrics come from the results themselves: each records the spec of every metric it measured
(:attr:`recipebench.record.results.RunResult.metrics`: direction, resolution, how it is shown), so saved
results are analysed and shown where the plugin that computed a metric is not installed, and the analysis
never needs the plugin registry. Results measured by different metrics pool: a metric some runs lack is
missing (None) there, never guessed.
"""
from __future__ import annotations

from typing import Iterable, Sequence

from recipebench.record.results import MetricSpec, RunResult

#: The chapter's metric: what ``--metric`` chooses by default.
DEFAULT_METRIC = "error_rate"


class MetricError(ValueError):
    """A metric that is not among those recorded (or registered); the message names the option and the choices."""


def recorded(results: Iterable[RunResult]) -> tuple[MetricSpec, ...]:
    """Every metric the results recorded, in the order first seen (registration order); where two results
    describe one name differently (another version of its plugin) the first description is used."""
    seen: dict[str, MetricSpec] = {}
    for result in results:
        for spec in result.metrics:
            seen.setdefault(spec.name, spec)
    return tuple(seen.values())


def measured(results: Sequence[RunResult]) -> tuple[MetricSpec, ...]:
    """The metrics of :func:`recorded` that some run (or sub-result) has a final value of: a metric no run has
    one of (a schema 7 document's final valid_loss, which it did not record) is no column, only dashes."""
    results = list(results)
    have = {name for r in results for finals in (r.final_metrics, *(o.final_metrics for o in r.outcomes))
            for name, value in finals.items() if value is not None}
    return tuple(s for s in recorded(results) if s.name in have or s.name == DEFAULT_METRIC)


def choose(specs: Sequence[MetricSpec], name: str | None, option: str = "--metric") -> MetricSpec:
    """The spec named ``name`` (None: :data:`DEFAULT_METRIC`); :class:`MetricError` listing the others."""
    name = name or DEFAULT_METRIC
    for spec in specs:
        if spec.name == name:
            return spec
    known = ", ".join(s.name for s in specs) or "none"
    raise MetricError(f"{option} {name}: not a metric of these results; choose one of {known}")


def best(values: Sequence[float | None], spec: MetricSpec) -> tuple[float | None, int | None]:
    """The best of per-epoch ``values`` in the metric's direction and its 1-based epoch (the earliest among
    equals); (None, None) when no epoch has a value."""
    scored = [(v if spec.better == "lower" else -v, i + 1) for i, v in enumerate(values) if v is not None]
    if not scored:
        return None, None
    value, epoch = min(scored)
    return (value if spec.better == "lower" else -value), epoch
