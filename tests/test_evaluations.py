"""Evaluations other than the plain final validation (test-time augmentation): registered by plugins, asked
for with ``--evaluate NAME`` or by a recipe (``Recipe(evaluations=...)``), run by the harness on the final
weights and on each outcome's, timed apart from the training, and recorded as sub-result rows
(``baseline > tta``) that every table, the ranking, compare and the report show."""
from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import textwrap

import pytest

from recipebench.analysis.rows import rows
from recipebench.api import Evaluation, EvaluationContext, Recipe
from recipebench.record import store
from recipebench.record.results import EvaluationResult, RunResult, upgrade, validate
from recipebench.suite.options import Options, UsageError
from recipebench.train import runner
from tests.conftest import REPO, subprocess_env
from tests.fake_results import fake_epochs, make_result
from tests.test_report import run_cli as _cli

#: An outside evaluation plugin in one file: the plain validation again, through an Evaluation; its error
#: rate must then be exactly the plain one, on the run's final weights and on each outcome's.
PLAIN_AGAIN = textwrap.dedent('''
    from recipebench import Evaluation, hookimpl


    def plain(ctx):
        return ctx.learn.get_preds()


    @hookimpl
    def recipebench_add_evaluations(register):
        register(Evaluation("plain_again", plain, summary="learn.get_preds(): the plain validation again"))
''')


def _plain_again():
    return Evaluation("plain_again", lambda ctx: ctx.learn.get_preds(), summary="the plain validation again")


def test_tta_is_a_builtin_evaluation_registered_as_a_plugin_would(registry):
    entry = registry.evaluations["tta"]
    assert entry.origin == "built-in" and entry.plugin == "recipebench.plugins.tta"
    assert registry.evaluation("tta").name == "tta" and "tta(n=4, beta=0.25)" in registry.evaluation("tta").summary


def test_recipebench_list_shows_the_evaluations_and_their_plugins(capsys, tmp_path):
    (tmp_path / "plain_again.py").write_text(PLAIN_AGAIN)
    code, out, err = _cli(capsys, "list", "--plugins-dir", tmp_path)
    assert code == 0, err
    listed = out.split("evaluations (--evaluate NAME):", 1)[1].splitlines()
    assert any(x.startswith("tta ") and "learn.tta(n=4, beta=0.25)" in x and "[built-in]" in x for x in listed)
    assert any(x.startswith("plain_again ") and str(tmp_path / "plain_again.py") in x for x in listed)


def test_an_evaluation_name_must_be_an_identifier():
    with pytest.raises(ValueError, match="evaluation name 'two words' must be an identifier"):
        Evaluation("two words", lambda ctx: None, summary="s")
    with pytest.raises(ValueError, match="recipe 'r': evaluations must be names"):
        Recipe("r", lambda ctx: None, "s", evaluations=("tta", 3))
    assert Recipe("r", lambda ctx: None, "s", evaluations="tta").evaluations == ("tta",)  # one name alone


def test_an_unknown_evaluate_name_is_a_usage_error_listing_the_registered_ones(smoke_session):
    with pytest.raises(UsageError, match=r"--evaluate nope: unknown evaluation 'nope'; registered evaluations: tta"):
        smoke_session.__class__(dataclasses.replace(smoke_session.options, evaluations=("nope",)),
                                smoke_session.registry)


def test_an_unknown_evaluation_a_recipe_asks_for_is_a_usage_error_naming_the_recipe(tmp_path, smoke_session):
    (tmp_path / "wants.py").write_text(textwrap.dedent('''
        from recipebench import Recipe, hookimpl
        from recipebench.plugins.baseline import baseline

        @hookimpl
        def recipebench_add_recipes(register):
            register(Recipe("wants_nope", baseline, summary="s", evaluations=("nope",)))
    '''))
    from recipebench.suite.session import BenchSession

    with pytest.raises(UsageError, match=r"recipe 'wants_nope' asks for evaluation 'nope'; registered evaluations: "
                                         r"tta"):
        BenchSession(dataclasses.replace(smoke_session.options, plugins_dir=tmp_path, recipes=("wants_nope",)))


@pytest.fixture(scope="module")
def evaluated(smoke_session):
    """baseline seed 0 at smoke with tta and the plain validation again, train() and finish() apart."""
    plan = dataclasses.replace(smoke_session.plan("baseline", 0),
                               evaluations=(smoke_session.registry.evaluation("tta"), _plain_again()))
    run = runner.prepare(plan)
    run.train()
    wall_after_training = run.watch.elapsed_s - run.log.overhead_s
    result = run.finish()
    return result, wall_after_training


