"""The compare stage: two result sets (base and new), row by row, with a test across seeds.

Rows are paired by label: a recipe, or ``recipe > outcome`` for a sub-result (see
:func:`recipebench.analysis.rows.rows`), so nothing here knows any recipe. For each metric the change is new
against base:

- ``error_rate``: difference of the means, in percentage points (pp);
- ``wall`` (wall s), ``throughput`` (img/s), ``memory`` (peak MB): ratio of the geometric means, in %.

Significance: a two-sided t-test across seeds, on log values for the ratio metrics: Welch's
(:func:`recipebench.analysis.stats.welch`) when the sides ran different seeds, the paired test over seeds
(:func:`recipebench.analysis.stats.paired`) when both ran the same seeds once each (a seed fixes the initial
weights, the data order and the augmentation, so differences between seeds drop out). Failed runs are
never compared; when the sides' successful runs share only some seeds, a row compares the shared seeds
alone and says which it left out and why (:func:`pair_runs`, the ranking's rule too). The p-values are
Holm-adjusted over the table's rows, one family per metric, so that an A/A table (same code, other
seeds) shows a false "worse" or "better" in a column with chance <= alpha. Timings and a process's
peak memory also drift from session to session with the machine's state, which the seeds of one
session cannot show: their tests add a session noise (:data:`DEFAULT_SESSION_NOISE`,
``--session-noise``) to the variance. A metric is *worse* or *better* only when the change is significant (adjusted p < alpha)
**and** at least its practical minimum (:attr:`Metric.min_effect`); otherwise it is *within noise*.
With one run on a side (or no spread at all) there is no test: the practical minimum alone
decides, and the verdict says so (``n=1: no test``, ``no spread: no test``). Error rates are counts
over the validation images, so their tests compare counts (:meth:`Metric.resolution`): a constant
shift at every seed is no spread, not a spread of float rounding.

``--fail-on METRIC:THRESHOLD`` (:class:`Threshold`): a row fails when its change goes past the
threshold in the metric's worse direction and, where there was a test, significantly; a recipe
whose every new run failed (while base had results) fails too. ``--fail-on failed``
(:class:`FailedRuns`) also fails a row where only some new runs failed (2 of 3 diverged).
"""
from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Callable, Mapping, Sequence

from recipebench.analysis import power
from recipebench.analysis.metrics import DEFAULT_METRIC, measured
from recipebench.record.results import ERROR_RATE, STATUS_OK, MetricSpec, RunResult
from recipebench.analysis.rows import Row, grouped
from recipebench.analysis.stats import PAIRED, Significance, holm, paired, welch

WORSE = "worse"
BETTER = "better"
NOISE = "within noise"
#: Results must agree on these to be compared (or put side by side in a matrix), unless --force.
SETUP_FIELDS = ("workload", "scale", "device")
DEFAULT_ALPHA = 0.05


class CompareError(ValueError):
    """Two result sets that cannot honestly be compared, or a bad threshold; the message says why."""


