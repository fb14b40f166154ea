"""Which recipe, and what does it cost: every row against a reference, and time to a target error rate
(made-up results, no training)."""
from __future__ import annotations

import csv
import dataclasses
import io
import math

import numpy as np
import pytest

from recipebench.analysis import ranking
from recipebench.render import session_table as render
from recipebench.render import comparison as report
from recipebench.analysis.compare import Side, compare
from recipebench.record.results import Outcome
from recipebench.analysis.stats import holm, paired
from recipebench.analysis.timetotarget import CLOCK_EPOCHS, CLOCK_RECIPE, Target, TimeSummary, TimeToTarget, time_to_target
from tests.fake_results import fake_epochs as epochs
from tests.fake_results import fake_outcome, make_result


def session(seeds=(0, 1, 2)):
    """A session: baseline, a better-and-slower recipe, a same recipe, one that only ran once."""
    out = []
    for i, seed in enumerate(seeds):
        jitter = (0.0, 0.0083, -0.0083)[i]
        out.append(make_result("baseline", seed, error_rate=0.40 + jitter, wall_s=20.0 * (1 + 0.02 * i),
                               memory_bytes=int(1.2e9 * (1 + 0.01 * i)), epochs=epochs([0.5, 0.42, 0.40 + jitter])))
        out.append(make_result("slow_good", seed, error_rate=0.30 - jitter, wall_s=60.0 * (1 + 0.03 * i),
                               memory_bytes=int(1.5e9 * (1 + 0.005 * i)), epochs=epochs([0.5, 0.45, 0.39, 0.30 - jitter],
                                                                         epoch_s=12.0, before_s=6.0)))
        out.append(make_result("same", seed, error_rate=0.40 + (0.0083, -0.0083, 0.0)[i], wall_s=20.0 * (1.01 - 0.01 * i),
                               epochs=epochs([0.5, 0.41, 0.40])))
    return out


def test_each_row_is_tested_paired_against_the_reference_and_holm_adjusted():
    results = session()
    ranked = ranking.rank(results)
    assert ranked.reference == "baseline" and [r.label for r in ranked.rows] == ["baseline", "slow_good", "same"]
    base = [r.error_rate for r in results if r.recipe == "baseline"]
    good = [r.error_rate for r in results if r.recipe == "slow_good"]
    same = [r.error_rate for r in results if r.recipe == "same"]
    expected = holm([paired(base, good).p, paired(base, same).p])
    row = ranked.row("slow_good")
    err = row.comparison.delta("error_rate")
    assert err.test.kind == "paired" and err.p == pytest.approx(expected[0])
    assert err.change == pytest.approx(-10.0)  # pp
    assert ranked.row("same").comparison.delta("error_rate").p == pytest.approx(expected[1])
    wall = row.comparison.delta("wall")
    assert 1 + wall.change / 100 == pytest.approx(math.exp(sum(math.log(g / b) for g, b in zip(
        [r.wall_s for r in results if r.recipe == "slow_good"], [r.wall_s for r in results if r.recipe == "baseline"]))
        / 3))
    assert row.comparison.delta("throughput") is None, "ranked on error_rate, wall and memory only"
    assert row.comparison.verdict == "mixed: better error_rate; worse wall s, peak MB"
    assert ranked.row("same").comparison.verdict == "within noise"
    assert ranked.row("baseline").reference and ranked.row("baseline").comparison is None
    assert [ranked.row(label).rank for label in ("baseline", "slow_good", "same")] == [2, 1, 2]  # equal means tie


def test_one_seed_has_no_test_and_says_so():
    ranked = ranking.rank(session(seeds=(0,)))
    assert ranked.row("slow_good").comparison.verdict == "mixed: better error_rate; worse wall s, peak MB (n=1: no test)"
    assert report.ranking_cells(ranked, ranked.row("slow_good"))[3] == "-10.00 pp (no test)"


