"""A/A simulation: how often ``recipebench compare`` cries wolf, and how often it catches a real regression.

Two result sets of the same code with different seeds are drawn from a noise model fitted to what
varies here: a recipe's true error rate from seed to seed, the counting of errors on a fixed
validation set (binomial), wall time from run to run and from session to session (machine load),
and peak memory. Each pair goes through the real comparison (:func:`recipebench.analysis.compare.compare_groups`
and :func:`recipebench.analysis.compare.violations`); the rates say how often a table shows a verdict other than
"within noise", and how often ``--fail-on`` would exit 1.

    recipebench noise [--trials 2000] [--seeds 1,2,3,5]
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

from recipebench.analysis.compare import (
    NOISE,
    WORSE,
    Comparison,
    Settings,
    Side,
    Threshold,
    compare_groups,
    violations,
)
from recipebench.record.results import STATUS_OK, RunResult
from recipebench.analysis.rows import Row, grouped

#: The thresholds the A/A rates are measured at (the PR flow of docs/pr-gate.md).
FAIL_ON = ("error_rate:+0.5pp", "wall:+10%", "memory:+10%")


@dataclass(frozen=True)
class NoiseModel:
    """What varies between two runs of the same code (quick scale on a CPU)."""

    # Defaults: fitted to results/baseline/ (recipebench noise --fit results/baseline/; quick scale,
    # 3 seeds, 2-core AVX512-BF16 CPU, 2026-11-30).
    labels: int = 9  # table rows: the quick baseline's seven recipes and two sub-results
    n_valid: int = 129  # validation images (quick scale: 20% of 12 classes x 54)
    error_rates: tuple[float, float] = (0.057, 0.189)  # the baseline rows' mean error rates span 0.057-0.189
    #: seed-to-seed sd of a model's true error rate, pp, beyond the binomial counting that comes on top: the
    #: baseline's seeds vary no more than counting errors on 129 images explains, so none is left over.
    seed_sd_pp: float = 0.0
    wall_s: float = 46.0  # a run's wall time, s
    wall_seed_sd: float = 0.075  # log-sd of wall time from run to run in one session
    wall_session_sd: float = 0.03  # log-sd of a whole session's speed (load, clocks), shared by its runs
    train_images: float = 4970.0  # training images per run (img/s = train_images / wall s)
    memory_bytes: float = 1.43e9
    memory_sd: float = 0.023  # log-sd of peak memory from run to run


def fit(results: Sequence[RunResult], wall_session_sd: float = NoiseModel.wall_session_sd) -> NoiseModel:
    """The noise model of a result set with several seeds per recipe (the committed baseline):

    - rows, their error rates' span and the validation set's size, as they are;
    - the seed-to-seed sd of a row's *true* error rate: the pooled variance across seeds less the
      binomial variance of counting errors on ``n_valid`` images (what is left is the model's own);
    - wall time, its run-to-run log-sd, training images per run, peak memory and its log-sd, pooled
      over the rows.

    A session's drift (``wall_session_sd``) cannot be seen inside one session: it is given, not fitted.
    """
    import numpy as np

    groups = {label: [r for r in rows if r.status == STATUS_OK and r.error_rate is not None]
              for label, rows in grouped(results).items()}
    groups = {label: rows for label, rows in groups.items() if len(rows) >= 2}
    if not groups:
        raise ValueError("fitting a noise model needs a recipe run with two or more seeds")
    n_valid = int(np.median([r.n_valid for r in results]))
    means = [float(np.mean([r.error_rate for r in rows])) for rows in groups.values()]
    excess = [float(np.var([r.error_rate for r in rows], ddof=1)) - m * (1 - m) / n_valid
              for m, rows in zip(means, groups.values())]

    def pooled_log_sd(values: list[list[float]]) -> float:
        variances = [float(np.var(np.log(v), ddof=1)) for v in values if len(v) >= 2 and min(v) > 0]
        return float(np.sqrt(np.mean(variances))) if variances else 0.0

    walls = [[r.wall_s for r in rows] for rows in groups.values()]
    whole = [r for r in results if r.status == STATUS_OK]  # memory and images are per run, not per sub-result
    memories = [[r.peak_memory_bytes for r in whole if r.recipe == recipe and r.peak_memory_bytes]
                for recipe in dict.fromkeys(r.recipe for r in whole)]
    return NoiseModel(
        labels=len(groups), n_valid=n_valid, error_rates=(round(min(means), 3), round(max(means), 3)),
        seed_sd_pp=round(100 * float(np.sqrt(max(float(np.mean(excess)), 0.0))), 2),
        wall_s=round(float(np.median([w for ws in walls for w in ws])), 1),
        wall_seed_sd=round(pooled_log_sd(walls), 3), wall_session_sd=wall_session_sd,
        train_images=round(float(np.median([r.samples_per_s * r.wall_s for r in whole if r.samples_per_s]))),
        memory_bytes=float(np.median([m for ms in memories for m in ms])),
        memory_sd=round(pooled_log_sd(memories), 3),
    )


@dataclass(frozen=True)
class Shift:
    """A real change in the new code: added error rate and a wall time factor (none: an A/A pair)."""

    error_pp: float = 0.0
    wall_factor: float = 1.0


@dataclass(frozen=True)
class Rates:
    """Out of ``trials`` simulated comparisons."""

    trials: int
    seeds: int
    rows_flagged: float  # fraction of rows whose verdict is not "within noise"
    tables_flagged: float  # fraction of tables with at least one such row
    tables_worse: float  # fraction of tables with a "worse" somewhere
    tables_failing: float  # fraction of tables where --fail-on (FAIL_ON) exits 1


def _side(model: NoiseModel, seeds: range, shift: Shift, rng) -> dict[str, list[Row]]:
    session = rng.normal(0.0, model.wall_session_sd)
    low, high = model.error_rates
    groups: dict[str, list[Row]] = {}
    for i in range(model.labels):
        p = low + (high - low) * i / max(1, model.labels - 1) + shift.error_pp / 100
        label = f"recipe{i}"
        for seed in seeds:
            true_rate = min(1.0, max(0.0, p + rng.normal(0.0, model.seed_sd_pp / 100)))
            wall = model.wall_s * shift.wall_factor * float(
                rng.lognormal(session, model.wall_seed_sd))
            error_rate = rng.binomial(model.n_valid, true_rate) / model.n_valid
            groups.setdefault(label, []).append(Row(
                label=label, recipe=label, outcome=None, seed=seed, status=STATUS_OK, metrics={"error_rate": error_rate},
                error_rate=error_rate, best_error_rate=None,
                best_epoch=None, wall_s=wall, samples_per_s=model.train_images / wall,
                peak_memory_bytes=int(model.memory_bytes * rng.lognormal(0.0, model.memory_sd)),
                precision="fp32", device="cpu", arch="resnet18", n_valid=model.n_valid))
    return groups


def simulate(model: NoiseModel = NoiseModel(), seeds: int = 3, trials: int = 1000, shift: Shift = Shift(),
             settings: Settings = Settings(), fail_on: Sequence[str] = FAIL_ON, rng_seed: int = 0) -> Rates:
    """Compare ``trials`` pairs of simulated result sets (base: the model; new: the model + ``shift``)."""
    import numpy as np

    rng = np.random.default_rng(rng_seed)
    thresholds = [Threshold.parse(t) for t in fail_on]
    empty = Side("simulated", ())
    rows = tables = worse = failing = 0
    for _ in range(trials):
        base = _side(model, range(seeds), Shift(), rng)
        new = _side(model, range(seeds, 2 * seeds), shift, rng)  # other seeds: Welch's test
        compared = compare_groups(base, new, settings)
        flagged = sum(any(d.verdict != NOISE for d in row.deltas) for row in compared)
        rows += flagged
        tables += flagged > 0
        worse += any(d.verdict == WORSE for row in compared for d in row.deltas)
        failing += bool(violations(Comparison(empty, empty, compared, settings), thresholds))
    return Rates(trials, seeds, rows / (trials * model.labels), tables / trials, worse / trials, failing / trials)
