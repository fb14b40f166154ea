"""Statistics, comparison, verdicts, thresholds, the matrix and their tables, on made-up results (no training)."""
from __future__ import annotations

import csv
import dataclasses
import io
import math

import pytest

from recipebench.analysis import compare
from recipebench.analysis import matrix
from recipebench.analysis import noise
from recipebench.render import comparison as report
from recipebench.analysis.compare import NOISE, CompareError, Settings, Side, Threshold
from recipebench.analysis.stats import holm, welch
from recipebench.render.tables import escape_markdown, format_table
from tests.fake_results import make_result

WALL_JITTER = (1.0, 0.97, 1.04, 0.99, 1.02)  # a few % from run to run
ERRORS = (0.10, 0.1167, 0.0917, 0.1083, 0.1)  # seed-to-seed, in steps of 1/120


def results(seeds, recipe="baseline", error_shift=0.0, wall_factor=1.0, memory_factor=1.0, outcomes=(), noise=0,
            **kw):
    """A result per seed with realistic spread: error rates in steps of 1/120, wall times a few % apart.

    ``noise`` shifts which jitter each run draws: the same seeds with another ``noise`` are another session.
    """
    return [make_result(recipe, seed, error_rate=ERRORS[(i + noise) % 5] + error_shift,
                        wall_s=20.0 * WALL_JITTER[(i + 2 * noise) % 5] * wall_factor,
                        memory_bytes=int(1.2e9 * memory_factor), outcomes=outcomes, **kw)
            for i, seed in enumerate(seeds)]


def run_compare(base, new, **kw):
    return compare.compare(Side("base", tuple(base)), Side("new", tuple(new)), **kw)


# --- statistics ---------------------------------------------------------------------------------------------

def test_welch_is_scipys_welch_test():
    from scipy import stats

    for a, b in [([1.0, 2.0, 3.0], [2.0, 3.5, 5.0, 4.0]), ([0.1, 0.12], [0.2, 0.19, 0.25]), ([5, 5.1], [5.05, 5.2])]:
        ours, ref = welch(a, b), stats.ttest_ind(b, a, equal_var=False)
        assert ours.p == pytest.approx(ref.pvalue) and ours.t == pytest.approx(ref.statistic)
        assert ours.df == pytest.approx(ref.df)
    logged = welch([10, 11, 12], [30, 33, 36], log=True)
    assert logged.p == pytest.approx(stats.ttest_ind(*[[math.log(v) for v in xs] for xs in
                                                       ([30, 33, 36], [10, 11, 12])], equal_var=False).pvalue)


def test_welch_says_when_it_cannot_test():
    assert welch([0.1], [0.2, 0.3]).reason == "n=1" and welch([0.1], [0.2, 0.3]).p is None
    assert welch([0.1, 0.1], [0.1, 0.1]).p == 1.0  # identical constants: no evidence of a difference
    none = welch([0.1, 0.1], [0.2, 0.2])
    assert none.p is None and none.reason == "no spread" and not none.tested


def test_holm_adjusts_and_leaves_untested_out():
    assert holm([0.01, 0.04, 0.03, None]) == pytest.approx([0.03, 0.06, 0.06, None])
    assert holm([]) == [] and holm([None]) == [None]
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0]) and holm([0.2, 0.01]) == pytest.approx([0.2, 0.02])


# --- thresholds ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, metric, amount", [
    ("error_rate:+0.5pp", "error_rate", 0.5), ("wall:+10%", "wall", 10.0), ("memory:10%", "memory", 10.0),
    ("throughput:-10%", "throughput", 10.0), ("wall_s:+25%", "wall", 25.0), ("error_rate: 1 pp", "error_rate", 1.0),
])
def test_thresholds_parse(text, metric, amount):
    t = Threshold.parse(text)
    assert (t.metric.name, t.amount) == (metric, amount)


@pytest.mark.parametrize("text, message", [
    ("throughput:+10%", "throughput regresses when it falls; write throughput:-10%"),
    ("wall:-10%", "wall regresses when it rises"),
    ("error_rate:+0.5%", "error_rate takes an amount in percentage points (pp)"),
    ("wall:10", "wall takes an amount in percent (%)"),
    ("speed:+1%", "unknown metric 'speed'; choose one of error_rate, wall, throughput, memory"),
    ("wall", "expected METRIC:AMOUNT"),
])
def test_bad_thresholds_say_what_to_write(text, message):
    with pytest.raises(CompareError, match=message.replace("(", r"\(").replace(")", r"\)").replace("+", r"\+")):
        Threshold.parse(text)


