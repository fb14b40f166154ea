"""The compare stage: two result sets (base and new), row by row, with a test across seeds.

Rows are paired by label: a recipe, or ``recipe > outcome`` for a sub-result (see
:func:`recipebench.rows.rows`), so nothing here knows any recipe. For each metric the change is new
against base:

- ``error_rate``: difference of the means, in percentage points (pp);
- ``wall`` (wall s), ``throughput`` (img/s), ``memory`` (peak MB): ratio of the geometric means, in %.

Significance: a two-sided t-test across seeds, on log values for the ratio metrics: Welch's
(:func:`recipebench.stats.welch`) when the sides ran different seeds, the paired test over seeds
(:func:`recipebench.stats.paired`) when both ran the same seeds once each (a seed fixes the initial
weights, the data order and the augmentation, so differences between seeds drop out). When the
sides share only some seeds, a row compares the shared seeds alone and says which it left out. The p-values are
Holm-adjusted over the table's rows, one family per metric, so that an A/A table (same code, other
seeds) shows a false "worse" or "better" in a column with chance <= alpha. Timings and a process's
peak memory also drift from session to session with the machine's state, which the seeds of one
session cannot show: their tests add a session noise (:data:`DEFAULT_SESSION_NOISE`,
``--session-noise``) to the variance. A metric is *worse* or *better* only when the change is significant (adjusted p < alpha)
**and** at least its practical minimum (:attr:`Metric.min_effect`); otherwise it is *within noise*.
With one run on a side (or no spread at all) there is no test: the practical minimum alone
decides, and the verdict says so (``n=1: no test``, ``no spread: no test``).

``--fail-on METRIC:THRESHOLD`` (:class:`Threshold`): a row fails when its change goes past the
threshold in the metric's worse direction and, where there was a test, significantly; a recipe
whose every new run failed (while base had results) fails too.
"""
from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Mapping, Sequence

from recipebench import power
from recipebench.results import STATUS_OK, RunResult
from recipebench.rows import Row, grouped
from recipebench.stats import PAIRED, Significance, holm, paired, welch

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
    """A figure compared between base and new."""

    name: str  # as written in --fail-on / --min-effect
    field: str  # the Row attribute it comes from
    header: str  # column title
    unit: str  # "pp": difference of means x 100; "%": ratio of geometric means - 1, x 100
    higher_is_worse: bool
    min_effect: float  # default practical minimum, in ``unit``: smaller changes are never a verdict
    drifts: bool = False  # moves with the machine's state from session to session (timings, process memory)

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

    @property
    def example(self) -> str:
        """A --fail-on threshold for this metric."""
        if self.unit == "pp":
            return f"{self.name}:+0.5pp"
        return f"{self.name}:{'+' if self.higher_is_worse else '-'}10%"

    def format(self, amount: float) -> str:
        """A change, signed, in the metric's unit: ``+1.25 pp``, ``+3.5%``, ``-67%``."""
        if self.unit == "pp":
            return f"{amount:+.2f} pp"
        return f"{amount:+.1f}%" if abs(amount) < 10 else f"{amount:+.0f}%"


METRICS: tuple[Metric, ...] = (
    Metric("error_rate", "error_rate", "error_rate", "pp", True, 0.5),  # the chapter's run-to-run noise
    Metric("wall", "wall_s", "wall s", "%", True, 5.0, drifts=True),
    Metric("throughput", "samples_per_s", "img/s", "%", False, 5.0, drifts=True),
    Metric("memory", "peak_memory_bytes", "peak MB", "%", True, 5.0, drifts=True),  # CPU peak RSS drifts
)
#: Session-to-session drift (log-sd of a whole session's speed, or of its process memory), which the
#: seeds of one session cannot show: added to the variance of the metrics that drift (--session-noise).
DEFAULT_SESSION_NOISE = 0.03
ALIASES = MappingProxyType({"wall_s": "wall", "samples_per_s": "throughput", "img/s": "throughput",
                            "peak_memory": "memory", "peak_memory_bytes": "memory"})


def metric_named(name: str) -> Metric:
    name = ALIASES.get(name.strip(), name.strip())
    for metric in METRICS:
        if metric.name == name:
            return metric
    raise CompareError(f"unknown metric {name!r}; choose one of {', '.join(m.name for m in METRICS)}")


