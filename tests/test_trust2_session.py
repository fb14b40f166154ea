"""Trust, round two (issue 20), the session's part: one identity for a case, a resumed folder that stays
one session, a result no disk takes kept on the terminal, SIGTERM mid-suite, two suites at once."""
from __future__ import annotations

import dataclasses
import errno
import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from recipebench.record import store
from recipebench.commands import main as cli
from recipebench.suite.options import OPTION_TABLE
from recipebench.suite.session import BenchSession
from tests.conftest import REPO, subprocess_env
from tests.images import class_folders
from tests.test_bench import bench

# -- 4. one identity for a case ------------------------------------------------------------------------


def test_every_option_is_in_the_case_identity_or_says_why_not():
    from recipebench.suite.identity import IN_IDENTITY, NOT_IN_IDENTITY, CaseIdentity

    fields = {f.name for f in dataclasses.fields(CaseIdentity)}
    for _flag, dest, *_ in OPTION_TABLE:
        assert (dest in IN_IDENTITY) != (dest in NOT_IN_IDENTITY), f"--{dest}: decide whether it is in the identity"
        if dest in IN_IDENTITY:
            assert set(IN_IDENTITY[dest]) <= fields and IN_IDENTITY[dest], dest
        else:
            assert len(NOT_IN_IDENTITY[dest]) > 20, f"--{dest}: say why it is not in the identity"
    options = {dest for _f, dest, *_ in OPTION_TABLE}
    assert set(IN_IDENTITY) | set(NOT_IN_IDENTITY) == options  # no decision about an option that is gone
    for name in ("labels", "label_re", "deterministic", "cases_per_node", "device"):
        assert name in IN_IDENTITY
    assert "machine" in IN_IDENTITY["device"]  # the host and device name, not only "cpu"


def test_a_plan_and_its_result_have_one_identity_and_every_setting_changes_it(smoke_session, baseline_result):
    from recipebench.suite.identity import CaseIdentity

    plan = smoke_session.plan("baseline", 0)
    here = CaseIdentity.from_plan(plan, executor="local", cases_per_node=1)
    assert CaseIdentity.from_result(baseline_result) == here
    assert CaseIdentity.from_plan(dataclasses.replace(plan, deterministic=True), "local", 1) != here
    assert CaseIdentity.from_plan(plan, "ray", 1) != here  # on a Ray cluster, not this host
    env = dict(baseline_result.environment)
    for other in (dataclasses.replace(baseline_result, environment={**env, "host": "elsewhere"}),
                  dataclasses.replace(baseline_result, device_name="Another CPU (64 threads)"),
                  dataclasses.replace(baseline_result, environment={**env, "deterministic_algorithms": True}),
                  dataclasses.replace(baseline_result, config=dataclasses.replace(baseline_result.config,
                                                                                  labels="top-level folders"))):
        assert CaseIdentity.from_result(other) != here
    assert baseline_result.config.labels == CaseIdentity.from_result(baseline_result).labels is not None
    on_ray = dataclasses.replace(baseline_result, environment={**env, "executor": {"kind": "ray", "cases_per_node": 2}})
    assert CaseIdentity.from_result(on_ray) == CaseIdentity.from_plan(plan, "ray://head:10001", 2)
    assert CaseIdentity.from_result(on_ray) != CaseIdentity.from_plan(plan, "ray", 1)  # cases at once on a node


def nested_classes(root: Path) -> Path:
    """``root/Cats/{tabby,black}/...`` and ``root/Dogs/{pug,lab}/...``: 2 classes by top-level folder,
    4 by parent folder."""
    class_folders(root / "Cats", {"tabby": 10, "black": 10}, {"tabby": 0, "black": 0})
    class_folders(root / "Dogs", {"pug": 10, "lab": 10}, {"pug": 2, "lab": 2})
    return root


def test_resume_does_not_take_a_result_trained_on_other_labels(tmp_path, cache_dir):
    root = nested_classes(tmp_path / "mine")
    out = tmp_path / "results"
    args = ["--benchmark-only", "--workload", "folder", "--data-dir", str(root), "--scale", "smoke", "--recipe",
            "baseline", "--weights", "none", "--results-dir", str(out)]
    bench([*args, "--labels", "parent"], cache_dir)
    (first,) = store.load_results([out])
    assert first.n_classes == 4
    again = bench([*args, "--labels", "top", "--resume"], cache_dir)
    assert "finished earlier" not in again.stdout and "1 passed" in again.stdout
    assert sorted(r.n_classes for r in store.load_results([out])) == [2, 4]
    same = bench([*args, "--labels", "top", "--resume"], cache_dir)
    assert "finished earlier" in same.stdout and "1 skipped" in same.stdout


