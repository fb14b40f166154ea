"""--executor ray: the suite's cases as Ray tasks (here on a local Ray instance), pytest still the front end;
faults recorded, pytest -n refused. The two suite runs start Ray once each (about 8 s here)."""
from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import datetime
from pathlib import Path

import pytest

from recipebench.record import store
from recipebench.suite.executor import Resources, make_executor, resources_per_case, worker_options
from recipebench.suite.options import Options, UsageError
from recipebench.record.results import validate
from recipebench.train.runner import lost_result
from tests.conftest import REPO, subprocess_env
from tests.test_bench import bench

#: Two recipes x two seeds: the issue's check that a Ray run learns exactly what a local one does.
RECIPES = ("baseline", "discriminative_lr")

FAULTY_PLUGIN = textwrap.dedent('''
    import os
    import signal
    import time
    from pathlib import Path

    from fastai.callback.core import Callback

    from recipebench import Recipe, hookimpl

    def fault(what):
        class Fault(Callback):
            def before_batch(self):  # in real training only (the plan's dry run never trains a batch)
                if what == "kill":
                    os.kill(os.getpid(), signal.SIGKILL)  # the worker dies, as the OOM killer would end it
                if what == "wait":
                    time.sleep(600)
                Path(__file__).with_name("raised").touch()
                raise RuntimeError("boom in the recipe")

        def recipe(ctx):
            ctx.learn.fit(1, 1e-3, cbs=[Fault()])
        return recipe

    @hookimpl
    def recipebench_add_recipes(register):
        register(Recipe("raising", fault("raise"), summary="raises"))
        register(Recipe("killed", fault("kill"), summary="kills its own process"))
        register(Recipe("waiting", fault("wait"), summary="waits ten minutes"))
''')


@pytest.fixture(scope="module")
def ray_run(cache_dir, tmp_path_factory, smoke_session):
    """Two recipes x two seeds at smoke scale, each case a Ray task on a local Ray instance."""
    pytest.importorskip("ray")
    out = tmp_path_factory.mktemp("ray")
    args = ["--benchmark-only", "--scale", "smoke", "--seeds", "2", "--executor", "ray",
            "--results-dir", str(out / "results"), "--benchmark-json", str(out / "bench.json")]
    proc = bench([*args, *(a for r in RECIPES for a in ("--recipe", r))], cache_dir)
    return proc, out


def test_a_ray_run_learns_exactly_what_a_local_run_learns_seed_for_seed(ray_run, smoke_session, baseline_result):
    _, out = ray_run
    remote = {(r.recipe, r.seed): r for r in store.load_results([out / "results"])}
    assert sorted(remote) == sorted((r, s) for r in RECIPES for s in (0, 1))
    for (recipe, seed), r in remote.items():
        here = baseline_result if (recipe, seed) == ("baseline", 0) else smoke_session.prepare(recipe, seed).execute()
        assert r.ok and r.error_rate == here.error_rate, (recipe, seed, r.error_rate, here.error_rate)
        assert [e.train_loss for e in r.epochs] == [e.train_loss for e in here.epochs]
        node = r.environment["executor"]  # where it ran, with what it reserved
        assert node["kind"] == "ray" and node["host"] and node["node_ip"] and node["pid"]
        assert node["torch_threads"] == r.environment["torch_threads"] == here.environment["torch_threads"]
        assert node["cases_at_once_max"] == 1
    # ... and one at a time: each case's training began after the one before it had ended (1 s resolution)
    spans = sorted((datetime.strptime(r.created_utc, "%Y-%m-%dT%H:%M:%SZ").timestamp(), r.wall_s)
                   for r in remote.values())
    for (end_before, _), (end, wall_s) in zip(spans, spans[1:]):
        assert end - wall_s >= end_before - 1, spans