@dataclass(frozen=True)
class Threshold:
    """``METRIC:AMOUNT``: how far a metric may move in its worse direction (``error_rate:+0.5pp``)."""

    metric: Metric
    amount: float  # in the metric's unit, >= 0
    text: str

    @classmethod
    def parse(cls, text: str, signed: bool = True) -> Threshold:
        """``error_rate:+0.5pp``, ``wall:+10%``, ``memory:10%``, ``throughput:-10%``.

        With ``signed`` a sign, when given, must point the metric's worse way (up for error_rate,
        wall and memory, down for throughput).
        """
        name, sep, value = text.partition(":")
        if not sep:
            raise CompareError(f"{text!r}: expected METRIC:AMOUNT, e.g. error_rate:+0.5pp or wall:+10%")
        metric = metric_named(name)
        match = re.fullmatch(r"\s*([+-]?)\s*(\d+(?:\.\d*)?|\.\d+)\s*(pp|%)\s*", value)
        if not match or match.group(3) != metric.unit:
            unit = "percentage points (pp)" if metric.unit == "pp" else "percent (%)"
            raise CompareError(f"{text!r}: {metric.name} takes an amount in {unit}, e.g. {metric.example}")
        sign, amount = match.group(1), float(match.group(2))
        if signed and sign and (sign == "+") != metric.higher_is_worse:
            way = "rises" if metric.higher_is_worse else "falls"
            raise CompareError(f"{text!r}: {metric.name} regresses when it {way}; write {metric.example}")
        return cls(metric, amount, text)


@dataclass(frozen=True)
class Settings:
    """How verdicts are made: the significance level and each metric's practical minimum."""

    alpha: float = DEFAULT_ALPHA
    min_effects: Mapping[str, float] = field(default_factory=lambda: {m.name: m.min_effect for m in METRICS})
    session_noise: float = DEFAULT_SESSION_NOISE  # log-sd of a session's speed, for metrics that drift

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1:
            raise CompareError(f"alpha {self.alpha}: must lie between 0 and 1")
        if not 0 <= self.session_noise < 1:
            raise CompareError(f"session noise {self.session_noise}: must lie between 0 and 1 (0% to 100%)")
        given = {metric_named(name).name: amount for name, amount in self.min_effects.items()}  # aliases, errors
        object.__setattr__(self, "min_effects", MappingProxyType({**{m.name: m.min_effect for m in METRICS}, **given}))

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

    @property
    def change(self) -> float:
        return self.metric.change(self.base, self.new)

    def significant(self, alpha: float) -> bool:
        """Adjusted p < alpha; True without a test (then the amount alone decides)."""
        return self.p is None or self.p < alpha


@dataclass(frozen=True)
class RowComparison:
    """One label (recipe or recipe > outcome): its runs on each side and a delta per metric."""

    label: str
    n_base: int  # successful runs
    n_new: int
    failed_base: int
    failed_new: int
    deltas: tuple[Delta, ...]  # metrics with values on both sides
    #: When the sides share only some seeds, the row compares like with like on the shared seeds and
    #: these are the seeds left out of it, per side; empty when every seed was used.
    left_out_base: tuple[int, ...] = ()
    left_out_new: tuple[int, ...] = ()
    #: Seeds per side at which the observed error_rate change would be significant (:func:`with_seeds_needed`);
    #: None where not planned (compare_groups alone leaves it to compare() and the ranking).
    seeds_needed: power.Plan | None = None

    @property
    def untested(self) -> str | None:
        """Why some metric has no test ("n=1", "no spread"), or None."""
        reasons = [d.test.reason for d in self.deltas if not d.test.tested]
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
        worse = [d.metric.header for d in self.deltas if d.verdict == WORSE]
        better = [d.metric.header for d in self.deltas if d.verdict == BETTER]
        if worse and better:
            text = f"mixed: {BETTER} {', '.join(better)}; {WORSE} {', '.join(worse)}"
        elif worse or better:
            text = f"{WORSE if worse else BETTER}: {', '.join(worse or better)}"
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
        value = getattr(row, metric.field)
        if row.status == STATUS_OK and value is not None and math.isfinite(value) and (value > 0 or not metric.log):
            out.setdefault(row.seed, []).append(float(value))
    return out