def test_tta_is_measured_on_the_final_weights_and_recorded_apart_from_the_training(evaluated):
    result, wall_after_training = evaluated
    assert result.ok, result.error
    tta, plain = result.evaluations
    assert (tta.name, tta.outcome, tta.error) == ("tta", None, None)
    assert 0 <= tta.error_rate <= 1 and tta.inference_s > 0
    # the error rate comes from the evaluation's predictions: the plain ones give the plain final error rate
    # to the last bit: equal counts must rank as equal
    assert plain.name == "plain_again" and plain.error_rate == result.error_rate
    # the training wall time is the recipe's alone: fixed when training ended, before any evaluation ran
    assert result.wall_s == wall_after_training
    assert result.config.evaluations == ("tta", "plain_again")
    # nothing of the recipe's record changes: its epochs and calls are the training's alone
    assert [e.phase for e in result.epochs] == ["frozen", "unfrozen"]
    assert [(c.method, c.args) for c in result.calls] == [("fine_tune", (1,))]
    validate(result.to_dict())
    assert RunResult.from_dict(json.loads(json.dumps(result.to_dict()))) == result


def test_an_evaluation_is_a_row_of_its_own_with_its_inference_time(evaluated):
    result, _ = evaluated
    by_label = {r.label: r for r in rows(result)}
    assert list(by_label) == ["baseline", "baseline > tta", "baseline > plain_again"]
    tta = by_label["baseline > tta"]
    assert (tta.outcome, tta.status, tta.error_rate, tta.inference_s) == (
        "tta", "ok", result.evaluations[0].error_rate, result.evaluations[0].inference_s)
    # the weights it evaluated cost the recipe's training time; it trained nothing itself
    assert tta.wall_s == result.wall_s and tta.epochs == () and tta.samples_per_s is None
    assert by_label["baseline"].inference_s is None


def test_tta_is_seeded_by_the_runs_seed(smoke_session, evaluated):
    """TTA draws random augmentations: the harness seeds it, so a seed's TTA error rate repeats."""
    result, _ = evaluated
    plan = dataclasses.replace(smoke_session.plan("baseline", 0), evaluations=(smoke_session.registry.evaluation("tta"),))
    again = runner.prepare(plan).execute()
    assert again.evaluations[0].error_rate == result.evaluations[0].error_rate


def test_each_outcome_is_evaluated_on_its_own_weights(smoke_session):
    def two_arms(ctx):
        with ctx.outcome("short"):
            ctx.learn.fit_one_cycle(1, 1e-3)
        with ctx.outcome("longer"):
            ctx.learn.fit_one_cycle(1, 1e-2)

    plan = dataclasses.replace(smoke_session.plan("baseline", 0), recipe=Recipe("two_arms", two_arms, "s"),
                               evaluations=(_plain_again(),))
    result = runner.prepare(plan).execute()
    assert result.ok, result.error
    got = {(e.outcome, e.name): e.error_rate for e in result.evaluations}
    assert got == pytest.approx({(None, "plain_again"): result.error_rate,
                                 **{(o.name, "plain_again"): o.error_rate for o in result.outcomes}}, abs=1e-6)
    labels = [r.label for r in rows(result)]
    assert labels == ["two_arms", "two_arms > plain_again", "two_arms > short", "two_arms > short > plain_again",
                      "two_arms > longer", "two_arms > longer > plain_again"]


def test_an_evaluation_that_raises_is_a_row_with_status_error_and_the_run_stays_ok(smoke_session):
    def broken(ctx):
        raise RuntimeError("no predictions today")

    plan = dataclasses.replace(smoke_session.plan("baseline", 0),
                               evaluations=(Evaluation("broken", broken, summary="raises"),))
    result = runner.prepare(plan).execute()
    assert result.ok and result.error_rate is not None
    (ev,) = result.evaluations
    assert ev.error_rate is None and "RuntimeError: no predictions today" in ev.error
    assert {r.label: r.status for r in rows(result)} == {"baseline": "ok", "baseline > broken": "error"}


def test_a_recipe_can_ask_for_an_evaluation_itself(tmp_path, smoke_session):
    (tmp_path / "declares.py").write_text(textwrap.dedent('''
        from recipebench import Recipe, hookimpl
        from recipebench.plugins.baseline import baseline

        @hookimpl
        def recipebench_add_recipes(register):
            register(Recipe("declares_tta", baseline, summary="s", evaluations=("tta",)))
    '''))
    from recipebench.suite.session import BenchSession

    session = BenchSession(dataclasses.replace(smoke_session.options, plugins_dir=tmp_path, recipes=("declares_tta",),
                                               evaluations=("tta",)))  # asked twice: run once
    assert [e.name for e in session.plan("declares_tta", 0).evaluations] == ["tta"]
    assert smoke_session.plan("baseline", 0).evaluations == ()  # the default suite asks for none


