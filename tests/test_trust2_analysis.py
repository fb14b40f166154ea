"""Trust, round two (issue 20), the analysis side: failed runs and shared seeds, spread hidden by float
rounding, results of several sessions or hosts and of other data, time to target with failed runs, and
``--fail-on failed`` (made-up results, no training)."""
from __future__ import annotations

import dataclasses
import random

import pytest

from recipebench.analysis import ranking
from recipebench.render import comparison as report
from recipebench.record import store
from recipebench.analysis import compare as compare_module
from recipebench.analysis.compare import DEFAULT_SESSION_NOISE, CompareError, Side, compare, violations
from recipebench.analysis.stats import paired, welch
from recipebench.analysis.timetotarget import Target, summarise
from recipebench.analysis.rows import grouped
from tests.fake_results import fake_epochs, make_result
from tests.test_report import run_cli


def run_compare(base, new, **kw):
    return compare(Side("base", tuple(base)), Side("new", tuple(new)), **kw)


def issue_example(recipe_new="baseline"):
    """The issue's example: base seeds 0, 1, 2 at 0.10/0.20/0.30; new 0.105/0.205 and seed 2 diverged."""
    base = [make_result(seed=s, error_rate=e) for s, e in ((0, 0.10), (1, 0.20), (2, 0.30))]
    new = [make_result(recipe_new, 0, error_rate=0.105), make_result(recipe_new, 1, error_rate=0.205),
           make_result(recipe_new, 2, status="diverged")]
    return base, new


# --- 1. a failed run on one side: drop failed runs, then pair on the seeds both sides have ok -------------

def test_a_seed_that_diverged_on_new_is_left_out_and_the_rest_paired():
    base, new = issue_example()
    comparison = run_compare(base, new)
    (row,) = comparison.rows
    err = row.delta("error_rate")
    assert err.change == pytest.approx(0.5)  # was -4.50 pp (Welch over seeds 0,1,2 against 0,1)
    assert err.test.kind == "paired" and err.base == (0.10, 0.20) and row.paired
    assert (row.n_base, row.n_new, row.failed_new, row.left_out_base, row.left_out_new) == (2, 2, 1, (2,), ())
    assert [item.why() for item in row.left_out] == ["diverged on new"]
    text = report.compare_report(comparison, "text")
    assert "seed 2 left out: diverged on new" in text and "+0.50 pp" in text


def test_the_ranking_pairs_by_the_same_rule_as_compare():
    base, new = issue_example("other")
    row = ranking.rank(base + new).row("other")
    (compared,) = run_compare(base, [dataclasses.replace(r, recipe="baseline") for r in new]).rows
    for name in ("error_rate", "wall"):
        ours, theirs = row.comparison.delta(name), compared.delta(name)
        assert (ours.base, ours.new, ours.test.kind, ours.change) == (theirs.base, theirs.new, theirs.test.kind,
                                                                      theirs.change)
    assert row.comparison.left_out == compared.left_out and compared.left_out[0].why() == "diverged on new"
    note = next(n for n in ranking.rank(base + new).notes if n.startswith("other against baseline"))
    assert note == "other against baseline: seed 2 left out: diverged on other"
    assert row.comparison.failed_new == 1  # the ranking's row counts the failure too


def test_every_kind_of_left_out_seed_says_why():
    base = [make_result(seed=s) for s in (0, 1, 2)] + [make_result(seed=3, status="error")]
    new = [make_result(seed=s, error_rate=0.11) for s in (0, 1, 3)] + [make_result(seed=4)]
    compared = run_compare(base, new)
    (row,) = compared.rows
    assert row.left_out_base == (2,) and row.left_out_new == (3, 4)
    assert {item.seed: item.why() for item in row.left_out} == {2: "not run on new", 3: "error on base",
                                                               4: "not run on base"}
    cell = report.compare_cells(compared, row)[1]
    assert "seed 2 left out: not run on new; seed 3: error on base; seed 4: not run on base" in cell


def test_failures_on_both_sides_at_the_same_seed_leave_nothing_out():
    base = [make_result(seed=s) for s in (0, 1)] + [make_result(seed=2, status="diverged")]
    new = [make_result(seed=s, error_rate=0.12) for s in (0, 1)] + [make_result(seed=2, status="error")]
    (row,) = run_compare(base, new).rows
    assert row.paired and row.left_out == () and (row.failed_base, row.failed_new) == (1, 1)


# --- 2. no spread hidden by float rounding ---------------------------------------------------------------