# --- verdicts -----------------------------------------------------------------------------------------------

def test_a_a_is_within_noise_and_passes_fail_on():
    c = run_compare(results(range(5)), results(range(5, 10)))
    (row,) = c.rows
    assert row.verdict == NOISE and row.n_base == row.n_new == 5
    thresholds = [Threshold.parse(t) for t in ("error_rate:+0.5pp", "wall:+10%", "memory:+10%")]
    assert compare.violations(c, thresholds) == []


def test_a_clear_regression_is_worse_and_fails_naming_the_recipe():
    c = run_compare(results(range(3)), results(range(3, 6), error_shift=0.05, wall_factor=3.0))
    (row,) = c.rows
    assert row.verdict == "worse: error_rate, wall s, img/s"
    assert row.delta("error_rate").change == pytest.approx(5.0)
    assert row.delta("wall").change == pytest.approx(200.0, rel=0.05) and row.delta("wall").p < 0.001
    failed = compare.violations(c, [Threshold.parse("wall:+10%"), Threshold.parse("error_rate:+0.5pp")])
    assert [v.label for v in failed] == ["baseline", "baseline"]
    assert str(failed[0]).startswith("baseline: wall +") and "past wall:+10%" in str(failed[0])
    assert "Welch t-test, Holm-adjusted" in str(failed[0])


def test_improvement_is_better_and_never_fails():
    same = run_compare(results(range(3)), results(range(3)))
    assert same.rows[0].verdict == NOISE and same.rows[0].delta("wall").p == 1.0
    faster = run_compare(results(range(3)), results(range(3, 6), error_shift=-0.05, wall_factor=0.5))
    assert faster.rows[0].verdict == "better: error_rate, wall s, img/s"
    assert compare.violations(faster, [Threshold.parse("wall:+10%"), Threshold.parse("throughput:-10%")]) == []


def test_the_same_seeds_are_compared_pair_by_pair():
    base = results(range(3))
    new = results(range(3), error_shift=0.02, wall_factor=1.3, noise=1)  # the same seeds, another session
    c = run_compare(base, new)
    row = c.rows[0]
    assert row.paired and row.delta("wall").test.kind == "paired"
    assert row.verdict == "worse: wall s, img/s"  # +2 pp error_rate, but seeds disagree: within noise
    assert "3 → 3 paired" in report.compare_report(c, "text")
    unpaired = run_compare(base, results(range(3, 6), wall_factor=1.3, noise=1))  # no seed in common
    assert not unpaired.rows[0].paired and unpaired.rows[0].delta("wall").test.kind == "Welch"
    overlap = run_compare(base, results(range(1, 4), wall_factor=1.3, noise=1)).rows[0]  # seeds 1, 2 shared
    assert overlap.paired and (overlap.n_base, overlap.n_new) == (2, 2)
    assert (overlap.left_out_base, overlap.left_out_new) == ((0,), (3,))


def test_a_small_significant_change_below_the_practical_minimum_is_noise():
    quiet = Settings(session_noise=0.0)  # a machine whose sessions never drift
    c = run_compare(results(range(5)), results(range(5, 10), wall_factor=1.04), settings=quiet)
    assert c.rows[0].delta("wall").p < 0.05 and c.rows[0].verdict == NOISE  # +4%: real, but below 5%
    strict = run_compare(results(range(5)), results(range(5, 10), wall_factor=1.04),
                         settings=Settings(min_effects={"wall": 2.0}, session_noise=0.0))
    assert strict.rows[0].verdict.startswith("worse: wall s")


