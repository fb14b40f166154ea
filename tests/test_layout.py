"""The package as a user installs it: one import name, a plugin API in one place, layers that show."""
from __future__ import annotations

import ast
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO

#: Where the ``recipebench`` package lives in the repository (``plugins/`` is its subpackage ``recipebench.plugins``).
PACKAGE_DIRS = {"recipebench": REPO / "harness", "recipebench.plugins": REPO / "plugins"}
#: The top of the package: the plugin API (and ``python -m recipebench``); everything else is a stage subpackage.
TOP = ("api", "hookspecs", "registry", "__main__")
#: The stages, by subpackage, and the subpackages (or top modules) each may import. Read down the list: a stage
#: may import those above it that it names, never one below. The analysis works on results and never imports
#: the presentation (render) or the command line; the record (the result model) imports no stage at all.
LAYERS = {
    "record": {"api"},
    "data": {"record", "api", "registry"},
    "train": {"data", "record", "api"},
    "analysis": {"record"},
    "render": {"analysis", "record"},
    "suite": {"train", "data", "record", "analysis", "render", "api", "registry", "hookspecs"},
    "commands": {"suite", "train", "data", "record", "analysis", "render", "api", "registry"},
}


def modules() -> dict[str, Path]:
    """Every module of the package, by dotted name (a subpackage's ``__init__`` by the subpackage's name)."""
    out = {}
    for package, folder in PACKAGE_DIRS.items():
        for path in sorted(folder.rglob("*.py")):
            rel = path.relative_to(folder).with_suffix("").parts
            if package == "recipebench" and rel[0] == "plugins":
                continue
            parts = rel[:-1] if rel[-1] == "__init__" else rel
            out[".".join((package, *parts))] = path
    return out


def stage(module: str) -> str:
    """The part of the package a module belongs to: its stage subpackage, ``plugins``, or its top module's name."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "(top)"


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


def test_the_folders_are_the_stages_and_the_plugin_api_is_at_the_top():
    harness = REPO / "harness"
    top = {p.stem for p in harness.glob("*.py")} - {"__init__"}
    assert top == set(TOP), f"modules at the top of harness/ other than the plugin API: {top - set(TOP)}"
    folders = {p.name for p in harness.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert folders == set(LAYERS), folders
    for module, path in modules().items():
        doc = ast.get_docstring(ast.parse(path.read_text()))
        assert doc and doc.strip(), f"{path}: no docstring saying what the module does"
        assert path.stem not in ("utils", "util", "helpers", "misc", "common"), f"{path}: a catch-all name"


@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_each_stage_imports_only_the_stages_it_may(layer):
    """By folder (prefix), lazy imports included: no hand-kept module lists."""
    for module, path in modules().items():
        if stage(module) != layer:
            continue
        for target in imports(path, module, top_level_only=False):
            theirs = stage(target)
            if target == "recipebench":  # the package's top re-exports the plugin API
                theirs = "api"
            assert theirs == layer or theirs in LAYERS[layer], f"{module} ({layer}) imports {target} ({theirs})"


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
    from recipebench.train.context import RunContext
    from recipebench.train.measure import RunLog
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
    assert "recipebench/plugins/baseline.py" in names and "recipebench/record/schema/result.schema.json" in names
    assert {f"recipebench/{stage}/__init__.py" for stage in LAYERS} <= set(names)
    assert not any(n.startswith(("harness/", "plugins/")) for n in names)