@dataclass(frozen=True)
class Metric:
    """A figure compared between base and new: a recorded metric (:meth:`of` its spec) or a cost (wall time,
    throughput, memory: :data:`COST_METRICS`)."""

    name: str  # as written in --fail-on / --min-effect / --metric
    field: str | None  # the Row attribute it comes from; None: the row's recorded metric of this name
    header: str  # column title
    unit: str  # "pp": difference of means x 100; "%": ratio of geometric means - 1, x 100
    higher_is_worse: bool
    min_effect: float  # default practical minimum, in ``unit``: smaller changes are never a verdict
    drifts: bool = False  # moves with the machine's state from session to session (timings, process memory)
    #: The Row attribute the metric is a count over (error_rate: errors / n_valid), so that its values come
    #: in steps of 1 / that: the tests then compare counts (:meth:`resolution`); None: no known step.
    counts_over: str | None = None
    digits: int = 4  # decimals of a value in a table
    spec: MetricSpec | None = None  # the recorded metric's spec; None for a cost

    @classmethod
    def of(cls, spec: MetricSpec) -> Metric:
        """A recorded metric as compared: its direction, unit, practical minimum and resolution from its spec."""
        return cls(spec.name, None, spec.header, spec.unit, spec.better == "lower", spec.min_effect,
                   counts_over="n_valid" if spec.counts else None, digits=spec.digits, spec=spec)

    def value(self, row: Row) -> float | None:
        """The metric's value in ``row``."""
        return row.value(self.name) if self.field is None else getattr(row, self.field)

    @property
    def log(self) -> bool:
        """Compared as ratios, tested on log values."""
        return self.unit == "%"

    def center(self, values: Sequence[float]) -> float:
        """Mean, or geometric mean for a ratio metric."""
        if self.log:
            return math.exp(sum(math.log(v) for v in values) / len(values))
        return sum(values) / len(values)

    def change(self, base: Sequence[float], new: Sequence[float]) -> float:
        """new against base, in ``unit``."""
        if self.log:
            return (self.center(new) / self.center(base) - 1) * 100
        return (self.center(new) - self.center(base)) * 100

    def worse_by(self, change: float) -> float:
        """How far ``change`` goes in the worse direction (negative: it is an improvement)."""
        return change if self.higher_is_worse else -change

    def resolution(self, rows: Sequence[Row]) -> float | None:
        """The step of the metric's values in ``rows`` (1 / n_valid for error_rate) when they share one and
        every value lies on it; else None (then the values are tested as they are)."""
        sizes = {getattr(r, self.counts_over) for r in rows} if self.counts_over else set()
        if len(sizes) != 1 or not all(isinstance(n, int) and n > 0 for n in sizes):
            return None
        step = 1 / sizes.pop()
        values = [v for r in rows if (v := self.value(r)) is not None]
        return step if all(abs(v / step - round(v / step)) <= COUNT_TOLERANCE for v in values) else None

    @property
    def example(self) -> str:
        """A --fail-on threshold for this metric."""
        sign = "+" if self.higher_is_worse else "-"
        return f"{self.name}:{sign}0.5pp" if self.unit == "pp" else f"{self.name}:{sign}10%"

    def format(self, amount: float) -> str:
        """A change, signed, in the metric's unit: ``+1.25 pp``, ``+3.5%``, ``-67%``."""
        if self.unit == "pp":
            return f"{amount:+.2f} pp"
        return f"{amount:+.1f}%" if abs(amount) < 10 else f"{amount:+.0f}%"


#: How far from a whole count a value may lie and still be that count: an outcome's error_rate is fastai's
#: float32 metric (17/129 reads 17.0000004 counts; float32 is off by at most 6e-8 of the count, so up to
#: some 16,000 errors); values further off are no counts and are tested as they are.
COUNT_TOLERANCE = 1e-3

#: What a run costs, compared for every recipe whatever it was measured by.
COST_METRICS: tuple[Metric, ...] = (
    Metric("wall", "wall_s", "wall s", "%", True, 5.0, drifts=True),
    Metric("throughput", "samples_per_s", "img/s", "%", False, 5.0, drifts=True),
    Metric("memory", "peak_memory_bytes", "peak MB", "%", True, 5.0, drifts=True),  # CPU peak RSS drifts
)
#: The metrics of results recorded before metrics were plugins (the chapter's error_rate) and the costs:
#: what a comparison of results that recorded no metric specs falls back to (a simulation, a test).
DEFAULT_METRICS: tuple[Metric, ...] = (Metric.of(ERROR_RATE), *COST_METRICS)
#: Session-to-session drift (log-sd of a whole session's speed, or of its process memory), which the
#: seeds of one session cannot show: added to the variance of the metrics that drift (--session-noise).
DEFAULT_SESSION_NOISE = 0.03
ALIASES = MappingProxyType({"wall_s": "wall", "samples_per_s": "throughput", "img/s": "throughput",
                            "peak_memory": "memory", "peak_memory_bytes": "memory"})


def metrics_for(specs: Sequence[MetricSpec]) -> tuple[Metric, ...]:
    """The recorded metrics (:func:`recipebench.analysis.metrics.recorded`), then the costs; a recorded metric
    named like a cost is refused (it would be two columns of one name)."""
    costs = {m.name for m in COST_METRICS} | set(ALIASES)
    clash = [s.name for s in specs if s.name in costs]
    if clash:
        raise CompareError(f"metric {clash[0]!r} is named like a cost figure ({', '.join(sorted(costs))}); "
                           "rename it in its plugin")
    return (*(Metric.of(s) for s in specs), *COST_METRICS)


