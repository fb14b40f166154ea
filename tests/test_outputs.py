"""Outputs are plugins: the Output API, choosing a session's outputs, one failing output losing nothing, and an
outside output plugin in one file writing its file at the end of a smoke session."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

import recipebench
from recipebench import Output, hookimpl
from recipebench.registry import DuplicateNameError, PluginError, build_registry, get_plugin_manager, load_registry
from recipebench.suite import outputs
from recipebench.suite.options import UsageError, from_values
from tests.conftest import REPO
from tests.fake_results import fake_epochs, make_result
from tests.test_bench import bench


def nothing(session):
    return []


def test_output_is_in_the_plugin_api_and_checks_its_name():
    for name in ("Output", "SessionOutput", "atomic_write", "set_aside"):
        assert name in recipebench.__all__
    assert Output("a.csv", "s", nothing, options={"sep": ","}).options["sep"].default == ","
    for bad in ("", "two words", "no:thing", "a=b", "-x"):
        with pytest.raises(ValueError, match="output name"):
            Output(bad, "s", nothing)
    with pytest.raises(ValueError, match="option 'not ok'"):
        Output("x", "s", nothing, options={"not ok": 1})


class _Twice:
    @hookimpl
    def recipebench_add_outputs(self, register):
        register(Output("summary.md", "another summary", nothing))


def test_an_output_name_registered_twice_names_both_plugins():
    pm = get_plugin_manager()
    pm.register(_Twice(), name="twice")
    with pytest.raises(DuplicateNameError, match=r"output 'summary.md' is registered twice: by plugin "
                                                 r"'recipebench.plugins.outputs' .* and by plugin 'twice'"):
        build_registry(pm)


class _NotAnOutput:
    @hookimpl
    def recipebench_add_outputs(self, register):
        register("summary.txt")


def test_registering_something_else_as_an_output_is_refused():
    pm = get_plugin_manager()
    pm.register(_NotAnOutput(), name="wrong")
    with pytest.raises(PluginError, match="registered 'summary.txt' as an output; expected an Output"):
        build_registry(pm)


def test_the_built_in_outputs_are_registered_and_the_defaults_are_todays(registry):
    assert {"summary.md", "epochs.png", "summary.csv", "summary.json", "mlflow", "tensorboard"} <= set(registry.outputs)
    assert [c.output.name for c in outputs.choose(registry)] == ["summary.md", "epochs.png"]
    assert all(registry.outputs[n].origin == "built-in" for n in ("summary.md", "mlflow"))


def test_choosing_outputs_adds_leaves_out_and_names_what_is_unknown(registry):
    chosen = outputs.choose(registry, ("summary.csv", "no:epochs.png"))
    assert [c.output.name for c in chosen] == ["summary.md", "summary.csv"]
    with pytest.raises(UsageError, match="--output summary.txt: unknown output 'summary.txt'; registered outputs: "
                                         "summary.md, epochs.png"):
        outputs.choose(registry, ("summary.txt",))
    with pytest.raises(UsageError, match="--output no:nothing: unknown output 'nothing'|--output nothing"):
        outputs.choose(registry, ("no:nothing",))


def test_output_options_are_typed_and_checked(registry):
    options = from_values({"outputs": ["mlflow"], "output_options": ["mlflow.experiment=chapter5"]})
    assert options.outputs == ("mlflow",) and dict(options.output_options["mlflow"]) == {"experiment": "chapter5"}
    (mlflow,) = [c for c in outputs.choose(registry, options.outputs, options.output_options) if c.output.name == "mlflow"]
    assert mlflow.options["experiment"] == "chapter5" and mlflow.options["tracking_uri"] == ""
    with pytest.raises(UsageError, match=r"mlflow.colour: output 'mlflow' has no option 'colour' \(its options: "):
        outputs.choose(registry, ("mlflow",), {"mlflow": {"colour": "red"}})
    with pytest.raises(UsageError, match=r"the session does not write output 'mlflow' \(add --output mlflow\)"):
        outputs.choose(registry, (), {"mlflow": {"experiment": "x"}})
    with pytest.raises(UsageError, match="expected OUTPUT.KEY=VALUE"):
        from_values({"output_options": ["mlflow=1"]})


def test_an_output_whose_module_is_missing_is_a_usage_error_naming_how_to_install_it(registry, monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # hidden, as if not installed
    with pytest.raises(UsageError, match=r"output 'mlflow' needs the Python module 'mlflow', which is not "
                                         r"installed: pip install 'recipebench\[mlflow\]'"):
        outputs.choose(registry, ("mlflow",))
    monkeypatch.setitem(sys.modules, "tensorboard", None)
    with pytest.raises(UsageError, match=r"pip install 'recipebench\[tensorboard\]'"):
        outputs.choose(registry, ("tensorboard",))


def fake_session(tmp_path, out: outputs.Chosen | None = None, results=None):
    results = results or [make_result("baseline", s, 0.1 + s / 100, epochs=fake_epochs([0.3, 0.2])) for s in (0, 1)]
    return outputs.session_output(results, (), tmp_path, tmp_path, tmp_path.parent, None, None,
                                  out.options if out else {}, say=lambda line: None)


def test_the_built_in_table_outputs_write_the_session_table(registry, tmp_path):
    chosen = outputs.choose(registry, ("summary.csv", "summary.json"))
    done = outputs.write(chosen, lambda c: fake_session(tmp_path, c))
    assert [(o.name, o.failed) for o in done] == [(n, None) for n in
                                                  ("summary.md", "epochs.png", "summary.csv", "summary.json")]
    assert [outputs.shown(o, tmp_path) for o in done] == [["summary.md"], ["epochs.png"], ["summary.csv"],
                                                          ["summary.json"]]
    assert (tmp_path / "summary.md").read_text().startswith("| recipe")
    assert (tmp_path / "summary.csv").read_text().startswith("label,runs,")
    (row,) = json.loads((tmp_path / "summary.json").read_text())["rows"]
    assert row["label"] == "baseline" and row["runs"] == 2 and row["error_rate_mean"] == pytest.approx(0.105)
    outputs.write(chosen[1:2], lambda c: fake_session(tmp_path, c))  # again: the earlier chart is set aside
    assert (tmp_path / "attempts" / "epochs.png").is_file() and (tmp_path / "epochs.png").is_file()


def test_an_output_that_raises_is_named_and_the_next_still_runs(registry, tmp_path):
    def broken(session):
        raise RuntimeError("disk\non fire")

    chosen = [outputs.Chosen(Output("broken", "s", broken), {}), *outputs.choose(registry)]
    done = outputs.write(chosen, lambda c: fake_session(tmp_path, c))
    assert done[0] == outputs.Outcome("broken", failed="RuntimeError: disk on fire")
    assert [o.failed for o in done[1:]] == [None, None] and (tmp_path / "summary.md").is_file()


def docs_example() -> str:
    """The output plugin of docs/plugins-outputs.md: its first python block."""
    text = (REPO / "docs" / "plugins-outputs.md").read_text()
    return text.split("```python\n", 1)[1].split("```", 1)[0]


BROKEN_PLUGIN = '''
from recipebench import Output, hookimpl


def broken(session):
    raise OSError("the tracker is down")


@hookimpl
def recipebench_add_outputs(register):
    register(Output("broken", "always fails", broken, default=True))
'''


def test_an_outside_output_plugin_in_one_file_writes_at_the_end_of_a_session(tmp_path, cache_dir):
    plugins, out = tmp_path / "plugins", tmp_path / "results"
    plugins.mkdir()
    (plugins / "ranking.py").write_text(docs_example())
    (plugins / "broken.py").write_text(BROKEN_PLUGIN)
    proc = bench(["--benchmark-only", "--scale", "smoke", "--recipe", "baseline", "--plugins-dir", str(plugins),
                  "--results-dir", str(out), "--output", "ranking.csv", "--output", "no:epochs.png"], cache_dir)
    (folder,) = out.iterdir()
    assert (folder / "ranking.csv").read_text().startswith("label,runs,") and "baseline," in (
        folder / "ranking.csv").read_text()
    assert (folder / "baseline-seed0.json").is_file() and (folder / "summary.md").is_file()
    assert not (folder / "epochs.png").exists()
    assert "recipebench: ranking of 1 runs" in proc.stdout
    assert f"(output broken failed: OSError: the tracker is down; the results are kept: recipebench export broken " \
           f"{folder} --out-dir {folder} tries again)" in proc.stdout
    assert f"results: {folder} (1 runs, summary.md, ranking.csv)" in proc.stdout


def test_an_unknown_output_stops_the_session_before_it_trains(tmp_path, cache_dir):
    proc = bench(["--benchmark-only", "--scale", "smoke", "--recipe", "baseline", "--results-dir",
                  str(tmp_path / "results"), "--output", "sumary.md"], cache_dir, check=False)
    assert proc.returncode == 4 and "--output sumary.md: unknown output 'sumary.md'" in proc.stderr
    assert not list((tmp_path / "results").rglob("*.json"))  # nothing trained


def test_recipebench_list_shows_the_outputs(capsys):
    from recipebench.commands import main as cli

    assert cli(["list"]) == 0
    out = capsys.readouterr().out.split("\noutputs")[1]
    assert "summary.md " in out and "mlflow " in out and "tracking_uri=; experiment=recipebench" in out
    assert "recipebench.plugins.tensorboard_export [built-in]" in out


def test_summary_json_keeps_cells_that_are_not_json_numbers_as_text():
    from recipebench.plugins.outputs import _value

    assert [_value(t) for t in ("", "3", "0.25", "inf", "nan", "fp32")] == [None, 3, 0.25, "inf", "nan", "fp32"]