def counted(counts, n_valid, recipe="baseline"):
    return [make_result(recipe, seed, error_rate=k / n_valid, n_valid=n_valid) for seed, k in enumerate(counts)]


def test_a_constant_shift_of_counts_is_no_spread_not_p_below_0001():
    (row,) = run_compare(counted((10, 12, 15), 129), counted((12, 14, 17), 129)).rows
    err = row.delta("error_rate")
    assert err.test.kind == "paired" and err.p is None and err.test.reason == "no spread"  # was p=5.7e-30
    assert err.change == pytest.approx(200 / 129) and row.verdict.endswith("(no spread: no test)")
    assert "no test" in report.compare_report(run_compare(counted((10, 12, 15), 129), counted((12, 14, 17), 129)))


def test_a_sweep_of_constant_count_shifts_is_never_tested():
    rng = random.Random(20)
    for _ in range(400):
        n_valid, seeds = rng.randint(30, 5000), rng.randint(2, 6)
        shift = rng.choice([s for s in range(-12, 13) if s])
        counts = [rng.randint(12, n_valid - 12) for _ in range(seeds)]
        (row,) = run_compare(counted(counts, n_valid), counted([k + shift for k in counts], n_valid)).rows
        err = row.delta("error_rate")
        assert err.test.reason == "no spread", (n_valid, counts, shift, err.p)
        # and a shift that is not constant is still tested
        moved = [k + shift + (i == 0) for i, k in enumerate(counts)]
        (row,) = run_compare(counted(counts, n_valid), counted(moved, n_valid)).rows
        assert row.delta("error_rate").p is not None


def test_the_ranking_sees_the_same_no_spread():
    rows = counted((10, 12, 15), 129) + counted((12, 14, 17), 129, recipe="other")
    err = ranking.rank(rows).row("other").comparison.delta("error_rate")
    assert err.p is None and err.test.reason == "no spread"


def test_the_tests_work_on_counts_when_given_a_resolution():
    a, b = [10 / 129, 12 / 129, 15 / 129], [12 / 129, 14 / 129, 17 / 129]
    assert paired(a, b, resolution=1 / 129).reason == "no spread"
    spread = paired(a, [12 / 129, 14 / 129, 18 / 129], resolution=1 / 129)
    from scipy import stats

    ref = stats.ttest_rel([12, 14, 18], [10, 12, 15])
    assert spread.p == pytest.approx(ref.pvalue) and spread.t == pytest.approx(ref.statistic)


def test_values_off_the_grid_are_tested_as_they_are():
    # made-up error rates that are no count over n_valid: no resolution is assumed
    base = [make_result(seed=s, error_rate=e, n_valid=120) for s, e in ((0, 0.1), (1, 0.1167), (2, 0.0917))]
    new = [make_result(seed=s, error_rate=e + 0.02, n_valid=120) for s, e in ((0, 0.1), (1, 0.1168), (2, 0.0917))]
    (row,) = run_compare(base, new).rows
    assert row.delta("error_rate").p is not None


# --- 3. several sessions or hosts; other data -------------------------------------------------------------

def two_hosts(slowdown=1.08):
    """baseline from one session on host a, a same-code recipe from another session on host b, slower."""
    jitter = (1.0, 1.02, 0.99)
    out = []
    for i, seed in enumerate((0, 1, 2)):
        out.append(make_result("baseline", seed, wall_s=20 * jitter[i], session_id="one",
                               environment={"host": "a"}))
        out.append(make_result("same_code", seed, wall_s=20 * jitter[i] * slowdown * (1 + 0.002 * i),
                               session_id="two", environment={"host": "b"}))
    return out


def test_the_ranking_of_one_session_adds_no_session_noise():
    one = [dataclasses.replace(r, session_id="one", environment={"host": "a"}) for r in two_hosts()]
    ranked = ranking.rank(one)
    assert ranked.settings.session_noise == 0.0 and not any("sessions" in n for n in ranked.notes)
    assert ranked.row("same_code").comparison.verdict == "worse: wall s"


def test_the_ranking_of_several_sessions_and_hosts_adds_session_noise_and_says_so():
    ranked = ranking.rank(two_hosts())
    assert ranked.settings.session_noise == DEFAULT_SESSION_NOISE
    assert ranked.row("same_code").comparison.verdict == "within noise"  # 8% on another host
    note = next(n for n in ranked.notes if "2 sessions" in n)
    assert "2 hosts" in note and "3%" in note
    from recipebench.render import session_table as render

    assert note in render.session_report(two_hosts())