def metrics_of(results: Sequence[RunResult]) -> tuple[Metric, ...]:
    """:func:`metrics_for` the metrics the results recorded (none recorded: :data:`DEFAULT_METRICS`)."""
    specs = measured(results)
    return metrics_for(specs) if specs else DEFAULT_METRICS


def metric_named(name: str, metrics: Sequence[Metric] = DEFAULT_METRICS) -> Metric:
    name = ALIASES.get(name.strip(), name.strip())
    for metric in metrics:
        if metric.name == name:
            return metric
    raise CompareError(f"unknown metric {name!r}; choose one of {', '.join(m.name for m in metrics)}")


@dataclass(frozen=True)
class Threshold:
    """``METRIC:AMOUNT``: how far a metric may move in its worse direction (``error_rate:+0.5pp``)."""

    metric: Metric
    amount: float  # in the metric's unit, >= 0
    text: str

    @classmethod
    def parse(cls, text: str, signed: bool = True, metrics: Sequence[Metric] = DEFAULT_METRICS) -> Threshold:
        """``error_rate:+0.5pp``, ``wall:+10%``, ``memory:10%``, ``throughput:-10%``: a metric of ``metrics``.

        With ``signed`` a sign, when given, must point the metric's worse way (up for error_rate,
        wall and memory, down for throughput).
        """
        name, sep, value = text.partition(":")
        if not sep:
            raise CompareError(f"{text!r}: expected METRIC:AMOUNT, e.g. error_rate:+0.5pp or wall:+10%")
        metric = metric_named(name, metrics)
        match = re.fullmatch(r"\s*([+-]?)\s*(\d+(?:\.\d*)?|\.\d+)\s*(pp|%)\s*", value)
        if not match or match.group(3) != metric.unit:
            unit = "percentage points (pp)" if metric.unit == "pp" else "percent (%)"
            raise CompareError(f"{text!r}: {metric.name} takes an amount in {unit}, e.g. {metric.example}")
        sign, amount = match.group(1), float(match.group(2))
        if signed and sign and (sign == "+") != metric.higher_is_worse:
            way = "rises" if metric.higher_is_worse else "falls"
            raise CompareError(f"{text!r}: {metric.name} regresses when it {way}; write {metric.example}")
        return cls(metric, amount, text)


#: ``--fail-on failed``: fail a row where any new run failed, not only one where every new run did.
FAIL_ON_FAILED = "failed"


@dataclass(frozen=True)
class FailedRuns:
    """``--fail-on failed``: a row fails when any of its new runs failed (error or diverged), e.g. 2 of 3."""

    text: str = FAIL_ON_FAILED


def parse_fail_on(text: str, metrics: Sequence[Metric] = DEFAULT_METRICS) -> Threshold | FailedRuns:
    """A ``--fail-on`` value: ``failed`` (:class:`FailedRuns`) or ``METRIC:AMOUNT`` (:class:`Threshold`) of a
    metric of ``metrics``."""
    if text.strip() == FAIL_ON_FAILED:
        return FailedRuns()
    if ":" not in text:
        raise CompareError(f"{text!r}: expected METRIC:AMOUNT, e.g. error_rate:+0.5pp or wall:+10%, or "
                           f"{FAIL_ON_FAILED} (fail a recipe where any new run failed)")
    return Threshold.parse(text, metrics=metrics)


@dataclass(frozen=True)
class Settings:
    """How verdicts are made: the significance level, the metric that decides (``--metric``) and the practical
    minimums given (``--min-effect``; any other metric's is its own :attr:`Metric.min_effect`)."""

    alpha: float = DEFAULT_ALPHA
    #: Practical minimums given by name (aliases allowed), in each metric's unit; checked against the metrics
    #: of a comparison when it is made (:meth:`check`).
    min_effects: Mapping[str, float] = field(default_factory=dict)
    session_noise: float = DEFAULT_SESSION_NOISE  # log-sd of a session's speed, for metrics that drift
    #: The recorded metric whose change (with the costs) makes a row's verdict: --metric (the others are shown
    #: with their tests, but decide nothing, so that more metrics do not mean more false verdicts).
    metric: str = DEFAULT_METRIC

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1:
            raise CompareError(f"alpha {self.alpha}: must lie between 0 and 1")
        if not 0 <= self.session_noise < 1:
            raise CompareError(f"session noise {self.session_noise}: must lie between 0 and 1 (0% to 100%)")
        given = {ALIASES.get(name.strip(), name.strip()): amount for name, amount in self.min_effects.items()}
        object.__setattr__(self, "min_effects", MappingProxyType(given))

    def minimum(self, metric: Metric) -> float:
        """The metric's practical minimum: as given, else its own."""
        return self.min_effects.get(metric.name, metric.min_effect)

    def decides(self, metric: Metric) -> bool:
        """Whether the metric's change makes the verdict: the costs and the chosen metric do."""
        return metric.spec is None or metric.name == self.metric

    def check(self, metrics: Sequence[Metric]) -> None:
        """A :class:`CompareError` for a practical minimum of a metric not among ``metrics``."""
        for name in self.min_effects:
            metric_named(name, metrics)

    def session_var(self, metric: Metric) -> float:
        return self.session_noise ** 2 if metric.drifts else 0.0


