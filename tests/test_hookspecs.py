"""Every hook is documented and typed (a hook nobody can understand is a hook nobody can implement)."""
import inspect

import pluggy

from recipebench import hookspecs
from recipebench.api import HOOK_NAMESPACE


def _specs():
    return [f for name, f in inspect.getmembers(hookspecs, inspect.isfunction) if name.startswith("recipebench_")]


def test_there_are_hooks_for_recipes_workloads_archs_and_outputs():
    names = {f.__name__ for f in _specs()}
    assert {"recipebench_add_recipes", "recipebench_add_workloads", "recipebench_add_archs",
            "recipebench_add_outputs"} <= names


def test_every_hook_is_documented_and_typed():
    for spec in _specs():
        doc = inspect.getdoc(spec) or ""
        assert "Called" in doc, f"{spec.__name__}: say when it is called"
        params = inspect.signature(spec).parameters
        for name, param in params.items():
            assert f":param {name}:" in doc, f"{spec.__name__}: document argument {name}"
            assert param.annotation is not inspect.Parameter.empty, f"{spec.__name__}: annotate {name}"
        assert ":return:" in doc, f"{spec.__name__}: say what the return value means"


def test_every_hook_is_a_spec_of_the_recipebench_project():
    pm = pluggy.PluginManager(HOOK_NAMESPACE)
    pm.add_hookspecs(hookspecs)
    for spec in _specs():
        assert getattr(pm.hook, spec.__name__).spec is not None
