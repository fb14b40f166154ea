"""How many seeds: the power calculation against textbook values, its guards (resolution, minimum, cap, one
seed), the "seeds needed" column of the ranking and of compare, `recipebench seeds`, and a simulation
check that the planned seeds catch a true difference in about the promised share of pairs."""
from __future__ import annotations

import csv
import io
import math
import subprocess
import sys

import pytest

from recipebench.analysis import power
from recipebench.analysis import ranking
from recipebench.render import session_table as render
from recipebench.render import comparison as report
from recipebench.analysis import seeds
from recipebench.record import store
from recipebench.analysis.compare import DEFAULT_METRICS as METRICS, Side, compare, plan_seeds
from tests.conftest import REPO
from tests.fake_results import make_result

ERROR_RATE = next(m for m in METRICS if m.name == "error_rate")
WALL = next(m for m in METRICS if m.name == "wall")


# --- the formula ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("effect, paired, seeds, achieved", [
    # Cohen (1988) / G*Power 3: paired (one-sample) t-test, two-sided, alpha 0.05, power 0.8
    (0.5, True, 34, 0.8078),
    (1.0, True, 10, 0.8031),
    # two independent samples, n per group: d = 0.5 -> 64, d = 0.8 -> 26
    (0.5, False, 64, 0.8015),
    (0.8, False, 26, 0.8075),
])
def test_seeds_match_textbook_t_test_power(effect, paired, seeds, achieved):
    assert power.seeds_for(effect, 1.0, alpha=0.05, power=0.8, paired=paired) == seeds
    assert float(power.power_at(seeds, effect, 1.0, 0.05, paired)) == pytest.approx(achieved, abs=5e-4)
    assert float(power.power_at(seeds - 1, effect, 1.0, 0.05, paired)) < 0.8


def test_power_grows_with_seeds_and_a_stricter_alpha_needs_more():
    ns = list(range(2, 40))
    values = power.power_at(ns, 0.02, 0.03, 0.05, True)
    assert all(b > a for a, b in zip(values, values[1:]))
    assert power.seeds_for(0.02, 0.03, alpha=0.05 / 8) > power.seeds_for(0.02, 0.03, alpha=0.05)


def test_a_known_session_noise_can_make_a_change_undetectable():
    """wall s +10% against a 3% session-to-session drift on each side: no number of seeds shows it."""
    base, new = [20.0, 20.4, 19.8], [22.0, 22.5, 21.7]
    drifting = power.plan(base, new, True, 10.0, log=True, minimum=5.0, known_var=2 * 0.03 ** 2)
    assert drifting.seeds is None and drifting.reason == power.UNREACHABLE and drifting.text() == "never"
    one_session = power.plan(base, new, True, 10.0, log=True, minimum=5.0)
    assert one_session.seeds is not None and one_session.seeds <= 5
    sd = power.spread_of(base, new, True, log=True).sd  # the spread of the log ratios
    assert one_session.seeds == power.seeds_for(math.log(1.1), sd, paired=True)


# --- the guards ----------------------------------------------------------------------------------------------

def test_seeds_that_agree_exactly_do_not_plan_two_seeds_the_counting_noise_floors_the_spread():
    base, new = [0.10] * 3, [0.15] * 3  # sd 0 on both sides: 3 seeds that happened to agree, 120 images
    p = power.plan(base, new, True, 5.0, counted_on=120, minimum=0.5)
    floor = math.sqrt(0.05 / 120)  # paired: the 6 images (5 pp of 120) that must differ, as coin flips
    assert p.spread.observed_sd == 0 and p.spread.floored and p.spread.sd == pytest.approx(floor)
    assert p.seeds == power.seeds_for(0.05, floor, paired=True) and p.seeds >= 4
    unpaired = power.plan(base, new, False, 5.0, counted_on=120, minimum=0.5)
    pooled = math.sqrt((power.counting_sd(0.10, 120) ** 2 + power.counting_sd(0.15, 120) ** 2) / 2)
    assert unpaired.spread.floored and unpaired.spread.sd == pytest.approx(pooled)
    assert unpaired.seeds == power.seeds_for(0.05, pooled, paired=False) and unpaired.seeds > 4
    one_image = power.plan([0.10] * 3, [0.10 + 1 / 120] * 3, True, 100 / 120, counted_on=120, minimum=0.5)
    assert one_image.spread.sd == pytest.approx(1 / 120) and one_image.seeds > 5  # at least one image


