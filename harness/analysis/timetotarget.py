"""Time-to-accuracy, as MLPerf and DAWNBench report it: how long a run took until its validation error
(or the metric chosen with ``--metric``) first reached a target.

For each run (or sub-result) the epochs are read in order; the first whose value of the metric is at or
below the target (at or above, for a metric where higher is better) gives the number of epochs and the wall time: that epoch's ``elapsed_s``, the time
from the start of the recipe to the end of the epoch's validation with everything the recipe did
before it (``lr_find``, unfreezing, ...). Results written before schema 5 have no ``elapsed_s``; for
them the time is the sum of the epochs' own wall times (training and validation only), and
:attr:`TimeToTarget.clock` says so. A run that never gets there has not reached the target, and
neither has a run that failed or diverged (whatever its epochs showed before): it counts, as never.

The default target is the reference recipe's mean final error_rate in the same results
(:func:`choose_target`); ``--target-error`` sets one. Over seeds, a row's time is the median with
"not reached" counted as never (infinite), so a median is a time only when more than half the runs
got there (with exactly half, the median lies between a time and never: never).
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Mapping, Sequence

from recipebench.record.results import ERROR_RATE, STATUS_OK, EpochRecord, MetricSpec
from recipebench.analysis.rows import Row

#: Error rates are counts over the validation set (k / n); a mean target can equal one exactly. An epoch's
#: error_rate is fastai's float32 metric (17/129 reads 0.13178294897 there, 0.13178294574 in float64), so
#: "equal" allows 1e-6: far below one image of any validation set.
TOLERANCE = 1e-6
CLOCK_RECIPE = "recipe"  # elapsed_s: from the recipe's start, everything included
CLOCK_EPOCHS = "epochs"  # the sum of the epochs' wall times (results before schema 5)


class TargetError(ValueError):
    """A target that cannot be used; the message names the option."""


@dataclass(frozen=True)
class Target:
    """The value of a metric (the chosen one: error_rate by default) a run must reach, and where it came from."""

    value: float
    source: str  # e.g. "--target-error 0.3" or "baseline's mean final error_rate, n=3"
    metric: MetricSpec = ERROR_RATE

    def reached_by(self, value: float | None) -> bool:
        """Whether an epoch's ``value`` is at the target or past it in the metric's better direction."""
        if value is None:
            return False
        return value <= self.value + TOLERANCE if self.metric.better == "lower" else value >= self.value - TOLERANCE


@dataclass(frozen=True)
class TimeToTarget:
    """One run: the epochs and the wall time until its validation error first reached the target."""

    epochs: int | None  # 1-based count of epochs; None: not reached
    wall_s: float | None
    clock: str | None  # CLOCK_RECIPE or CLOCK_EPOCHS; None: the run failed, nothing of it was timed

    @property
    def reached(self) -> bool:
        return self.epochs is not None


def time_to_target(epochs: Sequence[EpochRecord], target: Target) -> TimeToTarget | None:
    """The first epoch that reached ``target`` and the time until its end; None when no epoch was recorded."""
    if not epochs:
        return None
    timed = all(e.elapsed_s is not None for e in epochs)
    clock = CLOCK_RECIPE if timed else CLOCK_EPOCHS
    summed_s = 0.0
    for n, e in enumerate(epochs, start=1):
        summed_s += e.wall_s
        if target.reached_by(e.metrics.get(target.metric.name)):
            return TimeToTarget(n, e.elapsed_s if timed else summed_s, clock)
    return TimeToTarget(None, None, clock)


@dataclass(frozen=True)
class TimeSummary:
    """A row's time-to-target over its runs (seeds); a failed run has not reached the target."""

    runs: int  # runs: the successful ones with epochs, and every failed one
    reached: int
    epochs_median: float | None  # None: the median run did not reach the target
    wall_s_median: float | None
    wall_s_min: float | None  # over the runs that reached it
    wall_s_max: float | None
    clocks: tuple[str, ...]  # the clocks used (CLOCK_RECIPE, CLOCK_EPOCHS)

    @classmethod
    def of(cls, times: Sequence[TimeToTarget]) -> TimeSummary | None:
        if not times:
            return None
        got = [t for t in times if t.reached]
        epochs = statistics.median([t.epochs if t.reached else math.inf for t in times])
        wall = statistics.median([t.wall_s if t.reached else math.inf for t in times])
        walls = [t.wall_s for t in got]
        return cls(len(times), len(got), None if math.isinf(epochs) else epochs, None if math.isinf(wall) else wall,
                   min(walls) if walls else None, max(walls) if walls else None,
                   tuple(dict.fromkeys(t.clock for t in times if t.clock is not None)))


#: A run that failed or diverged: it did not reach the target, however its epochs went.
FAILED_RUN = TimeToTarget(None, None, None)


def summarise(group: Sequence[Row], target: Target) -> TimeSummary | None:
    """The group's times to ``target``, a failed run counting as not reached (never left out); None when
    no successful run recorded epochs."""
    times = [time_to_target(r.epochs, target) for r in group if r.status == STATUS_OK]
    timed = [t for t in times if t is not None]
    if not timed:
        return None
    return TimeSummary.of(timed + [FAILED_RUN for r in group if r.status != STATUS_OK])


def choose_target(groups: Mapping[str, Sequence[Row]], reference: str, given: float | None,
                  metric: MetricSpec = ERROR_RATE) -> Target | None:
    """``given`` (``--target-error``), else the reference's mean final value of ``metric``; None when it has none."""
    if given is not None:
        if metric.unit == "pp" and not 0 <= given <= 1:
            raise TargetError(f"--target-error {given}: a value of {metric.name} between 0 and 1, e.g. 0.25")
        return Target(given, f"--target-error {given:g}", metric)
    finals = [v for r in groups.get(reference, ()) if r.status == STATUS_OK and (v := r.value(metric.name)) is not None]
    if not finals:
        return None
    return Target(sum(finals) / len(finals), f"{reference}'s mean final {metric.name}, n={len(finals)}", metric)