def test_a_ray_run_is_one_session_with_one_table(ray_run):
    proc, out = ray_run
    assert len(list((out / "results").iterdir())) == 1
    assert proc.stdout.count("= recipebench =") == 1 and "discriminative_lr " in proc.stdout
    assert "4 case(s) submitted to a local Ray instance" in proc.stdout
    assert "baseline s1 · ok · error " in proc.stdout  # a line per finished case


def test_pytest_benchmark_gets_the_workers_time_not_the_wait(ray_run):
    """Each case's benchmark time is the wall_s its worker measured; the first case's wait alone (Ray's start,
    the worker's setup) is longer than that."""
    _, out = ray_run
    doc = json.loads((out / "bench.json").read_text())
    assert len(doc["benchmarks"]) == 4
    for b in doc["benchmarks"]:
        assert b["stats"]["mean"] == b["extra_info"]["wall_s"] and b["stats"]["rounds"] == 1, b["name"]
        assert b["extra_info"]["timed_on"].endswith(")")  # the host (node address)


def test_a_raising_recipe_and_a_killed_worker_are_recorded_and_the_rest_completes(cache_dir, tmp_path,
                                                                                 smoke_session):
    pytest.importorskip("ray")
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "faulty.py").write_text(FAULTY_PLUGIN)
    proc = bench(["--benchmark-only", "--scale", "smoke", "--executor", "ray", "--plugins-dir", str(plugins),
                  "--recipe", "raising", "--recipe", "killed", "--recipe", "baseline",
                  "--results-dir", str(tmp_path / "results")], cache_dir, check=False)
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-2000:]
    results = {r.recipe: r for r in store.load_results([tmp_path / "results"])}
    assert {k: r.status for k, r in results.items()} == {"raising": "error", "killed": "error", "baseline": "ok"}
    assert "boom in the recipe" in results["raising"].error
    killed = results["killed"]
    node = killed.environment["executor"]
    assert f"the Ray worker on {node['host']} ({node['node_ip']}), worker pid {node['pid']} died" in killed.error
    assert "not retried" in killed.error and killed.epochs == () and killed.wall_s == 0
    assert "1 passed" in proc.stdout and "2 failed" in proc.stdout


def test_pytest_n_is_refused_with_a_pointer_to_the_ray_executor(cache_dir):
    pytest.importorskip("xdist")
    proc = bench(["-n", "2", "--benchmark-only", "--scale", "smoke"], cache_dir, check=False)
    assert proc.returncode == 4
    assert "pytest -n / --dist (pytest-xdist) cannot split the benchmark suite" in proc.stderr
    assert "use --executor ray" in proc.stderr


def test_ray_not_installed_is_a_usage_error_naming_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    with pytest.raises(UsageError, match=r"--executor ray: ray is not installed .* pip install -e '\.\[ray\]'"):
        make_executor(Options(executor="ray"))
    assert make_executor(Options()).name == "local"


@pytest.mark.parametrize("value", ["nope", "ray://", "local:2"])
def test_a_bad_executor_is_a_usage_error(value):
    with pytest.raises(UsageError, match="--executor .*choose one of local, ray, auto, ray://HOST:PORT"):
        Options(executor=value)