def test_a_spread_above_the_floor_is_used_as_observed():
    base, new = [0.10, 0.20, 0.30], [0.15, 0.22, 0.40]
    p = power.plan(base, new, True, ERROR_RATE.change(base, new), counted_on=2000, minimum=0.5)
    diffs = [0.05, 0.02, 0.10]
    mean = sum(diffs) / 3
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / 2)
    assert not p.spread.floored and p.spread.sd == pytest.approx(sd)
    assert p.seeds == power.seeds_for(mean, sd, paired=True)


def test_a_zero_error_rate_still_has_counting_noise():
    assert power.counting_sd(0.0, 100) == pytest.approx(math.sqrt(0.01 * 0.99 / 100))


def test_a_difference_below_one_image_or_the_practical_minimum_is_a_dash():
    # 120 images: one image is 0.83 pp; the table's minimum is 0.5 pp
    below_image = power.plan([0.100, 0.110, 0.105], [0.107, 0.117, 0.112], True, 0.7, counted_on=120, minimum=0.5)
    assert below_image.seeds is None and below_image.reason == power.BELOW_MINIMUM and below_image.text() == "-"
    base, new = [20.0, 20.5, 19.5], [20.2, 20.6, 19.7]
    below_minimum = power.plan(base, new, True, WALL.change(base, new), log=True, minimum=5.0)  # +0.8% < 5%
    assert below_minimum.text() == "-"


def test_a_difference_lost_in_the_spread_is_capped():
    p = power.plan([0.10, 0.30, 0.20], [0.31, 0.12, 0.21], True, 1.33, counted_on=1000, minimum=0.5)
    assert p.seeds is None and p.reason == power.BEYOND_CAP and p.text() == f"> {power.MAX_SEEDS}"


def test_one_seed_has_no_spread_to_plan_from():
    p = power.plan([0.10], [0.20], True, 10.0, counted_on=120, minimum=0.5)
    assert p.seeds is None and p.reason == power.ONE_SEED and p.spread is None


# --- the column in the ranking and in compare ----------------------------------------------------------------

def session(seeds=(0, 1, 2), n_valid=120):
    """baseline; better by about 10 pp with some spread; the same within a fraction of an image."""
    out = []
    for i, seed in enumerate(seeds):
        out.append(make_result("baseline", seed, error_rate=(0.40, 0.42, 0.38)[i], n_valid=n_valid))
        out.append(make_result("better", seed, error_rate=(0.30, 0.34, 0.26)[i], n_valid=n_valid))
        out.append(make_result("same", seed, error_rate=(0.402, 0.421, 0.383)[i], n_valid=n_valid))
    return out


def test_the_ranking_says_how_many_seeds_would_make_each_difference_significant():
    ranked = ranking.rank(session())
    better = ranked.row("better")
    assert report.ranking_headers(ranked)[-1] == "seeds needed"
    d = better.comparison.delta("error_rate")
    expected = plan_seeds(d, ranked.settings, family=2, n_valid=120)  # two rows against baseline
    assert expected.seeds is not None and report.ranking_cells(ranked, better)[-1] == str(expected.seeds)
    assert expected.alpha == pytest.approx(0.025)
    assert report.ranking_cells(ranked, ranked.row("same"))[-1] == "-"  # below one image
    assert report.ranking_cells(ranked, ranked.row("baseline"))[-1] == "-"
    text = render.session_report(session())
    assert "seeds needed" in text and "seeds needed: seeds per side" in text
    rows = list(csv.DictReader(io.StringIO(render.session_report(session(), fmt="csv"))))
    assert next(r for r in rows if r["label"] == "better")["error_rate_seeds_needed"] == str(expected.seeds)


def test_compare_rows_say_how_many_seeds_would_make_each_difference_significant():
    base = [r for r in session() if r.recipe == "baseline"]
    new = [make_result("baseline", s, error_rate=e, n_valid=120) for s, e in zip((0, 1, 2), (0.45, 0.49, 0.44))]
    comparison = compare(Side("base", tuple(base)), Side("new", tuple(new)))
    (row,) = comparison.rows
    expected = plan_seeds(row.delta("error_rate"), comparison.settings, family=1, n_valid=120)
    assert row.seeds_needed == expected and expected.seeds is not None
    assert report.compare_headers(comparison)[-2:] == ["seeds needed", "verdict"]  # the verdict ends the row
    assert report.compare_cells(comparison, row)[-2] == str(expected.seeds)
    text = report.compare_report(comparison, "text")
    assert "seeds needed: seeds per side" in text
    rows = list(csv.DictReader(io.StringIO(report.compare_report(comparison, "csv"))))
    assert rows[0]["error_rate_seeds_needed"] == str(expected.seeds)


# --- recipebench seeds ---------------------------------------------------------------------------------------