@dataclass(frozen=True)
class Delta:
    """One metric of one row: the values on each side, the change, the test and the verdict."""

    metric: Metric
    base: tuple[float, ...]
    new: tuple[float, ...]
    test: Significance
    p: float | None  # Holm-adjusted over the table's rows
    verdict: str  # WORSE, BETTER, NOISE
    decides: bool = True  # the change counts in the row's verdict (:meth:`Settings.decides`)

    @property
    def change(self) -> float:
        return self.metric.change(self.base, self.new)

    def significant(self, alpha: float) -> bool:
        """Adjusted p < alpha; True without a test (then the amount alone decides)."""
        return self.p is None or self.p < alpha


@dataclass(frozen=True)
class LeftOut:
    """A seed a row left out: one side ran it successfully, ``side`` did not."""

    seed: int
    side: str  # "base" or "new": the side without a successful run of this seed
    statuses: tuple[str, ...]  # that side's runs of the seed ("diverged", "error"); empty: not run there

    def why(self, base: str = "base", new: str = "new") -> str:
        """``diverged on new``, ``not run on base``; ``base`` and ``new``: what to call the sides."""
        where = base if self.side == "base" else new
        return f"{'/'.join(self.statuses)} on {where}" if self.statuses else f"not run on {where}"


def left_out_text(left_out: Sequence[LeftOut], base: str = "base", new: str = "new") -> str:
    """``seed 2 left out: diverged on new``; seeds with one reason together (``seeds 1, 2 left out: ...``)."""
    by_reason: dict[str, list[int]] = {}
    for item in left_out:
        by_reason.setdefault(item.why(base, new), []).append(item.seed)
    return "; ".join(f"seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))}"
                     + (" left out" if i == 0 else "") + f": {why}" for i, (why, seeds) in enumerate(by_reason.items()))


@dataclass(frozen=True)
class RowComparison:
    """One label (recipe or recipe > outcome): its runs on each side and a delta per metric."""

    label: str
    n_base: int  # successful runs
    n_new: int
    failed_base: int
    failed_new: int
    deltas: tuple[Delta, ...]  # metrics with values on both sides
    #: When the sides' successful runs share only some seeds, the row compares like with like on the shared
    #: seeds (:func:`pair_runs`) and these are the seeds left out of it, per side; empty when every seed was used.
    left_out_base: tuple[int, ...] = ()
    left_out_new: tuple[int, ...] = ()
    left_out: tuple[LeftOut, ...] = ()  # each seed left out, and why
    failures_new: tuple[str, ...] = ()  # the status of each new run that failed ("error", "diverged")
    #: Seeds per side at which the observed error_rate change would be significant (:func:`with_seeds_needed`);
    #: None where not planned (compare_groups alone leaves it to compare() and the ranking).
    seeds_needed: power.Plan | None = None
    #: The metric that decides (``--metric``) where one side's runs did not measure it (an evaluation's row,
    #: ``baseline > tta``, has error_rate alone): the verdict then says so, never "within noise".
    unmeasured: str | None = None

    @property
    def untested(self) -> str | None:
        """Why some metric has no test ("n=1", "no spread"), or None."""
        reasons = [d.test.reason for d in self.deltas if not d.test.tested and d.decides]
        return reasons[0] if reasons else None

    @property
    def verdict(self) -> str:
        """better / worse / within noise (with the metrics that decided), or what is missing."""
        if self.n_base + self.failed_base == 0:
            return "only in new"
        if self.n_new + self.failed_new == 0:
            return "only in base"
        if self.n_new == 0:
            return "failed in both" if self.n_base == 0 else f"{WORSE}: every new run failed"
        if self.n_base == 0:
            return f"{BETTER}: runs again (every base run failed)"
        worse = [d.metric.header for d in self.deltas if d.verdict == WORSE and d.decides]
        better = [d.metric.header for d in self.deltas if d.verdict == BETTER and d.decides]
        if worse and better:
            text = f"mixed: {BETTER} {', '.join(better)}; {WORSE} {', '.join(worse)}"
        elif worse or better:
            text = f"{WORSE if worse else BETTER}: {', '.join(worse or better)}"
        elif self.unmeasured:
            text = f"no {self.unmeasured} to judge"
        else:
            text = NOISE
        return text + (f" ({self.untested}: no test)" if self.untested else "")

    def delta(self, metric: str) -> Delta | None:
        return next((d for d in self.deltas if d.metric.name == metric), None)

    @property
    def paired(self) -> bool:
        """Tested pair by pair: both sides ran the same seeds."""
        return any(d.test.kind == PAIRED for d in self.deltas)


