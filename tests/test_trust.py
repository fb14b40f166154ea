"""Numbers you can trust: divergence caught, nothing a user trained lost, setup errors as messages,
comparisons that cannot mislead, cases run seed-major."""
from __future__ import annotations

import dataclasses
import os
import stat
import textwrap

import pytest

from recipebench import Recipe
from recipebench.record import store
from recipebench.train.callbacks import DIVERGENCE_FACTOR
from recipebench.commands import main as cli
from recipebench.analysis.compare import CompareError, Side, compare
from recipebench.analysis.matrix import build as build_matrix
from recipebench.render.session_table import summary_table
from recipebench.render.comparison import compare_report, matrix_report
from recipebench.record.results import STATUS_DIVERGED, validate
from recipebench.analysis.rows import rows
from recipebench.train.runner import prepare
from recipebench.render.tables import error_text
from tests.fake_results import make_result
from tests.test_bench import bench

DIVERGING = "fit_one_cycle(2, 1e4)"

FAULTY_PLUGIN = textwrap.dedent('''
    from recipebench import Recipe, hookimpl

    def raising(ctx):
        ctx.learn.fit_one_cycle(1, 1e-3)
        raise RuntimeError("boom in the recipe")

    def diverging(ctx):
        ctx.learn.fit_one_cycle(2, 1e4)  # a learning rate no network survives

    @hookimpl
    def recipebench_add_recipes(register):
        register(Recipe("raising", raising, summary="raises after one epoch"))
        register(Recipe("diverging", diverging, summary="fit_one_cycle(2, 1e4)"))
''')


def _run(session, train, name="probe"):
    recipe = Recipe(name, train, summary="test")
    plan = dataclasses.replace(session.plan("baseline", 0), recipe=recipe, recipe_plugin="tests", recipe_options={})
    return prepare(plan).execute()


# -- 2. a diverged run is not "ok" ------------------------------------------------------------------


def test_an_exploding_loss_stops_the_run_as_diverged(smoke_session):
    r = _run(smoke_session, lambda ctx: ctx.learn.fit_one_cycle(2, 1e4), name="diverging")
    assert r.status == STATUS_DIVERGED and not r.ok
    d = r.divergence
    assert d.epoch == 1 and d.batch >= 1 and "training loss" in d.reason
    assert d.loss is None or d.loss > DIVERGENCE_FACTOR  # exploded (or not finite: None)
    assert r.error_rate is None and r.epochs == ()  # stopped in its first epoch: no second epoch trained
    assert "training diverged at epoch 1" in r.error
    validate(r.to_dict())


def test_a_sane_run_is_never_called_diverged(baseline_result):
    assert baseline_result.ok and baseline_result.divergence is None


def test_every_table_says_diverged():
    ok, bad = make_result(seed=0), make_result(seed=1, status=STATUS_DIVERGED)
    assert error_text(rows(bad)) == "DIVERGED"
    assert error_text([*rows(ok), *rows(bad)]).endswith("(1 diverged)")
    assert "DIVERGED" in summary_table([bad])
    assert "DIVERGED" in matrix_report(build_matrix([bad], "torch"), "text")


def test_a_suite_with_a_raising_and_a_diverging_recipe_keeps_every_result(cache_dir, tmp_path, smoke_session):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "faulty.py").write_text(FAULTY_PLUGIN)
    proc = bench(["--benchmark-only", "--scale", "smoke", "--plugins-dir", str(plugins), "--recipe", "raising",
                  "--recipe", "diverging", "--recipe", "baseline", "--results-dir", str(tmp_path / "results")],
                 cache_dir, check=False)
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-2000:]
    statuses = {r.recipe: r.status for r in store.load_results([tmp_path / "results"])}
    assert statuses == {"raising": "error", "diverging": "diverged", "baseline": "ok"}
    table, ranking = proc.stdout.split("= recipebench =")[1].split("\n\n")[:2]
    assert [line.split()[1] for line in table.splitlines() if line.split()[:1] in (["raising"], ["diverging"])] \
        == ["ERROR", "DIVERGED"]
    assert any(line.startswith("baseline ") for line in table.splitlines())
    failed = [line.split() for line in ranking.splitlines() if line.split()[:1] in (["raising"], ["diverging"])]
    assert [[c for c in cells if c in ("ERROR", "DIVERGED")] for cells in failed] == [["ERROR"], ["DIVERGED"]]
    assert all(set(cells[1:]) <= {"-", "ERROR", "DIVERGED"} for cells in failed)  # no numbers for them either
    assert "1 passed" in proc.stdout and "2 failed" in proc.stdout


# -- 3. nothing a user trained is ever lost ---------------------------------------------------------