def _flat(by_seed: Mapping[int, Sequence[float]]) -> tuple[float, ...]:
    return tuple(v for seed in sorted(by_seed) for v in by_seed[seed])


def _test(metric: Metric, base: Mapping[int, Sequence[float]], new: Mapping[int, Sequence[float]],
          settings: Settings) -> Significance:
    """Paired over seeds when both sides ran the same seeds once each, else Welch's test."""
    once = all(len(v) == 1 for v in (*base.values(), *new.values()))
    test = paired if once and len(base) >= 2 and set(base) == set(new) else welch
    return test(_flat(base), _flat(new), log=metric.log, session_var=settings.session_var(metric))


def _verdict(metric: Metric, base: Sequence[float], new: Sequence[float], p: float | None,
             settings: Settings) -> str:
    change = metric.change(base, new)
    if abs(change) < settings.min_effects[metric.name] or (p is not None and p >= settings.alpha):
        return NOISE
    return WORSE if metric.worse_by(change) > 0 else BETTER


def compare_groups(base: Mapping[str, Sequence[Row]], new: Mapping[str, Sequence[Row]],
                   settings: Settings = Settings()) -> tuple[RowComparison, ...]:
    """Pair rows by label (base's order, then labels only in new) and compare every metric."""
    labels = list(dict.fromkeys([*base, *new]))
    base, new, left_out = _shared_seeds_only(labels, base, new)
    by_seed = {(label, m): (_values(base.get(label, ()), m), _values(new.get(label, ()), m))
               for label in labels for m in METRICS}
    tests = {(label, m.name): _test(m, b, n, settings) for (label, m), (b, n) in by_seed.items() if b and n}
    pairs = {(label, m.name): (_flat(b), _flat(n)) for (label, m), (b, n) in by_seed.items()}
    adjusted: dict[tuple[str, str], float | None] = {}
    for m in METRICS:
        keys = [k for k in tests if k[1] == m.name]
        adjusted.update(zip(keys, holm([tests[k].p for k in keys])))
    out = []
    for label in labels:
        deltas = []
        for m in METRICS:
            key = (label, m.name)
            if key in tests:
                b_values, n_values = pairs[key]
                verdict = _verdict(m, b_values, n_values, adjusted[key], settings)
                deltas.append(Delta(m, b_values, n_values, tests[key], adjusted[key], verdict))
        b, n = base.get(label, ()), new.get(label, ())
        ok_b, ok_n = sum(r.status == STATUS_OK for r in b), sum(r.status == STATUS_OK for r in n)
        out.append(RowComparison(label, ok_b, ok_n, len(b) - ok_b, len(n) - ok_n, tuple(deltas), *left_out[label]))
    return tuple(out)


def _shared_seeds_only(labels: Sequence[str], base: Mapping[str, Sequence[Row]], new: Mapping[str, Sequence[Row]]):
    """Where a row's sides ran some seeds in common but not all, keep only the shared seeds on both
    sides (like with like: a seed fixes the run, so other seeds would compare luck, not code).
    Returns the restricted groups and, per label, the seeds left out of base and of new."""
    b_out, n_out, left_out = dict(base), dict(new), {}
    for label in labels:
        b, n = base.get(label, ()), new.get(label, ())
        seeds_b, seeds_n = {r.seed for r in b}, {r.seed for r in n}
        shared = seeds_b & seeds_n
        if shared and seeds_b != seeds_n:
            b_out[label] = [r for r in b if r.seed in shared]
            n_out[label] = [r for r in n if r.seed in shared]
            left_out[label] = (tuple(sorted(seeds_b - shared)), tuple(sorted(seeds_n - shared)))
        else:
            left_out[label] = ((), ())
    return b_out, n_out, left_out


def setup_of(results: Sequence[RunResult], ignore: Sequence[str] = ()) -> dict[str, list[str]]:
    """The values of :data:`SETUP_FIELDS` (minus ``ignore``) found in ``results``, sorted."""
    return {f: sorted({str(getattr(r, f)) for r in results}) for f in SETUP_FIELDS if f not in ignore}


