"""Metrics are plugins: one registered in one file is recorded by every run and shown by every table."""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from recipebench import Metric, MetricSpec, hookimpl
from recipebench.record import results as results_mod
from recipebench.record import store
from recipebench.registry import DuplicateNameError, UnknownNameError, build_registry, get_plugin_manager
from recipebench.render import session_table
from tests.conftest import REPO
from tests.fake_results import fake_epochs, make_result
from tests.test_report import run_cli

PLUGINS = REPO / "tests" / "data" / "plugins"
EXAMPLE = PLUGINS / "macro_f1.py"



# --- the plugin API ------------------------------------------------------------------------------------------


def test_the_built_in_metrics_are_registered_by_a_plugin_error_rate_first(registry):
    assert list(registry.metrics)[:3] == ["error_rate", "valid_loss", "top_5_error"]
    assert {r.plugin for name, r in registry.metrics.items() if name in ("error_rate", "top_5_error")} \
        == {"recipebench.plugins.metrics"}
    error_rate, valid_loss, top5 = (registry.metric(n) for n in ("error_rate", "valid_loss", "top_5_error"))
    assert (error_rate.better, error_rate.counts, error_rate.unit) == ("lower", True, "pp")
    assert (valid_loss.compute, valid_loss.counts) == (None, False)
    assert top5.counts and top5.better == "lower"
    with pytest.raises(UnknownNameError, match=r"unknown metric 'nope'; registered metrics: error_rate, valid_loss"):
        registry.metric("nope")


def test_a_metric_name_registered_twice_names_both_plugins():
    class Again:
        @hookimpl
        def recipebench_add_metrics(self, register):
            register(Metric("error_rate", "again", compute=lambda inp, targ: 0.0))

    pm = get_plugin_manager()
    pm.register(Again(), name="again")
    with pytest.raises(DuplicateNameError, match="metric 'error_rate' is registered twice: by plugin "
                                                 "'recipebench.plugins.metrics'.*and by plugin 'again'"):
        build_registry(pm)


def test_a_metric_says_what_is_wrong_with_it():
    with pytest.raises(ValueError, match="metric 'f1': better must be 'lower' or 'higher', got 'up'"):
        Metric("f1", "x", better="up", compute=lambda: None)
    with pytest.raises(ValueError, match="metric 'f1': unit must be 'pp' or '%'"):
        Metric("f1", "x", unit="points", compute=lambda: None)
    with pytest.raises(ValueError, match="metric 'f 1': name must be an identifier"):
        Metric("f 1", "x", compute=lambda: None)
    with pytest.raises(ValueError, match="metric 'f1': compute must be a fastai metric function"):
        Metric("f1", "x", compute=3)
    spec = Metric("macro_f1", "x", better="higher", compute=lambda: None).spec
    assert type(spec) is MetricSpec and spec.header == "macro_f1" and spec.min_effect == 0.5


def test_top_5_error_is_one_minus_top_5_accuracy_and_zero_by_construction_with_five_classes_or_fewer(registry):
    import torch

    top5 = registry.metric("top_5_error").compute
    targ = torch.tensor([0, 1, 2])
    six = torch.tensor([[0.0, 1, 2, 3, 4, 5], [9, 8, 7, 6, 5, 4], [0, 0, 9, 0, 0, 0]])  # 0 is last of six: a miss
    assert float(top5(six, targ)) == pytest.approx(1 / 3)
    assert float(top5(six[:, :4], targ)) == 0.0  # four classes: every class is in the top 5


# --- the record ------------------------------------------------------------------------------------------------


def _as_schema_7(doc: dict) -> dict:
    """A current document as schema 7 wrote it: error_rate the one metric, no metric values of its own."""
    strip = lambda e: {k: v for k, v in e.items() if k != "metrics"}  # noqa: E731
    out = {k: v for k, v in doc.items() if k not in ("metrics", "final_metrics")}
    out["epochs"] = [strip(e) for e in doc["epochs"]]
    out["outcomes"] = [{**{k: v for k, v in o.items() if k != "final_metrics"},
                        "epochs": [strip(e) for e in o["epochs"]]} for o in doc["outcomes"]]
    return {**out, "schema_version": 7}


