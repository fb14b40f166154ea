"""Hook specifications: everything a recipebench plugin can implement.

A plugin is any module or object with functions marked ``@hookimpl`` (from :mod:`recipebench`).
Built-in plugins (``plugins/``) are registered exactly like outside ones; outside ones come from the
entry-point group ``recipebench`` or from ``*.py`` files in ``--plugins-dir``.

Each hook receives a ``register`` callable bound to the calling plugin, so the harness knows which
plugin provided what (``recipebench list`` shows it, and a name registered twice is an error naming
both plugins). Hooks are called with keyword arguments, once per plugin, when the registry is built.
"""
from __future__ import annotations

import pluggy

from recipebench.api import HOOK_NAMESPACE, Arch, Metric, Recipe, Register, Workload

hookspec = pluggy.HookspecMarker(HOOK_NAMESPACE)


@hookspec
def recipebench_add_recipes(register: Register[Recipe]) -> None:
    """Register training recipes.

    Called once per plugin while the registry is built (before any test is collected).

    :param register: call ``register(Recipe(...))`` once for each recipe this plugin provides.
        A recipe name already registered by another plugin raises
        :class:`recipebench.registry.DuplicateNameError` naming both plugins.
    :return: nothing; results are ignored.
    """


@hookspec
def recipebench_add_workloads(register: Register[Workload]) -> None:
    """Register workloads (datasets plus the scales they run at).

    Called once per plugin while the registry is built. Registering is cheap: a workload's data is
    only generated, downloaded or checked when a session selects it (``Workload.prepare``).

    :param register: call ``register(Workload(...))`` once for each workload.
        A duplicate name raises :class:`recipebench.registry.DuplicateNameError` naming both plugins.
    :return: nothing; results are ignored.
    """


@hookspec
def recipebench_add_archs(register: Register[Arch]) -> None:
    """Register architectures that ``--arch`` and the scales may name.

    Called once per plugin while the registry is built.

    :param register: call ``register(Arch(...))`` once for each architecture, giving fastai's cut,
        parameter-group split and normalisation stats for it. A duplicate name raises
        :class:`recipebench.registry.DuplicateNameError` naming both plugins.
    :return: nothing; results are ignored.
    """


@hookspec
def recipebench_add_metrics(register: Register[Metric]) -> None:
    """Register metrics that every run is measured by.

    Called once per plugin while the registry is built. Every Learner the harness builds gets every
    registered metric (in registration order: the built-in ``error_rate`` first); every result records each
    one per epoch and at the end, with its spec (direction, resolution, how it is shown), and every table,
    the ranking, ``compare`` and the report show a column for it. ``--metric NAME`` chooses the one the
    ranking, time to target and the default gate use.

    :param register: call ``register(Metric(...))`` once for each metric. A duplicate name raises
        :class:`recipebench.registry.DuplicateNameError` naming both plugins.
    :return: nothing; results are ignored.
    """