def _setup_text(setup: Mapping[str, Sequence[str]]) -> str:
    return ", ".join(f"{f} {'/'.join(v)}" for f, v in setup.items())


def check_uniform(name: str, results: Sequence[RunResult], force: bool, ignore: Sequence[str] = ()) -> list[str]:
    """Refuse (unless ``force``) results that mix workloads, scales or devices; return notes when forced."""
    setup = setup_of(results, ignore)
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
    """Refuse (unless ``force``) sets that differ in workload, scale or device, mix them, or repeat a seed."""
    notes = check_uniform(f"base {base.name}", base.results, force)
    notes += check_uniform(f"new {new.name}", new.results, force)
    a, b = setup_of(base.results), setup_of(new.results)
    differ = [f for f in SETUP_FIELDS if a[f] != b[f]]
    if differ:
        text = (f"base {base.name} ({_setup_text({f: a[f] for f in differ})}) and new {new.name} "
                f"({_setup_text({f: b[f] for f in differ})}) differ in {', '.join(differ)}")
        if not force:
            raise CompareError(f"{text}: their numbers are not comparable; pass --force to compare anyway")
        notes.append(f"forced: {text}")
    for side in (base, new):
        notes += check_no_repeats(side.name, side.results, force)
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
    rows = compare_groups(grouped(base.results), grouped(new.results), settings)
    rows = with_seeds_needed(rows, settings, power.n_valid_of([*base.results, *new.results]))
    return Comparison(base, new, rows, settings, tuple(notes))


# --- how many seeds (recipebench.power) ----------------------------------------------------------------------

#: The metric the tables' "seeds needed" column plans for.
SEEDS_METRIC = "error_rate"


def plan_seeds(delta: Delta, settings: Settings, family: int = 1, n_valid: int | None = None,
               change: float | None = None, paired: bool | None = None,
               target_power: float = power.DEFAULT_POWER) -> power.Plan:
    """Seeds per side at which ``change`` (default: the row's observed one) would be significant in this
    row's test, at alpha / ``family``, from the spread of its values (paired as tested, unless given)."""
    m = delta.metric
    return power.plan(delta.base, delta.new, delta.test.kind == PAIRED if paired is None else paired,
                      delta.change if change is None else change, m.log,
                      n_valid if m.name == "error_rate" else None, settings.min_effects[m.name],
                      settings.alpha / max(1, family), 2 * settings.session_var(m), target_power)


def with_seeds_needed(rows: Sequence[RowComparison], settings: Settings,
                      n_valid: int | None) -> tuple[RowComparison, ...]:
    """The rows with :attr:`RowComparison.seeds_needed` for their error_rate change, planned at alpha over
    the rows tested in that column (their Holm family: the level a lone real change must reach)."""
    family = sum(1 for r in rows if (d := r.delta(SEEDS_METRIC)) is not None and d.test.tested)
    return tuple(replace(r, seeds_needed=plan_seeds(d, settings, family, n_valid))
                 if (d := r.delta(SEEDS_METRIC)) is not None else r for r in rows)


def violations(comparison: Comparison, thresholds: Sequence[Threshold]) -> list[Violation]:
    """Rows past a threshold: the change beyond it in the worse direction and, where tested, significant."""
    out: list[Violation] = []
    if not thresholds:
        return out
    alpha = comparison.settings.alpha
    for row in comparison.rows:
        if row.n_new == 0 and row.failed_new and row.n_base:  # (a row only in base is no regression)
            out.append(Violation(row.label, f"every new run failed ({row.failed_new})"))
            continue
        for t in thresholds:
            d = row.delta(t.metric.name)
            if d is None or d.metric.worse_by(d.change) <= t.amount or not d.significant(alpha):
                continue
            evidence = (f"p={d.p:.3g} < {alpha}, {d.test.kind} t-test, Holm-adjusted" if d.p is not None
                        else f"{d.test.reason}: no test")
            out.append(Violation(row.label, f"{t.metric.name} {t.metric.format(d.change)} is past "
                                            f"{t.text} ({evidence})"))
    return out