@dataclass(frozen=True)
class Side:
    """One side of a comparison: what the user named and the results found there."""

    name: str
    results: tuple[RunResult, ...]


@dataclass(frozen=True)
class Comparison:
    base: Side
    new: Side
    rows: tuple[RowComparison, ...]
    settings: Settings
    notes: tuple[str, ...] = ()  # what the reader must know: forced comparisons, other machines
    metrics: tuple[Metric, ...] = DEFAULT_METRICS  # the columns compared: the recorded metrics, then the costs

    @property
    def chosen(self) -> Metric:
        """The metric that decides with the costs (``--metric``)."""
        return metric_named(self.settings.metric, self.metrics)


@dataclass(frozen=True)
class Violation:
    """A row past a --fail-on threshold."""

    label: str
    reason: str

    def __str__(self) -> str:
        return f"{self.label}: {self.reason}"


def _values(group: Sequence[Row], metric: Metric) -> dict[int, list[float]]:
    """The metric's values in the group's successful runs, by seed."""
    out: dict[int, list[float]] = {}
    for row in group:
        value = metric.value(row)
        if row.status == STATUS_OK and value is not None and math.isfinite(value) and (value > 0 or not metric.log):
            out.setdefault(row.seed, []).append(float(value))
    return out


def _flat(by_seed: Mapping[int, Sequence[float]]) -> tuple[float, ...]:
    return tuple(v for seed in sorted(by_seed) for v in by_seed[seed])


def _test(metric: Metric, base: Mapping[int, Sequence[float]], new: Mapping[int, Sequence[float]],
          settings: Settings, resolution: float | None = None) -> Significance:
    """Paired over seeds when both sides ran the same seeds once each, else Welch's test; on counts when the
    values have a ``resolution`` (:meth:`Metric.resolution`)."""
    once = all(len(v) == 1 for v in (*base.values(), *new.values()))
    test = paired if once and len(base) >= 2 and set(base) == set(new) else welch
    return test(_flat(base), _flat(new), log=metric.log, session_var=settings.session_var(metric),
                resolution=resolution)


def _verdict(metric: Metric, base: Sequence[float], new: Sequence[float], p: float | None,
             settings: Settings) -> str:
    change = metric.change(base, new)
    if abs(change) < settings.minimum(metric) or (p is not None and p >= settings.alpha):
        return NOISE
    return WORSE if metric.worse_by(change) > 0 else BETTER


