"""The tracker outputs round-trip: results exported to MLflow and TensorBoard and read back with their own
readers (MlflowClient, tensorboard's event accumulator); exporting never changes the results folder, twice adds
nothing, and a missing extra is named. Made-up results (tests/fake_results.py): nothing trains but the one session."""
from __future__ import annotations

import dataclasses
import hashlib
import os
import statistics
import sys
from pathlib import Path

import pytest

from recipebench.commands import main as cli
from recipebench.record import store
from tests.fake_results import fake_epochs, make_result
from tests.test_bench import bench

ERRORS = {0: 0.2, 1: 0.25, 2: 0.3}


@pytest.fixture(autouse=True)
def no_telemetry(monkeypatch):
    """MLflow 3 reports its use unless told not to: tests reach no network (subprocesses inherit it too)."""
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")


def results_folder(root: Path) -> Path:
    """A session folder: baseline over three seeds (two epochs, four batches each), a recipe with a sub-result,
    and a seed that failed."""
    folder = root / "results" / "test"
    for seed, err in ERRORS.items():
        store.write_result(make_result("baseline", seed, err, epochs=fake_epochs([0.4, err]), best_epoch=2), folder)
    store.write_result(make_result("contrast", 0, 0.22, outcomes=(("keep_best", 0.21, 12.0),),
                                   epochs=fake_epochs([0.3, 0.22])), folder)
    store.write_result(make_result("contrast", 1, status="error"), folder)
    return folder


def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def mlflow_client(monkeypatch):
    pytest.importorskip("mlflow")
    from mlflow import MlflowClient

    def client(store_dir: Path):
        monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # reading mlflow-skinny's folder store
        return MlflowClient(tracking_uri=store_dir.resolve().as_uri())
    return client


def runs_of(client):
    (experiment,) = [e for e in client.search_experiments() if e.name == "recipebench"]
    return client.search_runs([experiment.experiment_id], max_results=1000)


