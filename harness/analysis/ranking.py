"""Which recipe, and what does it cost? Every row of one result set against a reference recipe.

For each recipe and sub-result (a label, as :func:`recipebench.analysis.rows.grouped` makes them) against the
reference (``baseline`` unless ``--reference``): the difference of mean error_rate in percentage
points, the ratio of geometric-mean wall times and of peak memory, each with the p-value of the
paired t-test over the seeds both ran successfully (Welch's where they share none; the rule of
:func:`recipebench.analysis.compare.pair_runs`, which names the seeds left out and why), Holm-adjusted over
the rows of each column, and a verdict -- the same arithmetic as ``recipebench compare``
(:func:`recipebench.analysis.compare.compare_groups`) with the reference as every row's base. The runs of one
session on one host share its machine state, so no session-to-session noise is added; results put
together from several sessions or hosts (``recipebench table a/ b/``, a ``--resume`` on another machine)
get compare's session noise, and a note that says so. Plus each row's
time-to-target (:mod:`recipebench.analysis.timetotarget`) and its rank by mean final error_rate.

Rows keep the order of the session table (:func:`recipebench.analysis.rows.grouped`: the order the runs came
in, which is registration order at the end of a session), so the two tables read side by side;
:attr:`RankedRow.rank` gives the error-rate order.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Sequence

from recipebench.analysis import power
from recipebench.analysis.compare import (
    Metric,
    Origins,
    RowComparison,
    Settings,
    compare_groups,
    left_out_text,
    metric_named,
    metrics_of,
    with_seeds_needed,
)
from recipebench.record.results import STATUS_OK, MetricSpec, RunResult
from recipebench.analysis.rows import Row, grouped
from recipebench.analysis.stats import Summary
from recipebench.analysis.timetotarget import Target, TimeSummary, choose_target, summarise

DEFAULT_REFERENCE = "baseline"
#: The costs a row is compared on besides the recorded metrics (``throughput`` is wall time seen from the other side).
RANK_COSTS = ("wall", "memory")
#: Within one session on one host: the seeds share the machine's state, no session-to-session noise.
SESSION_SETTINGS = Settings(session_noise=0.0)
#: Results of several sessions or hosts: compare's defaults, session noise included.
SEVERAL_SESSIONS_SETTINGS = Settings()


@dataclass(frozen=True)
class RankedRow:
    """One label against the reference."""

    label: str
    reference: bool  # this row is the reference recipe
    runs: int  # successful runs
    failures: tuple[str, ...]  # the status of each run that did not succeed ("error", "diverged")
    value: Summary | None  # the ranking's metric, final, over the successful runs
    rank: int | None  # 1 = best mean final value of the ranking's metric; equal means share a rank; None without one
    comparison: RowComparison | None  # None for the reference itself and for rows without a result
    time: TimeSummary | None  # to the target; None without a target or without epochs


@dataclass(frozen=True)
class Ranking:
    reference: str
    target: Target | None
    rows: tuple[RankedRow, ...]
    settings: Settings
    notes: tuple[str, ...] = ()
    #: The columns compared: the recorded metrics, then the costs of :data:`RANK_COSTS`.
    metrics: tuple[Metric, ...] = ()

    @property
    def metric(self) -> Metric:
        """The metric rows are ranked by, timed to and judged on (``--metric``)."""
        return metric_named(self.settings.metric, self.metrics)

    def row(self, label: str) -> RankedRow | None:
        return next((r for r in self.rows if r.label == label), None)


def _ranks(means: dict[str, float], higher_is_better: bool = False) -> dict[str, int]:
    """Competition ranking (1, 2, 2, 4) by ascending mean (descending where higher is better)."""
    ordered = sorted(means.values(), reverse=higher_is_better)
    return {label: ordered.index(mean) + 1 for label, mean in means.items()}


def _ok(group: Sequence[Row]) -> list[Row]:
    return [r for r in group if r.status == STATUS_OK]


def rank(results: Sequence[RunResult], reference: str | None = None, target_error: float | None = None,
         settings: Settings | None = None, target: Target | None = None, metric: str | None = None) -> Ranking:
    """Every label of ``results`` against ``reference`` (default :data:`DEFAULT_REFERENCE`), ranked by ``metric``
    (default :data:`recipebench.analysis.metrics.DEFAULT_METRIC`, or ``settings.metric``), a metric the results
    recorded; a reference the results lack (or whose runs all failed) gives a ranking without comparisons and a
    note. Time to ``target`` when given (e.g. another result set's), else to :func:`choose_target`'s.
    ``settings`` default: :data:`SESSION_SETTINGS` for one session on one host, else
    :data:`SEVERAL_SESSIONS_SETTINGS` (with session noise), with a note naming the sessions and hosts."""
    name = reference or DEFAULT_REFERENCE
    groups = grouped(results)
    notes: list[str] = []
    origins = Origins.of(results)
    if settings is None:
        settings = SEVERAL_SESSIONS_SETTINGS if origins.several else SESSION_SETTINGS
    if metric is not None:
        settings = dataclasses.replace(settings, metric=metric)
    metrics = tuple(m for m in metrics_of(results) if m.spec is not None or m.name in RANK_COSTS)
    chosen = metric_named(settings.metric, [m for m in metrics if m.spec is not None])  # CompareError: not recorded
    spec: MetricSpec = chosen.spec
    if origins.several:
        notes.append(f"rows come from {origins}: runs of other sessions or hosts do not share one machine's "
                     f"state, so the wall × and peak MB × tests add a session noise of {settings.session_noise:.0%}")
    ref_ok = _ok(groups.get(name, ()))
    if not ref_ok:
        why = "is not in these results" if name not in groups else "has no successful run"
        notes.append(f"no comparison: the reference {name} {why} (--reference NAME to choose another)")
    target = target or choose_target(groups, name, target_error, spec)
    if target is None:
        notes.append(f"no time to target: {name} has no final {spec.name} here; pass --target-error")
    others = {label: g for label, g in groups.items() if label != name and _ok(g)} if ref_ok else {}
    compared = compare_groups({label: groups[name] for label in others}, others, settings,
                              metrics)  # pair_runs' rule
    compared = with_seeds_needed(compared, settings, power.n_valid_of(results))  # the "seeds needed" column
    by_label = {c.label: c for c in compared}
    notes += [f"{c.label} against {name}: {left_out_text(c.left_out, base=name, new=c.label)}"
              for c in compared if c.left_out]
    values = {label: Summary.of(r.value(spec.name) for r in _ok(g)) for label, g in groups.items()}
    ranks = _ranks({label: s.mean for label, s in values.items() if s is not None}, spec.better == "higher")
    rows = tuple(
        RankedRow(label, label == name, len(_ok(g)), tuple(r.status for r in g if r.status != STATUS_OK),
                  values[label], ranks.get(label),
                  by_label.get(label), summarise(g, target) if target is not None else None)
        for label, g in groups.items())
    return Ranking(name, target, rows, settings, tuple(notes), metrics)
