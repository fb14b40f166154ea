"""`recipebench compare --format github`: a pull-request comment body a workflow posts and updates."""
from __future__ import annotations

import pytest

from recipebench.analysis import compare
from recipebench.render import github_comment
from recipebench.record import store
from tests.fake_results import make_result
from tests.test_compare_cli import run_cli

BASE_ERRORS = (0.10, 0.12, 0.11)


def result_set(folder, errors_by_recipe, commit):
    for recipe, errors in errors_by_recipe.items():
        for seed, error in enumerate(errors):
            env = {"git_commit": commit, "git_dirty": False, "host": "testhost", "cpu": "Test CPU"}
            store.write_result(make_result(recipe, seed, error_rate=error, wall_s=20.0 + seed, environment=env),
                               folder)
    return folder


@pytest.fixture
def sides(tmp_path):
    base = result_set(tmp_path / "base", {"baseline": BASE_ERRORS, "lr_find_tuned": BASE_ERRORS}, "a" * 40)
    new = result_set(tmp_path / "new", {"baseline": (0.15, 0.18, 0.16), "lr_find_tuned": BASE_ERRORS}, "b" * 40)
    return base, new


def test_the_comment_reads_alone_in_its_first_line_and_carries_its_marker(sides, capsys):
    code, out, err = run_cli(capsys, "compare", *sides, "--format", "github", "--fail-on", "error_rate:+0.5pp")
    assert code == 1 and "regression: baseline: error_rate" in err
    lines = out.splitlines()
    assert lines[0] == "**recipebench**: 1 row worse (error_rate), 1 within noise; gate: failed"
    assert lines[-1] == github_comment.MARKER == "<!-- recipebench-compare -->"
    assert out.count(github_comment.MARKER) == 1
    # the table as markdown, the legend folded away, what ran where in plain sight
    assert "| recipe " in out and "| baseline " in out and "| lr\\_find\\_tuned " in out
    details = out.split("<details>", 1)[1].split("</details>", 1)[0]
    assert "<summary>" in details and "Δ: new against base" in details and "Holm" in details
    assert "Δ: new against base" not in out.split("<details>", 1)[0]
    context = out.split("| recipe ", 1)[0]
    assert "`aaaaaaa`" in context and "`bbbbbbb`" in context and "3 seeds" in context
    assert "Test CPU (2 threads) on testhost" in context
    assert "- baseline: error\\_rate +5.33 pp is past error\\_rate:+0.5pp" in context  # the gate's reasons, named


def test_the_gate_says_passed_or_that_there_is_none(sides, capsys):
    base, new = sides
    code, out, _ = run_cli(capsys, "compare", base, base, "--format", "github", "--fail-on", "error_rate:+0.5pp")
    assert code == 0 and out.splitlines()[0] == "**recipebench**: 2 rows within noise; gate: passed"
    code, out, _ = run_cli(capsys, "compare", base, new, "--format", "github")
    assert code == 0 and out.splitlines()[0] == ("**recipebench**: 1 row worse (error_rate), 1 within noise; "
                                                 "gate: none (no --fail-on)")


def test_rows_on_one_side_and_failed_runs_are_counted_by_what_they_are(tmp_path):
    base = compare.Side("b", tuple(make_result("baseline", s, error_rate=e) for s, e in enumerate(BASE_ERRORS))
                        + tuple(make_result("gone", s) for s in range(3)))
    new = compare.Side("n", tuple(make_result("baseline", s, status="error") for s in range(3))
                       + tuple(make_result("fresh", s) for s in range(3)))
    comparison = compare.compare(base, new)
    line = github_comment.headline(comparison, violations=(), thresholds=())
    assert line == ("**recipebench**: 1 row worse (every new run failed), 1 only in base, 1 only in new; "
                    "gate: none (no --fail-on)")