def test_one_session_on_two_hosts_counts_too():
    results = [dataclasses.replace(r, session_id="one") for r in two_hosts()]
    ranked = ranking.rank(results)
    assert ranked.settings.session_noise == DEFAULT_SESSION_NOISE
    assert any("1 session on 2 hosts" in n for n in ranked.notes)


OTHER_DATA = [
    ("workload_fingerprint", dict(workload_fingerprint="0" * 64), "ffffffffffff", "000000000000"),
    ("config.split", dict(config="folders"), "random(valid_pct=0.2, seed=42)", "folders(train=train, valid=valid)"),
    ("dropped_classes", dict(dropped_classes=("cat",)), "none", "cat"),
    ("n_classes", dict(n_classes=11), "12", "11"),
    ("config.labels", dict(config="labels"), "top-level folders", "parent folders"),
]


@pytest.mark.parametrize("field, change, before, after", OTHER_DATA, ids=[c[0] for c in OTHER_DATA])
def test_compare_refuses_other_data_naming_the_field_and_both_values(field, change, before, after):
    base = [make_result(seed=s) for s in (0, 1)]
    if change.get("config") == "folders":
        change = dict(config=dataclasses.replace(base[0].config, split=after, valid_pct=None, split_seed=None))
    if change.get("config") == "labels":
        base = [dataclasses.replace(r, config=dataclasses.replace(r.config, labels=before)) for r in base]
        change = dict(config=dataclasses.replace(base[0].config, labels=after))
    new = [make_result(seed=s, **change) for s in (0, 1)]
    with pytest.raises(CompareError) as info:
        run_compare(base, new)
    message = str(info.value)
    assert field in message and before in message and after in message and "--force" in message
    forced = run_compare(base, new, force=True)
    note = next(n for n in forced.notes if field in n)
    assert note.startswith("forced: ") and note in report.compare_report(forced, "text")


def test_a_labelling_an_older_document_did_not_record_matches_any():
    """Schema 6 records config.labels; a document from before (None) is not refused against one that has it."""
    base = [make_result(seed=s) for s in (0, 1)]
    assert base[0].config.labels is None
    new = [dataclasses.replace(r, config=dataclasses.replace(r.config, labels="parent folders")) for r in base]
    assert not [n for n in run_compare(base, new).notes if "labels" in n]


def test_a_side_that_mixes_data_is_refused():
    mixed = [make_result(seed=0), make_result(seed=1, workload_fingerprint="0" * 64)]
    with pytest.raises(CompareError, match="new new: mixed workload_fingerprint"):
        run_compare([make_result(seed=s) for s in (0, 1)], mixed)


# --- 7b. time to target: a failed run has not reached it --------------------------------------------------

def test_a_diverged_or_failed_run_counts_as_not_reached():
    group = [make_result(seed=0, epochs=fake_epochs([0.5, 0.3])),
             make_result(seed=1, status="diverged", epochs=fake_epochs([0.5, 0.3])),
             make_result(seed=2, status="error")]
    t = summarise(grouped(group)["baseline"], Target(0.35, "--target-error 0.35"))
    assert (t.runs, t.reached, t.epochs_median, t.wall_s_median) == (3, 1, None, None)  # was 1 of 1, ep 2
    assert report.time_cells(t) == ["not reached (1/3 reached)"] * 2


def test_a_median_time_needs_more_than_half_the_runs():
    def runs(reached, missed):
        return ([make_result(seed=s, epochs=fake_epochs([0.5, 0.3])) for s in range(reached)]
                + [make_result(seed=10 + s, epochs=fake_epochs([0.5, 0.4])) for s in range(missed)])

    target = Target(0.35, "--target-error 0.35")
    assert summarise(grouped(runs(1, 1))["baseline"], target).wall_s_median is None  # exactly half: never
    assert summarise(grouped(runs(2, 2))["baseline"], target).wall_s_median is None
    assert summarise(grouped(runs(2, 1))["baseline"], target).wall_s_median == 20.0
    from recipebench.analysis import timetotarget

    assert "more than half" in timetotarget.__doc__ and "at least half" not in timetotarget.__doc__


def test_a_group_without_any_epochs_has_no_time_even_with_a_failure():
    group = [make_result(seed=0), make_result(seed=1, status="error")]
    assert summarise(grouped(group)["baseline"], Target(0.35, "x")) is None


# --- 8b. --fail-on failed ---------------------------------------------------------------------------------