def test_the_evaluations_asked_for_are_part_of_a_cases_identity(smoke_session, evaluated):
    """--resume with --evaluate tta does not take a result that has no tta rows."""
    from recipebench.suite.identity import CaseIdentity

    result, _ = evaluated
    asked = dataclasses.replace(smoke_session.plan("baseline", 0),
                                evaluations=(smoke_session.registry.evaluation("tta"), _plain_again()))
    assert CaseIdentity.from_result(result) == CaseIdentity.from_plan(asked, "local", 1)
    assert CaseIdentity.from_result(result) != CaseIdentity.from_plan(smoke_session.plan("baseline", 0), "local", 1)


def test_a_document_of_schema_7_reads_as_evaluated_by_nothing():
    doc = make_result().to_dict()
    doc["schema_version"] = 7
    del doc["evaluations"]
    del doc["config"]["evaluations"]
    new = upgrade(doc)
    validate(new)
    result = RunResult.from_dict(new)
    assert result.evaluations == () and result.config.evaluations == ()


# -- every table, the ranking, compare and the report show evaluation rows, from saved documents alone --

def _tta(error_rate, inference_s=3.0, outcome=None):
    return EvaluationResult("tta", outcome, error_rate, inference_s)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """Two made-up sessions of baseline x 3 seeds with TTA rows (the second with a lower TTA error)."""
    folders = []
    for k, shift in enumerate((0.0, -0.05)):
        folder = tmp_path_factory.mktemp(f"evaluated{k}") / f"session{k}"
        for seed in range(3):
            j = (0.0, 0.01, -0.01)[seed]
            result = make_result("baseline", seed, error_rate=0.30 + j, wall_s=20.0 + seed,
                                 epochs=fake_epochs([0.4, 0.30 + j]),
                                 evaluations=(_tta(0.25 + j + shift, inference_s=3.0 + seed),))
            result = dataclasses.replace(result, config=dataclasses.replace(result.config, evaluations=("tta",)))
            store.write_result(result, folder)
        folders.append(folder)
    return folders



@pytest.mark.parametrize("fmt, label, cells", [
    ("text", "baseline > tta", ["0.2500 ± 0.0100 (n=3)", "21.0 [20.0-22.0]", "4.00 [3.00-5.00]"]),
    ("markdown", "baseline \\> tta", ["0.2500 ± 0.0100 (n=3)", "21.0 \\[20.0-22.0\\]", "4.00 \\[3.00-5.00\\]"]),
    ("csv", "baseline > tta", ["21.0,20.0,22.0,4.0,3.0,5.0"]),  # wall_s, then inference_s median, min, max
])
def test_table_shows_the_tta_row_with_its_inference_time(capsys, saved, fmt, label, cells):
    code, out, err = _cli(capsys, "table", saved[0], "--format", fmt)
    assert code == 0, err
    header, *lines = out.splitlines()
    assert ("inference_s_median" if fmt == "csv" else "inference s") in header
    (row,) = [x for x in lines if x.lstrip("| ").startswith(label + ("," if fmt == "csv" else " "))][:1]
    assert all(cell in row for cell in cells), row


def test_the_ranking_compares_the_tta_row_with_the_baseline(capsys, saved):
    code, out, err = _cli(capsys, "table", saved[0])
    assert code == 0, err
    ranking = out.split("\n\n")[1]  # the table, then the ranking against baseline
    (row,) = [x for x in ranking.splitlines() if x.startswith("baseline > tta ")]
    assert "-5.00 pp" in row and "×1.00" in row  # TTA's gain; it costs no training time
    assert "RECIPE > tta rows: evaluated by the harness after the recipe" in out


def test_compare_shows_the_tta_row(capsys, saved):
    code, out, err = _cli(capsys, "compare", saved[0], saved[1])
    assert code == 0, err
    (row,) = [x for x in out.splitlines() if x.startswith("| baseline \\> tta ")]
    assert "0.2500 ± 0.0100 → 0.2000 ± 0.0100" in row and "-5.00 pp" in row


def test_report_shows_the_tta_row(capsys, saved, tmp_path):
    code, out, err = _cli(capsys, "report", saved[0], "--out", tmp_path / "report")
    assert code == 0, err
    md = (tmp_path / "report" / "report.md").read_text()
    assert any(x.startswith("| recipe ") and "| inference s " in x for x in md.splitlines())
    assert any(x.startswith("| baseline \\> tta ") and "4.00 \\[3.00-5.00\\]" in x for x in md.splitlines())


