"""The package as a user installs it: one import name, a plugin API in one place, layers that show."""
from __future__ import annotations

import ast
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO

#: Where each part of the ``recipebench`` package lives in the repository.
PACKAGE_DIRS = {"recipebench": REPO / "harness", "recipebench.plugins": REPO / "plugins"}
#: The analysis side: it works on results, never on how they are shown.
ANALYSIS = ("stats", "compare", "matrix", "noise", "report", "tables", "rows", "ranking", "timetotarget", "power",
            "seeds")
PRESENTATION = ("render", "cli", "pytest_plugin", "charts", "document")


def modules() -> dict[str, Path]:
    out = {}
    for package, folder in PACKAGE_DIRS.items():
        for path in sorted(folder.glob("*.py")):
            out[package if path.stem == "__init__" else f"{package}.{path.stem}"] = path
    return out


def imports(path: Path, module: str, top_level_only: bool) -> set[str]:
    """The recipebench modules ``module`` imports (module-level statements only, if ``top_level_only``;
    ``if TYPE_CHECKING:`` blocks count: they are module level)."""
    tree = ast.parse(path.read_text())
    nodes = []
    if top_level_only:
        todo = list(tree.body)
        while todo:
            node = todo.pop()
            if isinstance(node, ast.If):
                todo += node.body + node.orelse
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                nodes.append(node)
    else:
        nodes = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    known = modules()
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            base = node.module or ""
            if node.level:  # relative import
                base = ".".join(module.split(".")[: -node.level] + ([base] if base else []))
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        found |= {n for n in names if n in known and n != module}
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    out, state = [], {}

    def visit(node, stack):
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                out.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return out


@pytest.mark.parametrize("top_level_only", [True, False], ids=["module-level", "with-lazy-imports"])
def test_the_import_graph_has_no_circles(top_level_only):
    graph = {m: imports(p, m, top_level_only) for m, p in modules().items()}
    # The package's __init__ re-exports the plugin API; a module importing a sibling does not go through it.
    graph["recipebench"] = set()
    assert cycles(graph) == []


def test_modules_use_one_import_name():
    """Nothing in the package imports the repository's folder names ``harness`` or ``plugins``."""
    for module, path in modules().items():
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                assert node.module.split(".")[0] not in ("harness", "plugins"), f"{path}: from {node.module}"
            if isinstance(node, ast.Import):
                assert all(a.name.split(".")[0] not in ("harness", "plugins") for a in node.names), path


def test_the_analysis_side_does_not_import_the_presentation_side():
    for name in ANALYSIS:
        module = f"recipebench.{name}"
        found = imports(modules()[module], module, top_level_only=False)
        assert not found & {f"recipebench.{p}" for p in PRESENTATION}, f"{module} imports {found}"


def test_built_in_plugins_use_only_the_public_api():
    """A built-in plugin is written as an outside one would be: ``from recipebench import ...`` (and its
    sibling plugins), never the harness's internals."""
    import recipebench

    for module, path in modules().items():
        if not module.startswith("recipebench.plugins."):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("recipebench"):
                if node.module == "recipebench":
                    missing = [a.name for a in node.names if a.name not in recipebench.__all__]
                    assert not missing, f"{path}: {missing} are not in recipebench.__all__"
                else:
                    assert node.module.startswith("recipebench.plugins"), f"{path}: from {node.module} import ..."


def test_the_plugin_api_is_typed_and_exported():
    import typing

    import recipebench
    from recipebench import api

    assert "NAME" not in recipebench.__all__
    for name in ("hookimpl", "Recipe", "Workload", "Arch", "Scale", "RecipeContext", "Register", "Option"):
        assert name in recipebench.__all__ and getattr(recipebench, name) is getattr(api, name)
    hints = typing.get_type_hints(api.RecipeContext.epochs)
    assert hints == {"n": int, "return": int}
    # The harness's own context satisfies the protocol a recipe is typed against.
    from recipebench.context import RunContext
    from recipebench.measure import RunLog
    from recipebench.plugins.synthetic import SCALES

    ctx = RunContext(None, SCALES["smoke"], {}, RunLog("cpu"), new_learner=lambda: None, snapshot_dir=Path("."))
    assert isinstance(ctx, api.RecipeContext)


def test_recipe_options_are_one_mapping_of_option():
    from recipebench import Option, Recipe

    recipe = Recipe("r", lambda ctx: None, summary="s", options={"k": Option("a", ("a", "b")), "n": 3})
    assert recipe.options["k"].choices == ("a", "b") and recipe.options["n"] == Option(3)
    assert dict(recipe.defaults) == {"k": "a", "n": 3}
    with pytest.raises(ValueError, match="not one of its choices"):
        Option("c", ("a", "b"))


def test_a_wheel_exposes_only_recipebench(tmp_path):
    """A non-editable install gets one top-level package, ``recipebench`` (with ``recipebench.plugins``)."""
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                           "-w", str(tmp_path), str(REPO)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    (wheel,) = tmp_path.glob("recipebench-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names} == {"recipebench", wheel.name.split("-")[0] + "-"
                                                 + wheel.name.split("-")[1] + ".dist-info"}
    assert "recipebench/plugins/baseline.py" in names and "recipebench/schema/result.schema.json" in names
    assert not any(n.startswith(("harness/", "plugins/")) for n in names)
