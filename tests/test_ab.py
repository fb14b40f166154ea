"""`recipebench ab BASE [HEAD] -- SUITE OPTIONS`: the merge base and the head of a user's repository, each
installed once in its own environment, their cases run interleaved on one machine, then compared."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from recipebench.suite import ab
from recipebench.render import github_comment
from recipebench.suite.options import UsageError
from recipebench.record.store import load_results
from tests.conftest import subprocess_env
from tests.test_compare_cli import run_cli


def git(repo: Path, *args: str) -> str:
    out = subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "init.defaultBranch=main",
                          *args], cwd=repo, capture_output=True, text=True, check=True)
    return out.stdout.strip()


PYPROJECT = """\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "mytrain"
version = "0.1.0"

[tool.setuptools]
packages = ["mytrain"]
"""
PLUGIN = """\
from mytrain import LR
from recipebench import Recipe, hookimpl


def tuned(ctx):
    ctx.learn.fit_one_cycle(ctx.epochs(2), LR)


@hookimpl
def recipebench_add_recipes(register):
    register(Recipe("tuned", tuned, summary="fit_one_cycle(2, mytrain.LR)"))
"""


@pytest.fixture(scope="module")
def user_repo(tmp_path_factory) -> Path:
    """A user's repository: their training code (a package, ``mytrain``) and a recipe plugin file in bench/;
    main at one learning rate, the branch ``faster`` (checked out) at another."""
    repo = tmp_path_factory.mktemp("user-repo")
    git(repo, "init", "-q")
    (repo / "pyproject.toml").write_text(PYPROJECT)
    (repo / "mytrain").mkdir()
    (repo / "mytrain" / "__init__.py").write_text("LR = 3e-3\n")
    (repo / "bench").mkdir()
    (repo / "bench" / "my_recipes.py").write_text(PLUGIN)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "first")
    git(repo, "checkout", "-qb", "faster")
    (repo / "mytrain" / "__init__.py").write_text("LR = 1e-2\n")
    git(repo, "commit", "-qam", "a higher learning rate")
    return repo


def test_the_suite_options_lose_their_seeds_to_the_plan():
    assert ab.suite_seeds(["--scale", "smoke", "--seeds", "2", "--recipe", "x"]) == ((0, 1), ("--scale", "smoke",
                                                                                              "--recipe", "x"))
    assert ab.suite_seeds(["--seeds=0,5"]) == ((0, 5), ())
    assert ab.suite_seeds(["--scale", "smoke"]) == ((0,), ("--scale", "smoke"))
    for own in (["--results-dir", "r"], ["--results-dir=r"], ["--resume"]):
        with pytest.raises(UsageError, match=f"{own[0].split('=')[0]}: ab sets it"):
            ab.suite_seeds(own)


def test_the_runs_interleave_base_and_head_seed_by_seed():
    order = [(r.index, r.side, r.seed) for r in ab.interleaved((0, 1, 5))]
    assert order == [(1, "base", 0), (2, "head", 0), (3, "base", 1), (4, "head", 1), (5, "base", 5), (6, "head", 5)]


def test_only_ab_takes_its_suite_options_after_dashes():
    assert ab.split_suite_options(["ab", "main", "--format", "github", "--", "--scale", "smoke", "--", "x"]) == (
        ["ab", "main", "--format", "github"], ["--scale", "smoke", "--", "x"])
    assert ab.split_suite_options(["compare", "a", "--", "b"]) == (["compare", "a", "--", "b"], [])


def test_outside_a_git_repository_it_says_so(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(capsys, "ab", "main", "--", "--scale", "smoke")
    assert code == 2 and err.strip().splitlines()[-1].startswith("recipebench ab: error: ")
    assert f"{tmp_path}: not in a git repository" in err


def test_a_ref_that_does_not_exist_is_named(user_repo, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(user_repo)
    code, _, err = run_cli(capsys, "ab", "nosuchbranch", "--workdir", tmp_path / "w", "--", "--scale", "smoke")
    assert code == 2 and "nosuchbranch" in err and "Traceback" not in err
    assert not (tmp_path / "w").exists()  # nothing made before the refs are known


def test_a_workdir_that_holds_something_is_refused(user_repo, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(user_repo)
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "ab-order.json").write_text("{}")
    code, _, err = run_cli(capsys, "ab", "main", "--workdir", tmp_path / "w", "--", "--scale", "smoke")
    assert code == 2 and f"--workdir {tmp_path / 'w'}: not empty" in err
    assert (tmp_path / "w" / "ab-order.json").read_text() == "{}"  # an earlier run is never touched


def test_base_and_head_run_interleaved_and_the_comparison_is_the_comment(user_repo, tmp_path, cache_dir):
    """The done-when test: two commits, two seeds, one recipe at smoke scale."""
    workdir = tmp_path / "ab"
    proc = subprocess.run([sys.executable, "-m", "recipebench", "ab", "main", "--workdir", str(workdir),
                           "--format", "github", "--", "--scale", "smoke", "--device", "cpu", "--seeds", "2",
                           "--recipe", "tuned", "--plugins-dir", "bench"],
                          cwd=user_repo, capture_output=True, text=True, env=subprocess_env(cache_dir), timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    base_commit, head_commit = git(user_repo, "rev-parse", "main"), git(user_repo, "rev-parse", "HEAD")

    # the plan first, then a line per run, in the order the file records
    err = proc.stderr
    plan = err.index("plan: 4 runs, interleaved: base seed 0, head seed 0, base seed 1, head seed 1")
    assert plan < err.index("[1/4] base seed 0") < err.index("[2/4] head seed 0") < err.index("[4/4] head seed 1")
    order = json.loads((workdir / "ab-order.json").read_text())
    assert [(r["side"], r["seed"]) for r in order["runs"]] == [("base", 0), ("head", 0), ("base", 1), ("head", 1)]
    assert all(r["returncode"] == 0 for r in order["runs"])
    assert order["base"]["commit"] == base_commit and order["head"]["commit"] == head_commit
    assert [r["commit"] for r in order["runs"]] == [base_commit, head_commit] * 2
    started = [r["started_utc"] for r in order["runs"]]
    assert started == sorted(started)

    # each side trained its own code: its own install of mytrain, its own commit in every result
    for side, commit, lr in (("base", base_commit, 3e-3), ("head", head_commit, 1e-2)):
        assert "mytrain 0.1.0" in order[side]["installed"]
        results = load_results([workdir / "results" / side])
        assert sorted(r.seed for r in results) == [0, 1] and {r.recipe for r in results} == {"tuned"}
        assert {r.environment["git_commit"] for r in results} == {commit}
        assert {r.calls[0].args[1] for r in results} == {lr}
        assert all(r.ok for r in results)

    # stdout is the comment, whole: the first line alone, the table, the legend folded, the marker last
    lines = proc.stdout.rstrip("\n").splitlines()
    assert lines[0].startswith("**recipebench**: 1 row ") and lines[0].endswith("; gate: none (no --fail-on)")
    assert "| tuned " in proc.stdout and "2 → 2 paired" in proc.stdout
    assert "<details><summary>" in proc.stdout and "</details>" in proc.stdout
    assert lines[-1] == github_comment.MARKER
    assert f"`{base_commit[:7]}`" in proc.stdout and f"`{head_commit[:7]}`" in proc.stdout
    assert "one machine" in proc.stdout


WORKFLOW = Path(__file__).resolve().parents[1] / "docs" / "examples" / "recipebench-pr.yml"


def test_the_example_workflow_passes_actionlint_and_finds_its_comment_by_the_marker():
    """The workflow a user copies: actionlint (from the test extra) finds nothing in it, and it looks for
    the marker the comment really carries."""
    import os
    import shutil

    text = WORKFLOW.read_text()
    assert github_comment.MARKER in text and "recipebench ab " in text and "--format github" in text
    assert "fetch-depth: 0" in text  # the merge base must be in the clone
    binary = shutil.which("actionlint", path=os.pathsep.join([str(Path(sys.executable).parent),
                                                              os.environ.get("PATH", "")]))
    if binary is None:
        pytest.skip("actionlint is not installed (pip install -e '.[test]' brings it)")
    proc = subprocess.run([binary, "-no-color", str(WORKFLOW)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_sides_own_copy_of_a_package_wins_over_the_shared_one(tmp_path):
    """The environment running ab has recipebench (here: an editable install); a side that ships its own
    recipebench imports its own, and finds the shared packages (torch) all the same."""
    side = tmp_path / "side"
    (side / "recipebench").mkdir(parents=True)
    (side / "recipebench" / "__init__.py").write_text("WHICH = 'the side'\n")
    (side / "pyproject.toml").write_text(PYPROJECT.replace('"mytrain"', '"recipebench"'))
    python = ab.make_environment(tmp_path / "env")
    installed = ab.install("base", side, python, tmp_path / "install.log")
    assert installed.startswith("recipebench 0.1.0 ")
    where = ab.recipebench_location(python, tmp_path)
    assert where.startswith(str(tmp_path / "env")), where
    probe = subprocess.run([str(python), "-c", "import recipebench, torch; print(recipebench.WHICH)"],
                           capture_output=True, text=True, cwd=tmp_path)
    assert probe.stdout.strip() == "the side", probe.stderr


def test_without_a_suite_it_says_where_one_comes_from(tmp_path):
    with pytest.raises(ab.ABError, match="has no recipes/conftest.py .* or give --suite DIR"):
        ab.choose_suite(tmp_path, None, str(tmp_path / "site-packages" / "recipebench" / "__init__.py"))
    with pytest.raises(ab.ABError, match="--suite bench: no such folder"):
        ab.choose_suite(tmp_path, Path("bench"), "")