def compare_groups(base: Mapping[str, Sequence[Row]], new: Mapping[str, Sequence[Row]],
                   settings: Settings = Settings(), metrics: Sequence[Metric] = DEFAULT_METRICS
                   ) -> tuple[RowComparison, ...]:
    """Pair rows by label (base's order, then labels only in new) and compare every metric of ``metrics``, each
    label's runs as :func:`pair_runs` pairs them (the groups may hold failed runs: they are counted, not compared)."""
    settings.check(metrics)
    labels = list(dict.fromkeys([*base, *new]))
    pairings = {label: pair_runs(base.get(label, ()), new.get(label, ())) for label in labels}
    by_seed = {(label, m): (_values(p.base, m), _values(p.new, m)) for label, p in pairings.items() for m in metrics}
    tests = {(label, m.name): _test(m, b, n, settings, m.resolution([*pairings[label].base, *pairings[label].new]))
             for (label, m), (b, n) in by_seed.items() if b and n}
    pairs = {(label, m.name): (_flat(b), _flat(n)) for (label, m), (b, n) in by_seed.items()}
    adjusted: dict[tuple[str, str], float | None] = {}
    for m in metrics:
        keys = [k for k in tests if k[1] == m.name]
        adjusted.update(zip(keys, holm([tests[k].p for k in keys])))
    out = []
    for label, p in pairings.items():
        deltas = []
        for m in metrics:
            key = (label, m.name)
            if key in tests:
                b_values, n_values = pairs[key]
                verdict = _verdict(m, b_values, n_values, adjusted[key], settings)
                deltas.append(Delta(m, b_values, n_values, tests[key], adjusted[key], verdict, settings.decides(m)))
        failed_b = [r.status for r in base.get(label, ()) if r.status != STATUS_OK]
        failed_n = [r.status for r in new.get(label, ()) if r.status != STATUS_OK]
        missing = settings.metric not in {d.metric.name for d in deltas} and bool(p.base) and bool(p.new)
        out.append(RowComparison(label, len(p.base), len(p.new), len(failed_b), len(failed_n), tuple(deltas),
                                 p.left_out_base, p.left_out_new, p.left_out, tuple(failed_n),
                                 unmeasured=settings.metric if missing else None))
    return tuple(out)


@dataclass(frozen=True)
class Pairing:
    """One row's runs as compared (:func:`pair_runs`)."""

    base: tuple[Row, ...]  # successful runs compared
    new: tuple[Row, ...]
    left_out_base: tuple[int, ...]  # seeds with a successful run left out, per side
    left_out_new: tuple[int, ...]
    left_out: tuple[LeftOut, ...]  # each seed left out, and why


def pair_runs(base: Sequence[Row], new: Sequence[Row]) -> Pairing:
    """The one rule by which compare and the ranking choose a row's runs: failed runs are dropped, then,
    where the sides' successful runs share some seeds but not all, only the shared seeds are kept on both
    sides (like with like: a seed fixes the run, so other seeds would compare luck, not code). Sides
    without a shared successful seed keep all their successful runs (Welch's test)."""
    ok_b, ok_n = [r for r in base if r.status == STATUS_OK], [r for r in new if r.status == STATUS_OK]
    seeds_b, seeds_n = {r.seed for r in ok_b}, {r.seed for r in ok_n}
    shared = seeds_b & seeds_n
    if not shared or seeds_b == seeds_n:
        return Pairing(tuple(ok_b), tuple(ok_n), (), (), ())

    def why(seed: int) -> LeftOut:
        side, group = ("new", new) if seed in seeds_b else ("base", base)
        return LeftOut(seed, side, tuple(dict.fromkeys(r.status for r in group if r.seed == seed)))

    return Pairing(tuple(r for r in ok_b if r.seed in shared), tuple(r for r in ok_n if r.seed in shared),
                   tuple(sorted(seeds_b - shared)), tuple(sorted(seeds_n - shared)),
                   tuple(why(seed) for seed in sorted((seeds_b | seeds_n) - shared)))


def setup_of(results: Sequence[RunResult], ignore: Sequence[str] = ()) -> dict[str, list[str]]:
    """The values of :data:`SETUP_FIELDS` (minus ``ignore``) found in ``results``, sorted."""
    return {f: sorted({str(getattr(r, f)) for r in results}) for f in SETUP_FIELDS if f not in ignore}


@dataclass(frozen=True)
class DataField:
    """Something a result records about what it trained on, which compared results must share."""

    name: str  # as the result document spells it (``config.split``)
    read: Callable[[RunResult], str | None]  # None: not recorded (an older document), which matches any value
    shown: int | None = None  # show only the first characters (a fingerprint)


#: What was trained on: results must agree on these too to be compared (or put side by side), unless --force.
DATA_FIELDS = (
    DataField("workload_fingerprint", lambda r: r.workload_fingerprint, shown=12),
    DataField("config.split", lambda r: r.config.split),
    DataField("dropped_classes", lambda r: ", ".join(r.dropped_classes) or "none"),
    DataField("n_classes", lambda r: str(r.n_classes)),
    DataField("config.labels", lambda r: r.config.labels),  # --labels / --label-re (schema 6 on)
)