def test_session_drift_is_part_of_the_timing_noise():
    # +8% in every run of the new session: seeds alone call it certain, a 3% session noise does not
    base, new = results(range(5)), results(range(5, 10), wall_factor=1.08)
    assert run_compare(base, new, settings=Settings(session_noise=0.0)).rows[0].verdict == "worse: wall s, img/s"
    calm = run_compare(base, new)
    assert calm.rows[0].verdict == NOISE and 0.05 < calm.rows[0].delta("wall").p < 0.2
    assert calm.rows[0].delta("error_rate").test.df == pytest.approx(8.0)  # error rates do not drift
    tripled = run_compare(base, results(range(5), wall_factor=3.0))  # same seeds, exactly 3x: still a test
    assert tripled.rows[0].delta("wall").p < 1e-6


def test_a_large_but_noisy_change_is_not_significant():
    base = [make_result(seed=s, error_rate=e) for s, e in enumerate((0.05, 0.30, 0.10))]
    new = [make_result(seed=s, error_rate=e) for s, e in enumerate((0.35, 0.08, 0.30))]
    c = run_compare(base, new)
    d = c.rows[0].delta("error_rate")
    assert d.change > 5 and d.p > 0.05 and d.verdict == NOISE
    assert compare.violations(c, [Threshold.parse("error_rate:+0.5pp")]) == []


def test_n1_has_no_test_and_the_threshold_alone_decides():
    c = run_compare(results([0]), results([1], wall_factor=1.5))
    row = c.rows[0]
    assert row.verdict == "worse: wall s, img/s (n=1: no test)"
    assert row.delta("wall").p is None and row.delta("wall").test.reason == "n=1"
    (v,) = compare.violations(c, [Threshold.parse("wall:+10%")])
    assert "n=1: no test" in str(v)
    assert compare.violations(c, [Threshold.parse("wall:+60%")]) == []
    assert run_compare(results([0]), results([1])).rows[0].verdict == "within noise (n=1: no test)"


def test_holm_keeps_many_rows_calm():
    names = [f"r{i}" for i in range(8)]
    base = [r for n in names for r in results(range(3), recipe=n)]
    new = [r for n in names for r in results(range(3, 6), recipe=n)]
    c = run_compare(base, new)
    assert [r.verdict for r in c.rows] == [NOISE] * 8
    ps = [r.delta("wall").p for r in c.rows]
    raw = [r.delta("wall").test.p for r in c.rows]
    assert all(p >= q for p, q in zip(ps, raw))


def test_outcomes_are_rows_of_their_own_and_named():
    arms = lambda slow: (("retrain", 0.1, 10.0 * slow), ("best_checkpoint", 0.12, 12.0))  # noqa: E731
    base = results(range(3), recipe="early_stopping_contrast", outcomes=arms(1))
    new = results(range(3, 6), recipe="early_stopping_contrast", outcomes=arms(3))
    c = run_compare(base, new)
    labels = [r.label for r in c.rows]
    assert labels == ["early_stopping_contrast", "early_stopping_contrast > retrain",
                      "early_stopping_contrast > best_checkpoint"]
    assert c.rows[1].delta("memory") is None  # outcomes record no memory of their own
    # every retrain arm is 30 s instead of 10 s
    (v,) = compare.violations(c, [Threshold.parse("wall:+10%")])
    assert v.label == "early_stopping_contrast > retrain" and v.reason.startswith("wall +200% is past wall:+10%")
    # the arms' error rates do not move from seed to seed: no test there, the threshold decides
    worse_arm = results(range(3), recipe="early_stopping_contrast", outcomes=(("retrain", 0.2, 10.0),))
    (v,) = compare.violations(run_compare(base, worse_arm), [Threshold.parse("error_rate:+0.5pp")])
    assert v.label == "early_stopping_contrast > retrain" and "(no spread: no test)" in v.reason


def test_rows_on_one_side_and_failed_runs():
    base = results(range(2)) + results(range(2), recipe="old")
    new = results(range(2)) + results(range(2), recipe="added")
    c = run_compare(base, new)
    assert {r.label: r.verdict for r in c.rows}["old"] == "only in base"
    assert {r.label: r.verdict for r in c.rows}["added"] == "only in new"
    assert compare.violations(c, [Threshold.parse("error_rate:+0.5pp")]) == []
    broken = run_compare(results(range(2)), [make_result(seed=s, status="error") for s in range(2)])
    assert broken.rows[0].verdict == "worse: every new run failed" and broken.rows[0].failed_new == 2
    (v,) = compare.violations(broken, [Threshold.parse("error_rate:+0.5pp")])
    assert v.label == "baseline" and "every new run failed" in v.reason
    assert compare.violations(broken, []) == []
    partly = run_compare(results(range(3)), results(range(2)) + [make_result(seed=2, status="error")])
    assert partly.rows[0].n_new == 2 and partly.rows[0].failed_new == 1
    # the failed seed is left out on both sides (issue 20): paired on seeds 0 and 1
    assert "2 → 2 paired on shared seeds (seed 2 left out: error on new) (1 failed in new)" in \
        report.compare_report(partly)