# -- 5. a resumed folder stays one session -------------------------------------------------------------

FLAKY_PLUGIN = '''
from pathlib import Path
from recipebench import Recipe, hookimpl

def flaky(ctx):
    if Path({broken!r}).exists():
        raise RuntimeError("the machine's fault, not the recipe's")
    ctx.learn.fit_one_cycle(1, 1e-3)

@hookimpl
def recipebench_add_recipes(register):
    register(Recipe("flaky", flaky, summary="fails while a file exists"))
'''


def test_a_resumed_folder_holds_one_current_document_per_case_and_a_summary_of_all(tmp_path, cache_dir):
    plugins, broken, out = tmp_path / "plugins", tmp_path / "broken", tmp_path / "results"
    plugins.mkdir()
    (plugins / "flaky.py").write_text(FLAKY_PLUGIN.format(broken=str(broken)))
    broken.touch()
    args = ["--benchmark-only", "--scale", "smoke", "--plugins-dir", str(plugins), "--results-dir", str(out)]
    first = bench([*args, "--recipe", "baseline", "--recipe", "flaky"], cache_dir, check=False)
    assert first.returncode == 1 and "1 failed" in first.stdout
    (folder,) = out.iterdir()
    broken.unlink()
    again = bench([*args, "--recipe", "flaky", "--resume"], cache_dir)  # only the failed case, asked again
    assert "1 passed" in again.stdout
    assert list(out.iterdir()) == [folder]  # the same session, continued
    assert sorted(p.name for p in folder.glob("*.json")) == ["baseline-seed0.json", "flaky-seed0.json"]
    assert json.loads((folder / "flaky-seed0.json").read_text())["status"] == "ok"
    assert [json.loads(p.read_text())["status"] for p in (folder / "attempts").glob("*.json")] == ["error"]
    assert sorted((r.recipe, r.status) for r in store.load_results([folder])) == [("baseline", "ok"), ("flaky", "ok")]
    assert cli(["table", str(folder)]) == 0  # no "appears more than once", no --force
    summary = (folder / "summary.md").read_text()
    assert "| baseline " in summary and "| flaky " in summary and "ERROR" not in summary
    assert (folder / "epochs.png").is_file() and (folder / "attempts" / "epochs.png").is_file()
    assert not list(folder.glob("epochs-*.png"))


def test_loading_a_folder_leaves_out_its_earlier_attempts(tmp_path):
    from tests.fake_results import make_result

    folder = tmp_path / "session"
    failed = store.write_result(make_result(seed=0, status="error"), folder)
    assert failed.name == "baseline-seed0.json"
    current = store.write_result(make_result(seed=0, error_rate=0.2), folder)
    assert current == folder / "baseline-seed0.json"  # the new attempt is the current one
    assert [r.status for r in store.load_results([folder])] == ["ok"]
    assert [r.status for r in store.load_results([tmp_path])] == ["ok"]  # from the folder above too
    (kept,) = (folder / "attempts").iterdir()
    assert store.load_results([kept])[0].status == "error"  # named, an attempt still reads
    store.write_result(make_result(seed=0, error_rate=0.3), folder)
    assert sorted(p.name for p in (folder / "attempts").iterdir()) == ["baseline-seed0-2.json", "baseline-seed0.json"]


# -- 6. nothing finished is lost, really ---------------------------------------------------------------


def test_a_result_that_no_folder_takes_is_printed_to_the_terminal(smoke_session, baseline_result, monkeypatch,
                                                                  capsys):
    def disk_full(path, *args, **kw):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(store, "atomic_write", disk_full)  # the results folder and both fallbacks
    saved = smoke_session.record(baseline_result)
    assert not saved.in_results_dir and saved.path is None
    assert "No space left on device" in saved.problem
    assert "printed to the terminal" in saved.where and "BEGIN recipebench result baseline seed 0" in saved.where
    err = capsys.readouterr().err
    begin, end = "BEGIN recipebench result baseline seed 0", "END recipebench result baseline seed 0"
    assert err.count(begin) == 1 and err.count(end) == 1
    body = err.split(begin)[1].split("\n", 1)[1].rsplit(end, 1)[0].rsplit("\n", 1)[0]
    assert store.from_document(json.loads(body), "stderr") == baseline_result
    assert baseline_result in smoke_session.results  # still in the table