def data_of(results: Sequence[RunResult], ignore: Sequence[str] = ()) -> dict[str, list[str]]:
    """The values of :data:`DATA_FIELDS` (minus ``ignore``, by name or its last part) in ``results``, sorted
    and shortened as shown."""
    return {f.name: sorted({value[:f.shown] for r in results if (value := f.read(r)) is not None})
            for f in DATA_FIELDS if f.name not in ignore and f.name.rpartition(".")[2] not in ignore}


@dataclass(frozen=True)
class Origins:
    """Where a set of results was made: the sessions and the hosts (:attr:`RunResult.ran_on`)."""

    sessions: tuple[str, ...]
    hosts: tuple[str, ...]

    @classmethod
    def of(cls, results: Sequence[RunResult]) -> Origins:
        return cls(tuple(sorted({r.session_id for r in results})), tuple(sorted({r.ran_on for r in results})))

    @property
    def several(self) -> bool:
        """More than one session or host: the runs did not all share one machine's state."""
        return len(self.sessions) > 1 or len(self.hosts) > 1

    def __str__(self) -> str:
        s, h = len(self.sessions), len(self.hosts)
        return f"{s} session{'s' if s > 1 else ''} on {h} host{'s' if h > 1 else ''} ({', '.join(self.hosts)})"


def _setup_text(setup: Mapping[str, Sequence[str]]) -> str:
    return ", ".join(f"{f} {'/'.join(v)}" for f, v in setup.items())


def check_uniform(name: str, results: Sequence[RunResult], force: bool, ignore: Sequence[str] = ()) -> list[str]:
    """Refuse (unless ``force``) results that mix workloads, scales, devices or the data trained on
    (:data:`DATA_FIELDS`); return notes when forced."""
    setup = {**setup_of(results, ignore), **data_of(results, ignore)}
    mixed = {f: v for f, v in setup.items() if len(v) > 1}
    if not mixed:
        return []
    text = f"{name}: mixed {_setup_text(mixed)}"
    if not force:
        raise CompareError(f"{text}: point at one kind of results, or pass --force")
    return [f"forced: {text}"]


def check_no_repeats(name: str, results: Sequence[RunResult], force: bool) -> list[str]:
    """Refuse (unless ``force``) a recipe x seed that appears twice, e.g. two copies of one session in a
    folder, which would pool into n=6 what is n=3. Returns a note when forced."""
    repeated = [key for key, n in Counter((r.recipe, r.seed) for r in results).items() if n > 1]
    if not repeated:
        return []
    recipe, seed = repeated[0]
    more = f" ({len(repeated)} recipe x seed pairs in all)" if len(repeated) > 1 else ""
    text = f"{name}: {recipe} seed {seed} appears more than once{more} (several sessions in one folder?)"
    if not force:
        raise CompareError(f"{text}; point at one session folder, or pass --force to pool them")
    return [f"forced: {text}"]


def check_comparable(base: Side, new: Side, force: bool) -> list[str]:
    """Refuse (unless ``force``) sets that differ in workload, scale, device or the data trained on
    (:data:`DATA_FIELDS`), mix them, or repeat a seed."""
    notes = check_uniform(f"base {base.name}", base.results, force)
    notes += check_uniform(f"new {new.name}", new.results, force)
    checks = ((setup_of, list(SETUP_FIELDS), "in {fields}", "their numbers are not comparable"),
              (data_of, [f.name for f in DATA_FIELDS], "in what was trained on ({fields})",
               "not the same data, so not comparable"))
    for describe, fields, where, why in checks:
        a, b = describe(base.results), describe(new.results)
        differ = [f for f in fields if a[f] != b[f] and a[f] and b[f]]  # an empty side: not recorded there
        if differ:
            text = (f"base {base.name} ({_setup_text({f: a[f] for f in differ})}) and new {new.name} "
                    f"({_setup_text({f: b[f] for f in differ})}) differ {where.format(fields=', '.join(differ))}")
            if not force:
                raise CompareError(f"{text}: {why}; pass --force to compare anyway")
            notes.append(f"forced: {text}")
    for tag, side in (("base", base), ("new", new)):
        notes += check_no_repeats(side.name, side.results, force)
        origins = Origins.of(side.results)
        if origins.several:  # the session noise of the tests covers it; the reader should know
            notes.append(f"{tag} {side.name}: rows come from {origins}")
    machines = {side.name: sorted({r.device_name for r in side.results}) for side in (base, new)}
    if machines[base.name] != machines[new.name]:
        notes.append(f"base ran on {' / '.join(machines[base.name])}, new on {' / '.join(machines[new.name])}: "
                     "wall s, img/s and peak MB changes include the difference of machines")
    return notes