# --- what may be compared -----------------------------------------------------------------------------------

def test_different_scales_are_refused_unless_forced():
    base, new = results(range(2)), results(range(2), scale="smoke")
    with pytest.raises(CompareError, match=r"base base \(scale quick\) and new new \(scale smoke\) differ in scale"
                                           r".*--force"):
        run_compare(base, new)
    forced = run_compare(base, new, force=True)
    assert any(n.startswith("forced: ") for n in forced.notes)
    with pytest.raises(CompareError, match="differ in device"):
        run_compare(base, results(range(2), device="cuda"))
    with pytest.raises(CompareError, match="differ in workload"):
        run_compare(base, results(range(2), workload="pets"))


def test_a_side_that_mixes_scales_or_repeats_seeds_is_refused():
    with pytest.raises(CompareError, match="base base: mixed scale quick/smoke"):
        run_compare(results([0]) + results([1], scale="smoke"), results(range(2)))
    with pytest.raises(CompareError, match="new: baseline seed 1 appears more than once.*one session folder"):
        run_compare(results(range(2)), results(range(2)) + results([1]))


def test_other_machines_are_noted():
    c = run_compare(results(range(2)), results(range(2), device_name="Other CPU (8 threads)"))
    assert any("include the difference of machines" in n for n in c.notes)


# --- tables ---------------------------------------------------------------------------------------------------

def test_markdown_escapes_names():
    assert escape_markdown("a|b_c*d<e>") == r"a\|b\_c\*d\<e\>"
    assert escape_markdown("two\nlines") == "two lines"
    text = format_table(["recipe", "x"], [["a|b", "1"], ["`c`", "2"]], "markdown")
    lines = text.splitlines()
    assert lines[0].startswith("| recipe") and set(lines[1]) <= set("|-: ")
    assert all(line.replace("\\|", "").count("|") == 3 for line in lines)  # no cell broke the table


def test_compare_report_in_three_formats():
    base = results(range(3), recipe="lr|find_tuned")
    new = results(range(3, 6), recipe="lr|find_tuned", wall_factor=3.0)
    c = run_compare(base, new)
    md = report.compare_report(c, "markdown")
    assert md.splitlines()[0].startswith("| recipe ") and "lr\\|find\\_tuned" in md
    assert "worse: wall s, img/s" in md and "Welch's" in md and "Holm" in md
    assert "- base: base: synthetic quick cpu, seeds 0/1/2" in md and "\\|Δ\\|" in md
    text = report.compare_report(c, "text")
    assert "lr|find_tuned" in text and "+200%" in text.replace("+199%", "+200%").replace("+201%", "+200%")
    rows = list(csv.DictReader(io.StringIO(report.compare_report(c, "csv"))))
    assert rows[0]["label"] == "lr|find_tuned" and rows[0]["wall_verdict"] == "worse"
    assert float(rows[0]["wall_change_pct"]) == pytest.approx(200, rel=0.05)
    assert float(rows[0]["error_rate_change_pp"]) == pytest.approx(0.0, abs=1e-9)


# --- the matrix -----------------------------------------------------------------------------------------------

def versioned(torch_version, seeds, wall_factor=1.0, **kw):
    return [make_result(seed=s, error_rate=ERRORS[s], wall_s=20.0 * wall_factor,
                        versions={"python": "3.11.7", "torch": torch_version, "torchvision": "0", "fastai": "2.8.12",
                                  "cuda": None, "recipebench": "0.1.0"}, **kw) for s in seeds]