# -- 9a. SIGTERM mid-suite -----------------------------------------------------------------------------

WAITING_PLUGIN = '''
import time
from pathlib import Path
from recipebench import Recipe, hookimpl

def waiting(ctx):
    if type(ctx.learn).__name__ != "DryRunLearner":  # not the live progress's dry run, which counts epochs
        Path({started!r}).touch()
        deadline = time.monotonic() + 300
        while not Path({go!r}).exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    ctx.learn.fit_one_cycle(1, 1e-3)

@hookimpl
def recipebench_add_recipes(register):
    register(Recipe("waiting", waiting, summary="trains once a file exists"))
'''


def wait_for(condition, what: str, process: subprocess.Popen, timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert process.poll() is None, f"the suite ended before {what}:\n{process.communicate()[0][-3000:]}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_sigterm_mid_suite_keeps_what_finished_writes_its_summary_and_resume_completes_it(tmp_path, cache_dir):
    plugins, started, go, out = tmp_path / "plugins", tmp_path / "started", tmp_path / "go", tmp_path / "results"
    plugins.mkdir()
    (plugins / "waiting.py").write_text(WAITING_PLUGIN.format(started=str(started), go=str(go)))
    args = [sys.executable, "-m", "pytest", "recipes/", "-p", "no:cacheprovider", "--benchmark-only", "--scale",
            "smoke", "--plugins-dir", str(plugins), "--recipe", "baseline", "--recipe", "waiting", "--recipe",
            "lr_find_tuned", "--results-dir", str(out)]
    suite = subprocess.Popen(args, cwd=REPO, env=subprocess_env(cache_dir), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    try:
        wait_for(lambda: list(out.glob("*/baseline-seed0.json")) and started.exists(), "the second case to start",
                 suite)
        suite.send_signal(signal.SIGTERM)  # as a cancelled CI job sends it
        stdout, _ = suite.communicate(timeout=120)
    finally:
        suite.kill()
    assert suite.returncode == 2, stdout[-3000:]  # interrupted, as Ctrl-C
    assert "SIGTERM" in stdout
    (folder,) = out.iterdir()
    assert [r.recipe for r in store.load_results([folder])] == ["baseline"]
    summary = (folder / "summary.md").read_text()
    assert "| baseline " in summary and "waiting" not in summary
    go.touch()
    again = bench([*args[4:], "--resume"], cache_dir)
    assert "2 passed, 1 skipped" in again.stdout
    assert list(out.iterdir()) == [folder]
    assert sorted(p.name for p in folder.glob("*.json")) == ["baseline-seed0.json", "lr_find_tuned-seed0.json",
                                                             "waiting-seed0.json"]
    assert not (folder / "attempts").exists() or not list((folder / "attempts").glob("*.json"))
    summary = (folder / "summary.md").read_text()
    assert all(f"| {name} " in summary for name in ("baseline", "waiting", "lr\\_find\\_tuned"))


# -- 9b. two suites at once into one --results-dir -------------------------------------------------------


def test_sessions_started_at_once_get_folders_and_ids_of_their_own(smoke_session, baseline_result, tmp_path,
                                                                 monkeypatch):
    results = tmp_path / "results"
    made: list[Path] = []
    racers = [threading.Thread(target=lambda: made.append(store.session_dir(results, "same-second")))
              for _ in range(8)]
    for t in racers:
        t.start()
    for t in racers:
        t.join()
    assert len(set(made)) == 8  # each its own folder, made atomically

    monkeypatch.setattr(store, "new_session_id", lambda *a, **kw: "20261201T100000Z-synthetic-smoke-cpu")
    options = dataclasses.replace(smoke_session.options, results_dir=tmp_path / "two")
    one, two = BenchSession(options), BenchSession(options)
    assert one.session_id == two.session_id  # started in the same second
    assert one.results_dir != two.results_dir
    for session in (one, two):
        assert session.session_id == session.results_dir.name  # the id names its folder, and only it
        result = session.prepare("baseline", 0).execute()
        assert result.session_id == session.results_dir.name
        assert session.record(result).path == session.results_dir / "baseline-seed0.json"
    docs = store.load_results([tmp_path / "two"])
    assert len(docs) == 2 and len({r.session_id for r in docs}) == 2