def test_mlflow_round_trip(tmp_path, mlflow_client, capsys):
    folder = results_folder(tmp_path)
    before = digest(folder)
    assert "MLFLOW_ALLOW_FILE_STORE" not in os.environ
    assert cli(["export", "mlflow", str(folder)]) == 0
    assert "MLFLOW_ALLOW_FILE_STORE" not in os.environ  # set for the export only
    out, err = capsys.readouterr()
    store_dir = tmp_path / "results" / "mlruns"  # beside the session folder given
    assert out.strip() == store_dir.resolve().as_uri() and "mlflow: 6 seed run(s) added" in err
    assert digest(folder) == before
    loaded = store.scan_results([tmp_path / "results"])  # the store beside the session folder is no result
    assert len(loaded.results) == 5 and loaded.skipped == ()

    client = mlflow_client(store_dir)
    runs = runs_of(client)
    parents = {r.data.tags["label"]: r for r in runs if "recipebench.group" in r.data.tags}
    seeds = [r for r in runs if "recipebench.run_id" in r.data.tags]
    assert set(parents) == {"baseline", "contrast", "contrast > keep_best"} and len(seeds) == 6
    baseline = parents["baseline"]
    children = [r for r in seeds if r.data.tags["mlflow.parentRunId"] == baseline.info.run_id]
    assert sorted(r.data.params["seed"] for r in children) == ["0", "1", "2"]
    assert baseline.data.metrics["error_rate.mean"] == pytest.approx(statistics.fmean(ERRORS.values()))
    assert baseline.data.metrics["error_rate.sd"] == pytest.approx(statistics.stdev(ERRORS.values()))
    assert baseline.data.metrics["seeds"] == 3 and baseline.data.params["config.arch"] == "resnet18"
    assert {a.path for a in client.list_artifacts(baseline.info.run_id)} == {"summary.md", "epochs.png"}

    (seed1,) = [r for r in children if r.data.params["seed"] == "1"]
    assert seed1.data.tags["recipebench.run_id"] == "test/baseline-seed1" and seed1.info.status == "FINISHED"
    assert seed1.data.metrics["error_rate"] == 0.25 and seed1.data.metrics["wall_s"] == 20.0
    assert seed1.data.metrics["peak_memory_bytes"] == 1_200_000_000 and "samples_per_s" in seed1.data.metrics
    assert seed1.data.tags["version.torch"] == "2.14.1" and seed1.data.tags["git_commit"] == "0" * 40
    assert seed1.data.tags["device"] == "cpu" and seed1.data.tags["session_id"] == "test"
    history = client.get_metric_history(seed1.info.run_id, "epoch.error_rate")
    assert [(m.step, m.value) for m in history] == [(1, 0.4), (2, 0.25)]
    clock = {m.step: m.value for m in client.get_metric_history(seed1.info.run_id, "epoch.elapsed_s")}
    assert clock == {1: 10.0, 2: 20.0} and history[1].timestamp - history[0].timestamp == 10_000  # the epoch clock
    assert len(client.get_metric_history(seed1.info.run_id, "batch.train_loss")) == 8
    (failed,) = [r for r in seeds if r.data.tags["recipebench.run_id"] == "test/contrast-seed1"]
    assert failed.info.status == "FAILED" and parents["contrast"].data.metrics["seeds_failed"] == 1
    (keep_best,) = [r for r in seeds if r.data.tags["recipebench.run_id"] == "test/contrast-seed0/keep_best"]
    assert keep_best.data.metrics["error_rate"] == 0.21

    assert cli(["export", "mlflow", str(folder)]) == 0  # twice: nothing new
    assert "(every result was there already)" in capsys.readouterr().err
    assert len(runs_of(client)) == len(runs)

    again = dataclasses.replace(make_result("baseline", 0, 0.18, epochs=fake_epochs([0.4, 0.18])),
                                created_utc="2026-01-02T00:00:00Z")
    store.write_result(again, folder)  # the case trained again (--resume): its earlier document is in attempts/
    assert cli(["export", "mlflow", str(folder)]) == 0
    latest = runs_of(client)
    assert len(latest) == len(runs) + 1
    marked = [r for r in latest if r.data.tags.get("recipebench.superseded")]
    assert [r.data.metrics["error_rate"] for r in marked] == [0.2]
    (baseline,) = [r for r in latest if r.data.tags.get("recipebench.group") == "test/baseline"]
    assert baseline.data.metrics["error_rate.mean"] == pytest.approx(statistics.fmean([0.18, 0.25, 0.3]))

    store.write_result(make_result("baseline", 3, 0.4, epochs=fake_epochs([0.5, 0.4])), folder)
    before = digest(folder)
    assert cli(["export", "mlflow", str(folder / "baseline-seed3.json")]) == 0  # one file, exported later
    assert digest(folder) == before  # the store is beside the file's folder, not in it
    (baseline,) = [r for r in runs_of(client) if r.data.tags.get("recipebench.group") == "test/baseline"]
    assert baseline.data.metrics["seeds"] == 4  # the mean is over every seed of the parent, not the file's one
    assert baseline.data.metrics["error_rate.mean"] == pytest.approx(statistics.fmean([0.18, 0.25, 0.3, 0.4]))