def test_a_schema_7_document_upgrades_with_error_rate_as_its_metric_and_valid_loss_per_epoch():
    result = make_result(epochs=fake_epochs([0.3, 0.2]), outcomes=[("keep_best", 0.25, 9.0)])
    old = _as_schema_7(result.to_dict())
    assert results_mod.SCHEMA_VERSION == 9
    doc = results_mod.upgrade(old)
    results_mod.validate(doc)
    got = results_mod.RunResult.from_dict(doc)
    assert [m.name for m in got.metrics] == ["error_rate", "valid_loss"]
    assert got.metrics[0].counts and not got.metrics[1].counts
    assert dict(got.final_metrics) == {"error_rate": 0.1, "valid_loss": None}  # no final valid_loss before 8
    assert [dict(e.metrics) for e in got.epochs] == [{"error_rate": 0.3, "valid_loss": 1.5},
                                                     {"error_rate": 0.2, "valid_loss": pytest.approx(1.4)}]
    assert dict(got.outcomes[0].final_metrics) == {"error_rate": 0.25, "valid_loss": None}


def test_a_metric_no_run_has_a_final_value_of_is_no_column_of_dashes(tmp_path, capsys):
    """Schema 7 documents recorded valid_loss per epoch but not at the end: the session table and the ranking
    show no valid_loss column of dashes for them (a current result's valid_loss is a column)."""
    old = [results_mod.RunResult.from_dict(results_mod.upgrade(_as_schema_7(make_result(recipe, seed=s).to_dict())))
           for recipe in ("baseline", "other") for s in (0, 1)]
    assert "valid_loss" not in session_table.session_report(old, fmt="text")
    new = [dataclasses.replace(r, final_metrics={**r.final_metrics, "valid_loss": 0.5 + r.seed}) for r in old]
    assert "valid_loss" in session_table.session_report(new, fmt="text")


def test_every_result_records_every_registered_metric_and_error_rates_are_unchanged(baseline_result, registry):
    r = baseline_result
    assert [m.name for m in r.metrics] == list(registry.metrics)
    assert set(r.final_metrics) == set(registry.metrics)
    assert all(set(e.metrics) == set(registry.metrics) for e in r.epochs)
    assert r.final_metrics["error_rate"] * r.n_valid == pytest.approx(r.error_rate * r.n_valid)
    assert [e.metrics["error_rate"] for e in r.epochs] == [e.error_rate for e in r.epochs]
    assert [e.metrics["valid_loss"] for e in r.epochs] == [e.valid_loss for e in r.epochs]
    assert r.final_metrics["valid_loss"] is not None and r.final_metrics["top_5_error"] is not None
    results_mod.validate(r.to_dict())


def test_the_learner_gets_every_registered_metric_error_rate_first(smoke_session, registry):
    run = smoke_session.prepare("baseline", 0)
    try:
        assert [m.name for m in run.learn.metrics] == [n for n, r in registry.metrics.items()
                                                        if r.item.compute is not None]
        assert run.learn.metrics[0].name == "error_rate"
    finally:
        run.close()


# --- a metric plugin in one file -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def f1_results(smoke_session, cache_dir, tmp_path_factory) -> Path:
    """Two recipes (one with sub-results) trained at smoke scale with the docs' macro F1 plugin loaded by
    --plugins-dir, saved as one session folder."""
    from recipebench.suite.session import BenchSession

    session = BenchSession(dataclasses.replace(smoke_session.options, plugins_dir=PLUGINS,
                                               results_dir=tmp_path_factory.mktemp("f1-results")))
    folder = tmp_path_factory.mktemp("f1") / "session"
    for recipe in ("baseline", "early_stopping_contrast"):
        store.write_result(session.prepare(recipe, 0).execute(), folder)
    return folder