def folders(tmp_path, new_statuses=("ok", "diverged", "diverged")):
    base, new = tmp_path / "base" / "s1", tmp_path / "new" / "s2"
    for seed in range(3):
        store.write_result(make_result(seed=seed, error_rate=0.1), base)
        store.write_result(make_result(seed=seed, error_rate=0.1, status=new_statuses[seed]), new)
    return base.parent, new.parent




def test_by_default_some_failed_new_runs_do_not_fail_the_gate(tmp_path, capsys):
    base, new = folders(tmp_path)
    code, out, err = run_cli(capsys, "compare", base, new, "--fail-on", "error_rate:+0.5pp")
    assert code == 0 and "2 failed in new" in out


def test_fail_on_failed_fails_a_row_where_some_new_runs_failed(tmp_path, capsys):
    base, new = folders(tmp_path)
    code, out, err = run_cli(capsys, "compare", base, new, "--fail-on", "failed")
    assert code == 1 and "regression: baseline: 2 of 3 new runs failed (2 diverged)" in err
    code, _, err = run_cli(capsys, "compare", base, new, "--fail-on", "failed", "--fail-on", "wall:+10%")
    assert code == 1 and err.count("regression:") == 1


def test_fail_on_failed_passes_when_every_new_run_succeeded(tmp_path, capsys):
    base, new = folders(tmp_path, ("ok", "ok", "ok"))
    assert run_cli(capsys, "compare", base, new, "--fail-on", "failed")[0] == 0


def test_fail_on_failed_still_fails_when_every_new_run_failed(tmp_path, capsys):
    base, new = folders(tmp_path, ("error", "error", "diverged"))
    code, _, err = run_cli(capsys, "compare", base, new, "--fail-on", "failed")
    assert code == 1 and "every new run failed (3)" in err


def test_a_misspelt_fail_on_says_what_to_write(tmp_path, capsys):
    base, new = folders(tmp_path)
    code, _, err = run_cli(capsys, "compare", base, new, "--fail-on", "faild")
    assert code == 2 and "failed" in err and "error_rate:+0.5pp" in err


def test_violations_take_the_failed_gate_in_the_api():
    base, new = issue_example()
    gate = compare_module.parse_fail_on("failed")
    (v,) = violations(run_compare(base, new), [gate])
    assert v.label == "baseline" and v.reason == "1 of 3 new runs failed (1 diverged)"


def test_a_spread_of_float_rounding_alone_is_no_spread_off_the_grid_too():
    # the issue's example: 0.105 - 0.10 and 0.205 - 0.20 differ in the 17th digit only
    assert paired([0.10, 0.20], [0.105, 0.205]).reason == "no spread"
    (row,) = run_compare(*issue_example()).rows
    assert row.delta("error_rate").test.reason == "no spread"
    assert welch([0.1 + 0.2, 0.3], [0.4, 0.4]).reason == "no spread"  # 0.30000000000000004 and 0.3
    assert paired([0.10, 0.20], [0.105, 0.2051]).p is not None  # a real spread, however small, is tested


def test_a_compare_side_from_several_sessions_or_hosts_is_noted():
    base = [make_result(seed=s) for s in (0, 1)]
    new = [make_result(seed=0, session_id="one"), make_result(seed=1, session_id="two", environment={"host": "b"})]
    notes = run_compare(base, new).notes
    assert "new new: rows come from 2 sessions on 2 hosts (b, testhost)" in notes
    assert not any("sessions" in n or "hosts" in n for n in run_compare(base, base).notes)


def test_table_refuses_results_of_other_data_unless_forced(tmp_path, capsys):
    store.write_result(make_result(seed=0), tmp_path / "a")
    store.write_result(make_result("other", seed=0, workload_fingerprint="0" * 64), tmp_path / "b")
    code, _, err = run_cli(capsys, "table", tmp_path / "a", tmp_path / "b")
    assert code == 2 and "mixed workload_fingerprint 000000000000/ffffffffffff" in err
    code, out, err = run_cli(capsys, "table", tmp_path / "a", tmp_path / "b", "--force")
    assert code == 0 and "forced:" in err


def test_float32_error_rates_of_sub_results_are_counts_too():
    import numpy as np

    def arm(counts, recipe="contrast"):  # an outcome's error_rate is fastai's float32 metric
        return [make_result(recipe, s, n_valid=129, outcomes=(("arm", float(np.float32(k / 129)), 10.0),))
                for s, k in enumerate(counts)]

    (_, row) = run_compare(arm((13, 53, 36)), arm((17, 57, 40))).rows  # as floats: p=7.7e-14
    assert row.label == "contrast > arm" and row.delta("error_rate").test.reason == "no spread"