def test_matrix_by_torch_orders_versions_naturally():
    rs = versioned("2.14.1", range(2)) + versioned("2.9.1", range(2), wall_factor=1.5)
    m = matrix.build(rs, "torch")
    assert m.values == ("2.9.1", "2.14.1") and m.labels == ("baseline",)
    md = report.matrix_report(m, "markdown")
    header = md.splitlines()[0]
    assert header.index("torch 2.9.1: error\\_rate") < header.index("torch 2.14.1: error\\_rate")
    assert "30.0 \\[30.0-30.0\\]" in md and "0.1084 ± 0.0118 (n=2)" in md
    rows = list(csv.DictReader(io.StringIO(report.matrix_report(m, "csv"))))
    assert [(r["torch"], r["n"], float(r["wall_s_median"])) for r in rows] == [("2.9.1", "2", 30.0),
                                                                               ("2.14.1", "2", 20.0)]


def test_matrix_by_any_recorded_field():
    rs = results(range(2)) + results(range(2), config=dataclasses.replace(make_result().config, arch="resnet34"))
    assert matrix.build(rs, "arch").values == ("resnet18", "resnet34")
    assert matrix.build(rs, "split", force=True).values == ("random(valid_pct=0.2, seed=42)",)
    assert matrix.build(rs, "config.arch").values == ("resnet18", "resnet34")
    # Along host or device the two archs' runs of a seed share a cell: pooled only when forced.
    assert matrix.build(rs, "host", force=True).values == ("testhost",)
    assert matrix.build(rs, "device", force=True).values == ("cpu",)
    with pytest.raises(matrix.FieldError, match="--by 'tourch': not a recorded field; choose one of .*torch"):
        matrix.build(rs, "tourch")
    with pytest.raises(matrix.FieldError, match="--by 'versions.nope'"):
        matrix.build(rs, "versions.nope")


def test_matrix_refuses_mixed_scales_except_along_its_axis():
    rs = results(range(2)) + results(range(2), scale="smoke")
    with pytest.raises(CompareError, match="the results: mixed scale quick/smoke"):
        matrix.build(rs, "torch")
    assert matrix.build(rs, "scale").values == ("quick", "smoke")
    assert matrix.build(rs, "torch", force=True).notes


def test_natural_key():
    assert sorted(["2.14.1", "2.9.1+cu128", "2.10.0", "None"], key=matrix.natural_key) == [
        "2.9.1+cu128", "2.10.0", "2.14.1", "None"]


# --- A/A calm -------------------------------------------------------------------------------------------------

def test_a_a_simulation_false_alarms_stay_rare_and_regressions_are_caught():
    calm = noise.simulate(seeds=3, trials=300)
    assert calm.tables_failing <= 0.05  # --fail-on error_rate:+0.5pp wall:+10% memory:+10% on A/A pairs
    assert calm.rows_flagged <= 0.02
    caught = noise.simulate(seeds=3, trials=100, shift=noise.Shift(error_pp=5.0, wall_factor=3.0))
    assert caught.tables_failing == 1.0


def test_the_noise_model_is_fitted_to_a_result_set():
    """Two rows, three seeds: error rates 0.10/0.15/0.20 and 0.25/0.30/0.35 (sd 5 pp, above counting noise
    on 120 images); wall times 10/20/40 s and a constant 20 s."""
    rs = [make_result("a", s, error_rate=e, wall_s=w) for s, (e, w) in enumerate([(0.10, 10.0), (0.15, 20.0),
                                                                                 (0.20, 40.0)])]
    rs += [make_result("b", s, error_rate=e, wall_s=20.0) for s, e in enumerate([0.25, 0.30, 0.35])]
    model = noise.fit(rs)
    assert (model.labels, model.n_valid, model.error_rates) == (2, 120, (0.15, 0.3))
    binomial = (0.15 * 0.85 + 0.3 * 0.7) / 120 / 2  # counting noise, pooled over the rows
    assert model.seed_sd_pp == pytest.approx(100 * math.sqrt(0.05 ** 2 - binomial), abs=0.01)
    assert model.wall_seed_sd == pytest.approx(math.sqrt(math.log(2) ** 2 / 2), abs=0.001)
    assert model.wall_s == 20.0 and model.wall_session_sd == noise.NoiseModel.wall_session_sd
    with pytest.raises(ValueError, match="two or more seeds"):
        noise.fit(rs[:1])