def test_a_missing_reference_is_a_note_and_another_can_be_chosen():
    results = [r for r in session() if r.recipe != "baseline"]
    ranked = ranking.rank(results)
    assert all(r.comparison is None for r in ranked.rows)
    assert "no comparison: the reference baseline is not in these results" in ranked.notes[0]
    other = ranking.rank(results, reference="same")
    assert other.row("slow_good").comparison.delta("error_rate").change == pytest.approx(-10.0)
    assert other.target.value == pytest.approx(0.40) and other.target.source == "same's mean final error_rate, n=3"


def test_sub_results_are_ranked_too():
    arm = fake_outcome("arm", 0.2, 0.2, 2, 30.0, 80.0, epochs([0.5, 0.2]))
    contrast = [dataclasses.replace(make_result("contrast", s, error_rate=0.25, wall_s=50.0, epochs=epochs([0.3])),
                                    outcomes=(arm,)) for s in (0, 1, 2)]
    ranked = ranking.rank(session() + contrast)
    row = ranked.row("contrast > arm")
    assert row.rank == 1 and row.comparison.delta("memory") is None  # a sub-result has no peak memory of its own
    assert row.time.epochs_median == 2 and row.time.wall_s_median == 20.0


# --- time to target ----------------------------------------------------------------------------------------

def test_time_to_target_is_the_first_epoch_at_or_below_it_on_the_recipes_clock():
    run = epochs([0.5, 0.42, 0.40, 0.38], epoch_s=10.0, before_s=7.0)
    assert time_to_target(run, Target(0.40, "test")) == TimeToTarget(3, 37.0, CLOCK_RECIPE)  # lr_find's 7 s counted
    assert time_to_target(run, Target(0.45, "test")) == TimeToTarget(2, 27.0, CLOCK_RECIPE)
    assert time_to_target(run, Target(0.30, "test")) == TimeToTarget(None, None, CLOCK_RECIPE)
    assert not time_to_target(run, Target(0.3, "test")).reached
    assert time_to_target((), Target(0.4, "test")) is None
    old = epochs([0.5, 0.42, 0.40], clock=False)  # before schema 5: the epochs' own time only
    assert time_to_target(old, Target(0.42, "test")) == TimeToTarget(2, 20.0, CLOCK_EPOCHS)
    assert time_to_target(run, Target(1 / 3 * 1.2, "test")) == time_to_target(run, Target(0.4, "test"))  # exactly equal counts as reached
    float32 = epochs([0.2, float(np.float32(17 / 129))])  # fastai's metric is float32, the final float64
    assert time_to_target(float32, Target(17 / 129, "test")).epochs == 2  # a one-seed reference reaches its own final error


def test_over_seeds_not_reached_counts_as_never():
    t = [TimeToTarget(2, 20.0, CLOCK_RECIPE), TimeToTarget(None, None, CLOCK_RECIPE), TimeToTarget(3, 30.0, CLOCK_RECIPE)]
    s = TimeSummary.of(t)
    assert (s.runs, s.reached, s.epochs_median, s.wall_s_median, s.wall_s_min, s.wall_s_max) == (3, 2, 3, 30.0, 20.0, 30.0)
    assert report.time_cells(s) == ["3 (2/3 reached)", "30.0 (2/3 reached)"]
    once = TimeSummary.of(t[:2] + [TimeToTarget(None, None, CLOCK_RECIPE)])
    assert once.epochs_median is None and report.time_cells(once) == ["not reached (1/3 reached)"] * 2
    assert report.time_cells(TimeSummary.of(t[:1] + t[2:] + t[:1])) == ["2", "20.0 [20.0-30.0]"]


def test_the_default_target_is_the_references_mean_final_error():
    ranked = ranking.rank(session())
    assert ranked.target.value == pytest.approx(0.40)
    assert ranked.row("slow_good").time.wall_s_median == pytest.approx(6.0 + 3 * 12.0)  # 0.39 at epoch 3
    assert ranked.row("baseline").time.reached == 2  # its own mean: seed 1 (0.4083) never got there
    given = ranking.rank(session(), target_error=0.45)
    assert given.target.source == "--target-error 0.45" and given.row("baseline").time.epochs_median == 2


