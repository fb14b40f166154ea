"""Plugins: built-ins, --plugins-dir files, installed distributions' entry points, and clear errors."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import pluggy
import pytest

from recipebench import Recipe, hookimpl
from recipebench.registry import (
    BUILTIN_PLUGINS,
    DuplicateNameError,
    PluginError,
    UnknownNameError,
    build_registry,
    get_plugin_manager,
    load_registry,
)

PLUGIN_SOURCE = '''
from recipebench import Recipe, hookimpl

def {name}(ctx):
    ctx.learn.fit_one_cycle(ctx.epochs(1), 1e-3)

@hookimpl
def recipebench_add_recipes(register):
    register(Recipe("{name}", {name}, summary="fit_one_cycle(1, 1e-3)"))
'''


def test_builtins_are_registered_like_any_plugin(registry):
    assert registry.recipes["baseline"].plugin == "recipebench.plugins.baseline"
    assert registry.recipes["baseline"].origin == "built-in"
    assert "synthetic" in registry.workloads
    assert {"resnet18", "resnet34", "resnet50", "mobilenet_v2"} <= set(registry.archs)
    pm = get_plugin_manager()
    assert {name for name, _ in pm.list_name_plugin()} >= set(BUILTIN_PLUGINS)


def test_unknown_name_lists_the_known_ones(registry):
    with pytest.raises(UnknownNameError, match="unknown recipe 'nope'.*baseline"):
        registry.recipe("nope")


class _Twin:
    """A hand-registered plugin that reuses the built-in recipe name."""

    @hookimpl
    def recipebench_add_recipes(self, register):
        register(Recipe("baseline", lambda ctx: None, summary="impostor"))


def test_same_recipe_name_twice_names_both_plugins():
    pm = get_plugin_manager()
    pm.register(_Twin(), name="twin-plugin")
    try:
        with pytest.raises(DuplicateNameError) as info:
            build_registry(pm)
    finally:
        pm.unregister(name="twin-plugin")
    assert "'recipebench.plugins.baseline'" in str(info.value) and "'twin-plugin'" in str(info.value)


def test_a_plugin_registering_the_wrong_thing_is_named():
    class Wrong:
        @hookimpl
        def recipebench_add_recipes(self, register):
            register("baseline2")

    pm = get_plugin_manager()
    pm.register(Wrong(), name="wrong-plugin")
    with pytest.raises(PluginError, match="wrong-plugin.*expected a Recipe"):
        build_registry(pm)


def test_plugins_dir_loads_every_py_file(tmp_path):
    (tmp_path / "local_one.py").write_text(PLUGIN_SOURCE.format(name="local_one"))
    (tmp_path / "local_two.py").write_text(PLUGIN_SOURCE.format(name="local_two"))
    (tmp_path / "notes.txt").write_text("not a plugin")
    registry = load_registry(tmp_path)
    assert registry.recipes["local_one"].origin == str(tmp_path / "local_one.py")
    assert registry.recipe("local_two").summary == "fit_one_cycle(1, 1e-3)"
    assert "baseline" in registry.recipes


def test_plugins_dir_import_error_names_the_file(tmp_path):
    bad = tmp_path / "broken.py"
    bad.write_text("def oops(:\n")
    with pytest.raises(PluginError, match="broken.py:1: SyntaxError: .* failed to import"):
        load_registry(tmp_path)


def test_plugins_dir_must_exist(tmp_path):
    with pytest.raises(PluginError, match="not a directory"):
        load_registry(tmp_path / "missing")


@pytest.fixture(scope="module")
def installed_dist(tmp_path_factory):
    """A separate distribution, ``rb-outside``, really installed by pip into its own folder."""
    src = tmp_path_factory.mktemp("rb_outside_src")
    (src / "rb_outside_recipes.py").write_text(PLUGIN_SOURCE.format(name="outside_recipe"))
    (src / "pyproject.toml").write_text(textwrap.dedent("""
        [build-system]
        requires = ["setuptools>=61"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "rb-outside"
        version = "1.0"

        [tool.setuptools]
        py-modules = ["rb_outside_recipes"]

        [project.entry-points.recipebench]
        outside = "rb_outside_recipes"
    """))
    target = tmp_path_factory.mktemp("rb_outside_site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", "--no-build-isolation",
         "--target", str(target), str(src)],
        check=True, capture_output=True, text=True,
    )
    return target


def test_recipe_from_an_installed_distribution_is_found_through_its_entry_point(installed_dist, monkeypatch):
    monkeypatch.syspath_prepend(str(installed_dist))
    registry = load_registry()
    entry = registry.recipes["outside_recipe"]
    assert entry.plugin == "outside"
    assert entry.origin == "entry point of rb-outside 1.0"
    assert registry.recipe("outside_recipe").summary == "fit_one_cycle(1, 1e-3)"


def test_recipebench_list_shows_outside_plugins(installed_dist, tmp_path):
    env = {"PYTHONPATH": str(installed_dist), "PATH": ""}
    (tmp_path / "local_one.py").write_text(PLUGIN_SOURCE.format(name="local_one"))
    out = subprocess.run([sys.executable, "-m", "recipebench", "list", "--plugins-dir", str(tmp_path)],
                         capture_output=True, text=True, env=env, check=True).stdout
    assert "outside_recipe" in out and "entry point of rb-outside 1.0" in out
    assert "local_one" in out and str(tmp_path / "local_one.py") in out
    assert "baseline" in out and "recipebench.plugins.baseline [built-in]" in out
    assert "synthetic" in out and "recipebench.plugins.synthetic [built-in]" in out
    assert "class = top-level folder, DIR/<class>/... at any depth (--labels parent" in out  # the folder workload


def test_a_broken_entry_point_is_named(tmp_path, monkeypatch):
    dist = tmp_path / "rb_broken-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: rb-broken\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[recipebench]\nbroken = rb_no_such_module\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(PluginError, match="cannot load plugin 'broken'.*rb-broken 0.1"):
        load_registry()


def test_pluggy_marker_name_is_the_project_name():
    assert isinstance(hookimpl, pluggy.HookimplMarker)
    assert hookimpl.project_name == "recipebench"