def test_an_unwritable_results_dir_is_refused_before_anything_trains(tmp_path):
    """Refused before the workload is made or a body pretrained: an empty cache stays empty (a check of what
    ran, not of how long it took, which depends on the CPU)."""
    cache = tmp_path / "cache"
    proc = bench(["--benchmark-only", "--scale", "smoke", "--results-dir", "/proc/nowhere"], cache, check=False)
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert "--results-dir /proc/nowhere: cannot write result files there" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout and "passed" not in proc.stdout
    assert not cache.exists() or not any(p.is_file() for p in cache.rglob("*")), sorted(cache.rglob("*"))


def test_a_result_the_results_dir_cannot_take_goes_to_a_fallback(smoke_session, baseline_result, monkeypatch):
    def disk_full(result, directory):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store, "write_result", disk_full)
    before = len(smoke_session.results)
    saved = smoke_session.record(baseline_result)
    assert not saved.in_results_dir and "No space left on device" in saved.problem
    assert saved.path.is_relative_to(smoke_session.cache_dir / "unsaved-results")
    assert store.load_results([saved.path]) == [baseline_result]
    assert len(smoke_session.results) == before + 1  # still in the session's table


def test_result_files_are_readable_like_any_file_the_user_makes(baseline_result, tmp_path):
    old = os.umask(0o022)
    try:
        path = store.write_result(baseline_result, tmp_path)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


# -- 4. setup errors are messages, not tracebacks ---------------------------------------------------


def test_weights_that_do_not_fit_end_the_session_with_one_line(cache_dir, tmp_path, registry, smoke_session):
    import torch

    bad = tmp_path / "resnet34.pth"
    torch.save(registry.arch("resnet34").build().state_dict(), bad)
    proc = bench(["--benchmark-only", "--scale", "smoke", "--recipe", "baseline", "--weights", str(bad),
                  "--results-dir", str(tmp_path / "results")], cache_dir, check=False)
    assert proc.returncode == 4, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "Traceback" not in proc.stdout + proc.stderr
    message = [line for line in proc.stderr.splitlines() if "recipebench:" in line]
    assert len(message) == 1 and message[0].startswith("ERROR: recipebench: --weights ")
    assert str(bad) in message[0] and "do not fit resnet18" in message[0] and "--weights none" in message[0]
    assert "no tests ran" in proc.stdout  # found before anything trained


# -- 5. comparisons that cannot mislead -------------------------------------------------------------


def test_a_copy_of_one_base_document_as_new_is_within_noise_with_no_change():
    base = [make_result(seed=s, error_rate=e, wall_s=w) for s, e, w in ((0, 0.10, 20), (1, 0.15, 25), (2, 0.2, 30))]
    comparison = compare(Side("base", tuple(base)), Side("new", (base[0],)))
    (row,) = comparison.rows
    assert row.verdict.startswith("within noise")
    assert row.delta("error_rate").change == 0 and row.delta("wall").change == 0
    assert (row.n_base, row.n_new, row.left_out_base, row.left_out_new) == (1, 1, (1, 2), ())
    text = compare_report(comparison, "text")
    assert "on shared seeds (seeds 1, 2 left out: not run on new)" in text and "+0.00 pp" in text


def test_sides_without_a_shared_seed_are_compared_as_before():
    base = [make_result(seed=s, error_rate=0.1 + s / 100) for s in (0, 1, 2)]
    new = [make_result(seed=s, error_rate=0.1 + s / 100) for s in (3, 4, 5)]
    (row,) = compare(Side("base", tuple(base)), Side("new", tuple(new))).rows
    assert (row.n_base, row.n_new, row.left_out_base) == (3, 3, ())


def test_table_and_matrix_refuse_a_repeated_recipe_and_seed(tmp_path, capsys):
    for session in ("one", "two"):
        folder = tmp_path / session
        folder.mkdir()
        store.write_result(make_result(seed=0), folder)
    assert cli(["table", str(tmp_path)]) == 2
    assert "baseline seed 0 appears more than once" in capsys.readouterr().err
    assert cli(["table", str(tmp_path), "--force"]) == 0
    assert cli(["matrix", str(tmp_path), "--by", "torch"]) == 2
    with pytest.raises(CompareError, match="appears more than once"):
        build_matrix(store.load_results([tmp_path]), "torch")
    assert cli(["matrix", str(tmp_path), "--by", "torch", "--force"]) == 0


def test_cases_run_seed_major(cache_dir):
    proc = bench(["--collect-only", "-q", "--scale", "smoke", "--seeds", "2", "--recipe", "baseline",
                  "--recipe", "lr_find_tuned"], cache_dir)
    ids = [line.split("[")[1].rstrip("]") for line in proc.stdout.splitlines() if line.startswith("recipes/")]
    assert ids == ["baseline-seed0", "lr_find_tuned-seed0", "baseline-seed1", "lr_find_tuned-seed1"]