def test_mlflow_experiment_and_tracking_uri_are_flags(tmp_path, mlflow_client):
    folder = results_folder(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    assert cli(["export", "mlflow", str(folder), "--tracking-uri", elsewhere.as_uri(), "--experiment", "mine"]) == 0
    assert "mine" in [e.name for e in mlflow_client(elsewhere).search_experiments()]
    assert not (tmp_path / "results" / "mlruns").exists()


def hparams_tab(logdir: Path):
    """The experiment TensorBoard's HParams tab shows for ``logdir``: its columns (hparams) and metrics."""
    from tensorboard import context
    from tensorboard.backend.event_processing import data_provider, plugin_event_multiplexer
    from tensorboard.plugins import base_plugin
    from tensorboard.plugins.hparams import api_pb2, backend_context, get_experiment

    events = plugin_event_multiplexer.EventMultiplexer()
    events.AddRunsFromDirectory(str(logdir))
    events.Reload()
    tb = base_plugin.TBContext(data_provider=data_provider.MultiplexerDataProvider(events, str(logdir)),
                               logdir=str(logdir))
    return get_experiment.Handler(context.RequestContext(), backend_context.Context(tb), "",
                                  api_pb2.GetExperimentRequest()).run()


def test_tensorboard_round_trip(tmp_path, capsys):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    folder = results_folder(tmp_path.joinpath("top"))
    before = digest(folder.parent)
    assert cli(["export", "tensorboard", str(folder.parent)]) == 0  # the results folder above the session's
    logdir = tmp_path / "top" / "tensorboard"
    assert capsys.readouterr().out.strip() == str(logdir)
    assert digest(folder.parent) == before
    names = sorted(p.name for p in (logdir / "test").iterdir())
    assert names == ["baseline-seed0", "baseline-seed1", "baseline-seed2", "contrast--keep_best-seed0",
                     "contrast-seed0", "contrast-seed1"]

    run = EventAccumulator(str(logdir / "test" / "baseline-seed1"))
    run.Reload()
    assert [(e.step, e.value) for e in run.Scalars("epoch/error_rate")] == [(1, pytest.approx(0.4)),
                                                                            (2, pytest.approx(0.25))]
    walls = [e.wall_time for e in run.Scalars("epoch/error_rate")]
    assert walls[1] - walls[0] == pytest.approx(10.0)  # the epoch clock
    assert len(run.Scalars("batch/train_loss")) == 8
    assert run.Scalars("final/error_rate")[0].value == pytest.approx(0.25)
    assert run.Scalars("final/wall_s")[0].value == pytest.approx(20.0)
    content = run.PluginTagToContent("hparams")
    start = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"]).session_start_info
    assert start.hparams["label"].string_value == "baseline" and start.hparams["seed"].number_value == 1
    assert start.hparams["config.arch"].string_value == "resnet18"
    assert "_hparams_/session_end_info" in content
    # no per-run experiment summary: TensorBoard takes the first it finds as every run's, and builds the
    # HParams tab from all runs' hparams and scalars when there is none
    assert "_hparams_/experiment" not in content
    experiment = hparams_tab(logdir)
    assert {"label", "recipe", "seed", "config.arch"} <= {h.name for h in experiment.hparam_infos}
    assert {"final/error_rate", "final/wall_s", "epoch/error_rate"} <= {m.name.tag for m in experiment.metric_infos}

    files = sorted(str(p.relative_to(logdir)) for p in logdir.rglob("*"))
    assert cli(["export", "tensorboard", str(folder.parent)]) == 0  # twice: no new event files
    assert sorted(str(p.relative_to(logdir)) for p in logdir.rglob("*")) == files
    assert "(every result was there already)" in capsys.readouterr().err


def test_a_missing_extra_is_named(tmp_path, monkeypatch, capsys):
    folder = results_folder(tmp_path)
    for module, extra in (("mlflow", "mlflow"), ("tensorboard", "tensorboard")):
        monkeypatch.setitem(sys.modules, module, None)  # hidden, as if not installed
        assert cli(["export", extra, str(folder)]) == 2
        err = capsys.readouterr().err
        assert f"recipebench export: error: output '{extra}' needs the Python module '{module}', which is not " \
               f"installed: pip install 'recipebench[{extra}]'" in err
    assert not (tmp_path / "results" / "mlruns").exists() and not (tmp_path / "results" / "tensorboard").exists()


def test_export_names_an_unknown_output_and_a_file_output_writes_outside_the_results(tmp_path, capsys, monkeypatch):
    folder = results_folder(tmp_path)
    assert cli(["export", "mlfow", str(folder)]) == 2
    assert "unknown output 'mlfow'; registered outputs: summary.md, epochs.png" in capsys.readouterr().err
    before = digest(folder)
    monkeypatch.chdir(tmp_path)
    assert cli(["export", "summary.csv", str(folder)]) == 0
    assert (tmp_path / "summary.csv").read_text().startswith("label,runs,") and digest(folder) == before


def test_a_session_exports_to_both_trackers_as_it_ends(tmp_path, cache_dir, mlflow_client):
    pytest.importorskip("tensorboard")
    out = tmp_path / "results"
    proc = bench(["--benchmark-only", "--scale", "smoke", "--recipe", "baseline", "--results-dir", str(out),
                  "--output", "mlflow", "--output", "tensorboard"], cache_dir)
    (folder,) = [p for p in out.iterdir() if p.name not in ("mlruns", "tensorboard")]  # beside the session folder
    session_id = folder.name
    (seed0,) = [r for r in runs_of(mlflow_client(out / "mlruns")) if "recipebench.run_id" in r.data.tags]
    assert seed0.data.tags["recipebench.run_id"] == f"{session_id}/baseline-seed0"
    assert (out / "tensorboard" / session_id / "baseline-seed0" / "recipebench-run.txt").is_file()
    assert f"results: {folder} (1 runs, summary.md, epochs.png, {(out / 'mlruns').resolve().as_uri()}, " \
           f"{out / 'tensorboard'})" in proc.stdout
    assert cli(["export", "mlflow", str(folder)]) == 0  # where the session put it: nothing new
    assert len(runs_of(mlflow_client(out / "mlruns"))) == 2


CLASHING_PLUGIN = '''
from recipebench import Output, hookimpl


@hookimpl
def recipebench_add_outputs(register):
    register(Output("clash", "an option named like export's own flag", lambda session: [], options={"out_dir": "x"}))
'''


def test_an_output_option_named_like_an_export_flag_is_the_plugins_fault(tmp_path, capsys):
    folder = results_folder(tmp_path)
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "clash.py").write_text(CLASHING_PLUGIN)
    assert cli(["export", "clash", str(folder), "--plugins-dir", str(tmp_path / "plugins")]) == 2
    assert "output 'clash': its option 'out_dir' is also a flag of recipebench export itself (--out-dir); the " \
           "plugin must rename it" in capsys.readouterr().err