def test_the_local_path_never_imports_ray():
    code = ("import sys, recipebench, recipebench.suite.pytest_plugin, recipebench.suite.executor, recipebench.suite.session; "
            "assert 'ray' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def _node(cpus, gpus=0):
    return {"Alive": True, "Resources": {"CPU": float(cpus), **({"GPU": float(gpus)} if gpus else {})}}


def test_resources_one_case_per_node_on_cpus_one_gpu_per_case_on_cuda():
    assert resources_per_case([_node(2), _node(8)], "cpu", 1, "ray") == Resources(cpus=2, gpus=0)
    assert resources_per_case([_node(8)], "cpu", 2, "ray") == Resources(cpus=4, gpus=0)
    assert resources_per_case([_node(32, gpus=4), _node(4)], "cuda:0", 1, "ray") == Resources(cpus=8, gpus=1)
    with pytest.raises(UsageError, match="the Ray cluster has no GPU"):
        resources_per_case([_node(8)], "cuda:0", 1, "auto")


def test_workers_get_the_drivers_choices_and_absolute_paths(smoke_session, tmp_path, monkeypatch):
    import ray.cloudpickle

    monkeypatch.chdir(tmp_path)
    (tmp_path / "plugins").mkdir()
    options = dataclasses.replace(smoke_session.options, executor="ray", plugins_dir=Path("plugins"),
                                  recipe_options={"lr_find_tuned": {"suggestion": "steep"}})
    sent = worker_options(options, smoke_session)
    assert (sent.executor, sent.device, sent.scale, sent.plugins_dir) == ("local", "cpu", "smoke", tmp_path / "plugins")
    assert ray.cloudpickle.loads(ray.cloudpickle.dumps(sent)) == sent  # what Ray sends to the worker


def test_a_result_trained_on_other_data_is_refused_naming_both_machines(smoke_session, baseline_result):
    env = {**baseline_result.environment, "host": "node-b", "executor": {"kind": "ray", "node_ip": "10.0.0.7"}}
    other = dataclasses.replace(baseline_result, workload_fingerprint="f" * 64, environment=env)
    before = len(smoke_session.results)
    saved = smoke_session.record(other)
    assert not saved.in_results_dir and saved.path.is_file() and len(smoke_session.results) == before
    assert "refused: trained on other data" in saved.problem and "ffffffffffff on node-b (10.0.0.7)" in saved.problem
    assert smoke_session.data().fingerprint[:12] in saved.problem


def test_a_case_without_a_result_of_its_own_is_a_valid_error_document(smoke_session):
    plan = smoke_session.plan("baseline", 0)
    where = {"git_commit": None, "host": "node-b", "executor": {"kind": "ray", "node_ip": "10.0.0.7", "pid": 9}}
    r = lost_result(plan, "the Ray worker died", "cpu", smoke_session.versions, where)
    validate(r.to_dict())
    assert (r.status, r.error, r.wall_s, r.epochs, r.ran_on) == ("error", "the Ray worker died", 0.0, (),
                                                                 "node-b (10.0.0.7)")
    assert r.n_train + r.n_valid == sum(map(sum, smoke_session.data().class_counts.values()))


def test_ctrl_c_cancels_what_is_running_and_keeps_what_finished(cache_dir, tmp_path, smoke_session):
    """Two cases at once (--cases-per-node 2): the first waits forever, the second raises at once and is
    finished while the driver still waits for the first; Ctrl-C keeps the second, cancels the first."""
    pytest.importorskip("ray")
    plugins, results = tmp_path / "plugins", tmp_path / "results"
    raised = plugins / "raised"  # the raising recipe's mark, beside the plugin
    plugins.mkdir()
    (plugins / "faulty.py").write_text(FAULTY_PLUGIN)
    args = [sys.executable, "-m", "pytest", "recipes/", "-p", "no:cacheprovider", "--benchmark-only", "--scale",
            "smoke", "--executor", "ray", "--cases-per-node", "2", "--plugins-dir", str(plugins), "--recipe", "waiting",
            "--recipe", "raising", "--results-dir", str(results)]
    suite = subprocess.Popen(args, cwd=REPO, env=subprocess_env(cache_dir), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, start_new_session=True)
    deadline = time.monotonic() + 300
    while not raised.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(3)  # the raising task returns its document
    os.killpg(suite.pid, signal.SIGINT)  # Ctrl-C in a terminal: the whole foreground process group
    out, _ = suite.communicate(timeout=300)  # Ray winds down slowly on a loaded 2-core machine
    assert suite.returncode == 2, out[-3000:]  # interrupted
    (kept,) = store.load_results([results])
    assert (kept.recipe, kept.status) == ("raising", "error") and "boom in the recipe" in kept.error
    assert kept.environment["executor"]["cases_at_once_max"] == 2  # the result says cases shared the node
    assert "--cases-per-node 2: cases training at once on a node distort each other's timings" in out