def test_a_metric_plugin_in_one_file_is_in_every_table_compare_csv_and_report(f1_results, tmp_path, capsys):
    results = store.load_results([f1_results])
    assert all("macro_f1" in r.final_metrics and 0 <= r.final_metrics["macro_f1"] <= 1 for r in results)
    assert all(o.final_metrics["macro_f1"] is not None for r in results for o in r.outcomes)
    assert all(e.metrics["macro_f1"] is not None for r in results for e in r.epochs)
    text = session_table.session_report(results)
    table, ranking = text.split("\n\n")[:2]
    assert "macro_f1" in table.splitlines()[0] and "Δ macro_f1" not in table
    assert "macro_f1" in ranking.splitlines()[0]
    csv = session_table.session_report(results, fmt="csv")
    assert {"macro_f1_mean", "macro_f1_std"} <= set(csv.splitlines()[0].split(","))
    # compare and report read the metric from the results: the plugin is not loaded there.
    code, out, err = run_cli(capsys, "compare", f1_results, f1_results, "--format", "text", "--force")
    assert code == 0, err
    assert "Δ macro_f1" in out.splitlines()[0]
    code, out, err = run_cli(capsys, "compare", f1_results, f1_results, "--format", "csv", "--force")
    assert "macro_f1_change_pp" in out.splitlines()[0]
    code, out, err = run_cli(capsys, "compare", f1_results, f1_results, "--fail-on", "macro_f1:-1pp", "--force")
    assert code == 0, err
    code, out, err = run_cli(capsys, "report", f1_results, "--out", tmp_path / "report")
    assert code == 0, err
    md = (tmp_path / "report" / "report.md").read_text()
    assert "macro\\_f1" in md


def test_metric_chooses_the_ranking_column_and_an_unknown_one_is_a_usage_error(f1_results, capsys, tmp_path):
    code, out, err = run_cli(capsys, "table", f1_results, "--metric", "top_5_error")
    assert code == 0, err
    ranking_header = out.split("\n\n")[1].splitlines()[0].split("  ")
    columns = [c.strip() for c in ranking_header if c.strip()]
    assert columns[:5] == ["recipe", "rank", "top_5_error", "Δ top_5_error", "Δ error_rate"]  # the chosen first
    assert "rank: by mean final top_5_error" in out
    code, out, err = run_cli(capsys, "table", f1_results, "--metric", "macro_f1")
    assert code == 0 and "rank: by mean final macro_f1 (1 = highest)" in out
    code, out, err = run_cli(capsys, "table", f1_results, "--metric", "nope")
    assert code == 2 and re.search(r"--metric nope: .*choose one of error_rate, valid_loss, top_5_error, macro_f1", err)
    code, out, err = run_cli(capsys, "report", f1_results, "--metric", "macro_f1", "--out", tmp_path / "report")
    assert code == 0, err
    md = (tmp_path / "report" / "report.md").read_text()
    assert "## macro\\_f1 per epoch" in md and "## macro\\_f1 against wall time" in md  # the charts follow it
    code, out, err = run_cli(capsys, "compare", f1_results, f1_results, "--metric", "macro_f1", "--force",
                             "--format", "text")
    assert code == 0 and "Δ: new against base. macro_f1: mean ± std over seeds" in out


def test_an_unknown_metric_option_of_the_suite_is_a_usage_error_naming_the_registered_ones(smoke_session):
    from recipebench.suite.options import UsageError
    from recipebench.suite.session import BenchSession

    with pytest.raises(UsageError, match="--metric nope: not a registered metric; choose one of error_rate, "
                                         "valid_loss, top_5_error"):
        BenchSession(dataclasses.replace(smoke_session.options, metric="nope"), registry=smoke_session.registry)


# --- the docs ----------------------------------------------------------------------------------------------


def test_the_docs_show_the_plugin_file_the_tests_load():
    page = (REPO / "docs" / "plugins-metrics.md").read_text()
    assert EXAMPLE.read_text().strip() in page
    assert "--metric" in page


def test_a_metric_recorded_without_values_is_a_usage_error_of_the_commands(capsys):
    """results/baseline is schema 7: it recorded valid_loss per epoch but no final value, so ``--metric
    valid_loss`` there is a one-line usage error naming the metrics it has, not a traceback."""
    code, out, err = run_cli(capsys, "table", REPO / "results" / "baseline", "--metric", "valid_loss")
    assert code == 2 and "--metric valid_loss" in err and "error_rate" in err and "Traceback" not in err, err


def test_a_case_measured_by_other_metrics_is_another_case_for_resume():
    """A metric plugin added since makes a finished case new: --resume trains it again, measured by all."""
    from recipebench.suite.identity import CaseIdentity

    result = make_result()
    more = dataclasses.replace(result, metrics=(*result.metrics, MetricSpec("macro_f1", "f1", better="higher")))
    assert CaseIdentity.from_result(result).metrics == ("error_rate",)
    assert CaseIdentity.from_result(result) != CaseIdentity.from_result(more)