# --- the tables ---------------------------------------------------------------------------------------------

def test_the_session_table_shows_the_ranking_with_p_values_and_time_to_target():
    text = render.session_report(session())
    assert "Δ error_rate" in text and "wall ×" in text and "epochs to target" in text and "s to target" in text
    line = next(line for line in text.splitlines() if line.startswith("slow_good ") and "pp" in line)
    assert "-10.00 pp (p=" in line and "×3.0" in line and "mixed: better error_rate" in line
    assert "reached 0.4000 (baseline's mean final error_rate, n=3)" in text
    md = render.session_report(session(), fmt="markdown")
    assert "| slow\\_good " in md and "- rank: by mean final error_rate" in md


def test_table_csv_has_raw_numbers_one_column_each():
    rows = list(csv.DictReader(io.StringIO(render.session_report(session(), fmt="csv"))))
    good = next(r for r in rows if r["label"] == "slow_good")
    assert float(good["error_rate_mean"]) == pytest.approx(0.30) and float(good["error_rate_std"]) > 0
    assert float(good["wall_s_median"]) == pytest.approx(61.8) and int(good["peak_memory_bytes_max"]) == 1_515_000_000
    assert float(good["error_rate_change_pp"]) == pytest.approx(-10.0) and 0 < float(good["error_rate_p"]) <= 1
    assert float(good["wall_ratio"]) == pytest.approx(3.0, rel=0.05) and good["rank"] == "1"
    assert float(good["s_to_target_median"]) == pytest.approx(42.0) and good["target_reached"] == "3"
    assert not any("±" in v or "(n=" in v for r in rows for v in r.values())


def test_compare_shows_each_sides_time_to_target():
    base = session()
    new = [r for r in session() if r.recipe != "slow_good"] + [
        make_result("slow_good", s, error_rate=0.30, wall_s=30.0, epochs=epochs([0.5, 0.35], epoch_s=15.0))
        for s in (0, 1, 2)]
    comparison = compare(Side("base", tuple(base)), Side("new", tuple(new)))
    target = report.compare_target(comparison)
    assert target.value == pytest.approx(0.40) and target.source.endswith(", in base")
    text = report.compare_report(comparison, "text", target)
    line = next(line for line in text.splitlines() if line.startswith("slow_good"))
    assert "42.0 s, ep 3 → 30.0 s, ep 2" in line
    rows = list(csv.DictReader(io.StringIO(report.compare_report(comparison, "csv", target))))
    good = next(r for r in rows if r["label"] == "slow_good")
    assert float(good["s_to_target_median_base"]) == 42.0 and float(good["s_to_target_median_new"]) == 30.0
    untimed = list(csv.DictReader(io.StringIO(report.compare_report(comparison, "csv"))))  # no target given
    assert all(r["s_to_target_median_base"] == r["target_error_rate"] == "" for r in untimed)


def test_a_failed_seed_is_left_out_of_the_pairs_and_named():
    results = [r for r in session() if not (r.recipe == "slow_good" and r.seed == 1)]
    results.append(make_result("slow_good", 1, status="error"))
    ranked = ranking.rank(results)
    row = ranked.row("slow_good")
    err = row.comparison.delta("error_rate")
    assert row.runs == 2 and err.test.kind == "paired" and len(err.base) == 2  # seeds 0 and 2, both sides
    assert row.comparison.left_out_base == (1,)
    assert report.ranking_cells(ranked, row)[6].endswith("(1 error)")
    nothing = ranking.rank([r for r in results if r.recipe != "same"] + [make_result("same", 0, status="diverged")])
    assert report.ranking_cells(nothing, nothing.row("same"))[1:7] == ["-", "-", "-", "-", "-", "DIVERGED"]