def compare(base: Side, new: Side, settings: Settings = Settings(), force: bool = False) -> Comparison:
    """Compare two result sets; raises :class:`CompareError` for incomparable ones unless ``force``."""
    for side in (base, new):
        if not side.results:
            raise CompareError(f"{side.name}: no results")
    notes = check_comparable(base, new, force)
    metrics = metrics_of([*base.results, *new.results])
    metric_named(settings.metric, [m for m in metrics if m.spec is not None])  # --metric: a recorded one
    rows = compare_groups(grouped(base.results), grouped(new.results), settings, metrics)
    rows = with_seeds_needed(rows, settings, power.n_valid_of([*base.results, *new.results]))
    return Comparison(base, new, rows, settings, tuple(notes), metrics)


# --- how many seeds (recipebench.analysis.power) ----------------------------------------------------------------------

def plan_seeds(delta: Delta, settings: Settings, family: int = 1, n_valid: int | None = None,
               change: float | None = None, paired: bool | None = None,
               target_power: float = power.DEFAULT_POWER) -> power.Plan:
    """Seeds per side at which ``change`` (default: the row's observed one) would be significant in this
    row's test, at alpha / ``family``, from the spread of its values (paired as tested, unless given)."""
    m = delta.metric
    return power.plan(delta.base, delta.new, delta.test.kind == PAIRED if paired is None else paired,
                      delta.change if change is None else change, m.log,
                      n_valid if m.counts_over == "n_valid" else None, settings.minimum(m),
                      settings.alpha / max(1, family), 2 * settings.session_var(m), target_power)


def with_seeds_needed(rows: Sequence[RowComparison], settings: Settings,
                      n_valid: int | None) -> tuple[RowComparison, ...]:
    """The rows with :attr:`RowComparison.seeds_needed` for their change of the chosen metric (``--metric``),
    planned at alpha over the rows tested in that column (their Holm family: the level a lone real change must
    reach)."""
    family = sum(1 for r in rows if (d := r.delta(settings.metric)) is not None and d.test.tested)
    return tuple(replace(r, seeds_needed=plan_seeds(d, settings, family, n_valid))
                 if (d := r.delta(settings.metric)) is not None else r for r in rows)


def violations(comparison: Comparison, thresholds: Sequence[Threshold | FailedRuns]) -> list[Violation]:
    """Rows past a threshold: the change beyond it in the worse direction and, where tested, significant.
    With any threshold, a row whose every new run failed (while base had results) fails; with
    :class:`FailedRuns` among them, so does a row where any new run failed."""
    out: list[Violation] = []
    if not thresholds:
        return out
    alpha = comparison.settings.alpha
    any_failed = any(isinstance(t, FailedRuns) for t in thresholds)
    for row in comparison.rows:
        if row.n_new == 0 and row.failed_new and row.n_base:  # (a row only in base is no regression)
            out.append(Violation(row.label, f"every new run failed ({row.failed_new})"))
            continue
        if any_failed and row.failed_new:
            runs = row.n_new + len(row.left_out_new) + row.failed_new
            kinds = ", ".join(f"{n} {status}" for status, n in Counter(row.failures_new).items())
            out.append(Violation(row.label, f"{row.failed_new} of {runs} new runs failed ({kinds})"))
        for t in (t for t in thresholds if isinstance(t, Threshold)):
            d = row.delta(t.metric.name)
            if d is None or d.metric.worse_by(d.change) <= t.amount or not d.significant(alpha):
                continue
            evidence = (f"p={d.p:.3g} < {alpha}, {d.test.kind} t-test, Holm-adjusted" if d.p is not None
                        else f"{d.test.reason}: no test")
            out.append(Violation(row.label, f"{t.metric.name} {t.metric.format(d.change)} is past "
                                            f"{t.text} ({evidence})"))
    return out