def test_the_chapter_table_has_no_inference_column_when_nothing_was_evaluated(capsys, tmp_path):
    folder = tmp_path / "plain"
    store.write_result(make_result("baseline", 0, epochs=fake_epochs([0.4, 0.3])), folder)
    code, out, err = _cli(capsys, "table", folder)
    assert code == 0, err
    assert "inference" not in out


# -- a session as a user runs it --

def test_a_smoke_session_with_evaluate_has_tta_rows_and_an_outside_evaluation(cache_dir, tmp_path, smoke_session):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "plain_again.py").write_text(PLAIN_AGAIN)
    out = tmp_path / "results"
    proc = subprocess.run([sys.executable, "-m", "pytest", "recipes/", "-p", "no:cacheprovider", "--benchmark-only",
                           "--scale", "smoke", "--recipe", "baseline", "--evaluate", "tta", "--evaluate", "plain_again",
                           "--plugins-dir", str(plugins), "--results-dir", str(out)],
                          cwd=REPO, capture_output=True, text=True, env=subprocess_env(cache_dir), timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "baseline > tta " in proc.stdout and "baseline > plain_again " in proc.stdout
    (result,) = store.load_results([out])
    assert [(e.name, e.error) for e in result.evaluations] == [("tta", None), ("plain_again", None)]
    assert result.evaluations[1].error_rate == pytest.approx(result.error_rate, abs=1e-6)
    assert all(e.inference_s > 0 for e in result.evaluations)
    summary = next(out.iterdir()) / "summary.md"
    assert "baseline \\> tta" in summary.read_text()


def test_an_unknown_evaluate_is_a_usage_error_of_the_suite(cache_dir):
    proc = subprocess.run([sys.executable, "-m", "pytest", "recipes/", "-p", "no:cacheprovider", "--benchmark-only",
                           "--evaluate", "nope"], cwd=REPO, capture_output=True, text=True,
                          env=subprocess_env(cache_dir), timeout=600)
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert "--evaluate nope: unknown evaluation 'nope'; registered evaluations: tta" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_evaluation_context_is_what_an_evaluation_receives():
    ctx = EvaluationContext(learn="L", scale="S")
    with pytest.raises(dataclasses.FrozenInstanceError):
        ctx.learn = "other"


def test_the_docs_evaluation_plugin_registers_as_written(tmp_path):
    """docs/next-chapter.md's evaluation plugin, copied into a file, registers from --plugins-dir."""
    from recipebench.registry import load_registry
    from recipebench.train.dryrun import DryRunLearner
    from recipebench.train.measure import RunLog
    from recipebench.plugins.synthetic import SCALES

    page = (REPO / "docs" / "next-chapter.md").read_text()
    block = page.split("```python\n# my_evaluations.py\n", 1)[1].split("```", 1)[0]
    (tmp_path / "my_evaluations.py").write_text(block)
    entry = load_registry(tmp_path).evaluations["tta8"]
    assert entry.origin == str(tmp_path / "my_evaluations.py")
    learn = DryRunLearner(RunLog("cpu"))
    entry.item.predict(EvaluationContext(learn, SCALES["smoke"]))
    assert learn.calls == [("tta", (), {"n": 8, "beta": 0.25})]


def test_an_evaluation_row_is_not_judged_by_a_metric_it_did_not_measure():
    """An evaluation records error_rate alone: compared by another metric (``--metric valid_loss``), its row
    says that metric is missing instead of "within noise"; the run's own rows are judged by it."""
    from recipebench.analysis import compare
    from recipebench.record.results import METRICS_BEFORE_8

    def side(name, shift):
        return compare.Side(name, [make_result("baseline", seed, error_rate=0.30, metrics=METRICS_BEFORE_8,
                                               final_metrics={"error_rate": 0.30, "valid_loss": 1.0 + shift + seed / 10},
                                               evaluations=(_tta(0.25 + seed / 100),))
                                   for seed in range(3)])

    rows = {r.label: r for r in compare.compare(side("base", 0.0), side("new", 0.01),
                                                compare.Settings(metric="valid_loss")).rows}
    assert rows["baseline > tta"].verdict.startswith("no valid_loss to judge"), rows["baseline > tta"].verdict
    assert rows["baseline"].unmeasured is None and not rows["baseline"].verdict.startswith("no ")


def test_an_evaluations_error_rate_is_the_exact_count_results_store():
    """7 of 100 wrong is 7/100 exactly, as a count metric's final value is stored (1 - 93/100 is not)."""
    import torch

    targets = torch.zeros(100, dtype=torch.long)
    preds = torch.zeros(100, 2)
    preds[:7, 1] = 1.0
    assert runner._error_rate(preds, targets) == 7 / 100
