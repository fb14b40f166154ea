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

from recipebench.api import HOOK_NAMESPACE, Arch, Evaluation, Metric, Output, Recipe, Register, Workload

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
    ranking, time to target and the verdicts use.

    :param register: call ``register(Metric(...))`` once for each metric. A duplicate name raises
        :class:`recipebench.registry.DuplicateNameError` naming both plugins.
    :return: nothing; results are ignored.
    """


@hookspec
def recipebench_add_outputs(register: Register[Output]) -> None:
    """Register outputs: where a finished session's results go (a file in the session folder, a chart,
    a tracker such as MLflow).

    Called once per plugin while the registry is built. An output runs only when a session asks for it
    (``--output NAME``; outputs registered with ``default=True`` run unless ``--output no:NAME``) or
    ``recipebench export NAME RESULTS`` does, after every result document is on disk.

    :param register: call ``register(Output(...))`` once for each output. A duplicate name raises
        :class:`recipebench.registry.DuplicateNameError` naming both plugins.
    :return: nothing; results are ignored.
    """


@hookspec
def recipebench_add_evaluations(register: Register[Evaluation]) -> None:
    """Register evaluations: ways to evaluate a run's final weights other than the plain validation (the
    built-in ``tta``, fastai's ``learn.tta(n=4, beta=0.25)``), which ``--evaluate NAME`` and
    ``Recipe(evaluations=(NAME,))`` ask for.

    Called once per plugin while the registry is built. The harness runs an evaluation after the recipe, on
    the final weights and on each outcome's, times it apart from the training and records each as a row of
    its own (``baseline > tta``); the plugin only makes the predictions::

        @hookimpl
        def recipebench_add_evaluations(register):
            register(Evaluation("tta8", lambda ctx: ctx.learn.tta(n=8), summary="learn.tta(n=8)"))

    :param register: call ``register(Evaluation(...))`` once for each evaluation. A duplicate name raises
        :class:`recipebench.registry.DuplicateNameError` naming both plugins.
    :return: nothing; results are ignored.
    """