def test_mlflow_an_older_attempt_exported_later_is_the_superseded_one(tmp_path, mlflow_client):
    first = make_result("baseline", 0, 0.3, epochs=fake_epochs([0.4, 0.3]))
    later = dataclasses.replace(make_result("baseline", 0, 0.2, epochs=fake_epochs([0.4, 0.2])),
                                created_utc="2026-01-02T00:00:00Z")
    store.write_result(later, tmp_path / "results" / "test")
    store.write_result(first, tmp_path / "older" / "test")
    store_uri = (tmp_path / "mlruns").as_uri()
    for folder in (tmp_path / "results" / "test", tmp_path / "older" / "test"):
        assert cli(["export", "mlflow", str(folder), "--tracking-uri", store_uri]) == 0
    runs = runs_of(mlflow_client(tmp_path / "mlruns"))
    seeds = {r.data.metrics["error_rate"]: r for r in runs if "recipebench.run_id" in r.data.tags}
    assert seeds[0.3].data.tags["recipebench.superseded"] == "2026-01-02T00:00:00Z"
    assert "recipebench.superseded" not in seeds[0.2].data.tags
    (parent,) = [r for r in runs if "recipebench.group" in r.data.tags]
    assert parent.data.metrics["error_rate.mean"] == 0.2 and parent.data.metrics["seeds"] == 1


def test_mlflow_a_parent_holds_the_table_of_its_own_session(tmp_path, mlflow_client):
    store.write_result(make_result("baseline", 0, 0.2, session_id="s1", run_id="s1/baseline-seed0"),
                       tmp_path / "results" / "s1")
    store.write_result(make_result("other", 0, 0.3, session_id="s2", run_id="s2/other-seed0"),
                       tmp_path / "results" / "s2")
    assert cli(["export", "mlflow", str(tmp_path / "results")]) == 0  # a folder of two sessions
    client = mlflow_client(tmp_path / "mlruns")
    (s1,) = [r for r in runs_of(client) if r.data.tags.get("recipebench.group") == "s1/baseline"]
    table = Path(client.download_artifacts(s1.info.run_id, "summary.md", str(tmp_path))).read_text()
    assert "| baseline " in table and "| other " not in table


def test_a_session_that_asks_for_no_tracker_never_imports_one():
    import subprocess

    from tests.conftest import REPO

    code = ("import sys; from recipebench.registry import load_registry; from recipebench.suite import outputs; "
            "outputs.choose(load_registry()); print(sorted(m for m in ('mlflow', 'tensorboard', "
            "'torch.utils.tensorboard') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