def seeds_cli(*args):
    return subprocess.run([sys.executable, "-m", "recipebench", "seeds", *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=300)


def test_seeds_command_plans_each_recipe_against_the_reference(tmp_path):
    for r in session():
        store.write_result(r, tmp_path)
    proc = seeds_cli(tmp_path, "--delta", "5pp", "--format", "csv")
    assert proc.returncode == 0, proc.stderr
    rows = {r["recipe"]: r for r in csv.DictReader(io.StringIO(proc.stdout))}
    assert set(rows) == {"baseline", "better", "same"}
    ref = [r.error_rate for r in session() if r.recipe == "baseline"]
    better = [r.error_rate for r in session() if r.recipe == "better"]
    expected = power.plan(ref, better, True, 5.0, counted_on=120, minimum=0.5)
    assert rows["better"]["seeds_needed"] == str(expected.seeds) and rows["better"]["design"] == "paired"
    own = power.plan(ref, ref, False, 5.0, counted_on=120, minimum=0.5)
    assert rows["baseline"]["seeds_needed"] == str(own.seeds) and rows["baseline"]["design"] == "unpaired"
    more = seeds_cli(tmp_path, "--delta", "5pp", "--power", "0.95", "--format", "csv")
    assert int(next(r for r in csv.DictReader(io.StringIO(more.stdout)) if r["recipe"] == "better")
               ["seeds_needed"]) > expected.seeds
    text = seeds_cli(tmp_path, "--delta", "5pp")
    assert text.returncode == 0 and "power 0.8" in text.stdout and "alpha 0.05" in text.stdout


def test_seeds_command_for_wall_time_is_relative(tmp_path):
    for seed, (a, b) in enumerate([(20.0, 22.0), (20.6, 22.9), (19.6, 21.4)]):
        store.write_result(make_result("baseline", seed, wall_s=a), tmp_path)
        store.write_result(make_result("slower", seed, wall_s=b), tmp_path)
    proc = seeds_cli(tmp_path, "--metric", "wall", "--delta", "20%", "--session-noise", "0%", "--format", "csv")
    assert proc.returncode == 0, proc.stderr
    row = next(r for r in csv.DictReader(io.StringIO(proc.stdout)) if r["recipe"] == "slower")
    expected = power.plan([20.0, 20.6, 19.6], [22.0, 22.9, 21.4], True, 20.0, log=True, minimum=5.0)
    assert row["seeds_needed"] == str(expected.seeds)
    wrong = seeds_cli(tmp_path, "--delta", "10%")
    assert wrong.returncode == 2 and "--delta 10%" in wrong.stderr and "--metric wall" in wrong.stderr
    assert "Traceback" not in wrong.stderr and len(wrong.stderr.strip().splitlines()) == 1


def test_seeds_command_with_one_seed_says_the_spread_is_unknown(tmp_path):
    store.write_result(make_result("baseline", 0, error_rate=0.40, n_valid=120), tmp_path)
    store.write_result(make_result("other", 0, error_rate=0.30, n_valid=120), tmp_path)
    proc = seeds_cli(tmp_path, "--delta", "5pp")
    assert proc.returncode == 0, proc.stderr
    assert "spread unknown" in proc.stdout and "run 3 seeds" in proc.stdout
    floor = math.sqrt(0.05 / 120)  # the same seed on both sides: paired
    assert f"counting noise alone: {power.seeds_for(0.05, floor, paired=True)}" in proc.stdout


def test_seeds_command_refuses_a_reference_that_is_not_there(tmp_path):
    for r in session():
        store.write_result(r, tmp_path)
    proc = seeds_cli(tmp_path, "--delta", "1pp", "--reference", "nope")
    assert proc.returncode == 2 and "--reference nope" in proc.stderr and "Traceback" not in proc.stderr


# --- the simulation check ------------------------------------------------------------------------------------

def test_planned_seeds_catch_a_true_difference_in_about_the_promised_share_of_simulated_pairs():
    """2,000 simulated pairs per line (seeded): the share of the changed row with p < alpha (Holm-adjusted)
    is within a few points of the power the plan promises: unpaired and paired, a one-row table and a
    nine-row one (planned at alpha / 9)."""
    checks = seeds.check(deltas_pp=(3.0, 5.0), trials=2000, rng_seed=0)
    checks += seeds.check(deltas_pp=(5.0,), trials=2000, rng_seed=1, paired_designs=(False,), rows=9)
    assert len(checks) == 5 and checks[-1].rows == 9 and checks[-1].seeds > checks[1].seeds
    for c in checks:
        assert c.seeds is not None and c.planned_power >= 0.8
        assert abs(c.significant - c.planned_power) < 0.04, c
        assert c.verdict <= c.significant + 1e-12
    from recipebench.render.seeds import check_table

    table = check_table(checks, "text")
    assert "planned seeds per side" in table and "paired" in table
