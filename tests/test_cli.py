"""The command line's loose ends: help that reads as text, --version, a closed pipe, other tools' JSON
files in a results folder."""
from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pytest

import recipebench
from recipebench import commands as cli
from recipebench.record import store
from tests.conftest import REPO
from tests.fake_results import make_result
from tests.test_report import run_cli


def subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = cli.build_parser()
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return {"": parser, **action.choices}


@pytest.mark.parametrize("command", list(subparsers()))
def test_help_is_plain_text_and_every_option_says_what_it_does(command):
    parser = subparsers()[command]
    text = parser.format_help()
    assert "`" not in text, f"reST/markdown backticks in `recipebench {command} --help`"
    undocumented = [a.dest for a in parser._actions if not a.help and not isinstance(a, argparse._SubParsersAction)]
    assert undocumented == [], f"recipebench {command}: options without a description: {undocumented}"


def test_version(capsys):
    code, out, _ = run_cli(capsys, "--version")
    assert code == 0 and out.strip() == f"recipebench {recipebench.__version__}"


def test_a_closed_pipe_ends_quietly(tmp_path):
    """`recipebench table ... | head -1`: no BrokenPipeError traceback when head stops reading."""
    for seed in range(3):
        for recipe in ("baseline", "other"):
            store.write_result(make_result(recipe, seed), tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "recipebench", "table", str(tmp_path)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader is gone before the first line is written
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == cli.EXIT_BROKEN_PIPE
    assert "Traceback" not in err and "BrokenPipeError" not in err and err == ""
    shell = subprocess.run(f"{sys.executable} -m recipebench table {tmp_path} --format csv | head -1", shell=True,
                           cwd=REPO, capture_output=True, text=True, timeout=120)
    assert shell.stdout.startswith("label,runs,") and "Traceback" not in shell.stderr


def test_other_json_files_in_a_results_folder_are_skipped_with_a_note(tmp_path, capsys):
    store.write_result(make_result("baseline", 0), tmp_path / "session")
    (tmp_path / "session" / "package.json").write_text(json.dumps({"name": "something else"}))
    (tmp_path / "session" / "notes.json").write_text("this is not JSON at all")
    (tmp_path / "session" / "other-bench.json").write_text(json.dumps({"benchmarks": [{"name": "x", "extra_info": {}}]}))
    code, out, err = run_cli(capsys, "table", tmp_path)
    assert code == 0 and out.startswith("recipe ")
    assert f"recipebench table: note: skipped {tmp_path / 'session' / 'package.json'}: neither a recipebench result" in err
    assert "notes.json: not JSON" in err and "other-bench.json: a pytest-benchmark file without recipebench" in err
    loaded = store.scan_results([tmp_path])
    assert len(loaded.results) == 1 and len(loaded.skipped) == 3


def test_a_broken_result_still_stops_the_table(tmp_path, capsys):
    doc = make_result("baseline", 0).to_dict()
    doc["error_rate"] = 1.5
    (tmp_path / "baseline-seed0.json").write_text(json.dumps(doc))
    code, _, err = run_cli(capsys, "table", tmp_path)
    assert code == 2 and "baseline-seed0.json: not a valid recipebench result" in err and "1.5" in err
    (tmp_path / "baseline-seed0.json").write_text(json.dumps(make_result().to_dict())[:200])  # cut short
    code, _, err = run_cli(capsys, "table", tmp_path)
    assert code == 2 and "baseline-seed0.json: cannot read JSON" in err
    (tmp_path / "baseline-seed0.json").unlink()
    (tmp_path / "package.json").write_text("{}")
    code, _, err = run_cli(capsys, "table", tmp_path)
    assert code == 2 and "no result files (*.json) in this folder (1 other JSON files)" in err
    code, _, err = run_cli(capsys, "table", tmp_path / "package.json")
    assert code == 2 and "package.json: neither a recipebench result nor a pytest-benchmark file" in err
