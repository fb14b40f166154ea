"""recipebench: a pluggable benchmark harness for fastai image-classification training recipes.

This package's top level is the plugin API: everything a plugin author touches is in ``__all__``
(the types are defined in :mod:`recipebench.api`). A recipe plugin takes one short file::

    from recipebench import Recipe, RecipeContext, hookimpl

    def two_cycles(ctx: RecipeContext) -> None:
        \"\"\"Train the head, then the whole network.\"\"\"
        ctx.learn.fit_one_cycle(ctx.epochs(1), 3e-3)
        ctx.learn.unfreeze()
        ctx.learn.fit_one_cycle(ctx.epochs(2), slice(1e-5, 1e-3))

    @hookimpl
    def recipebench_add_recipes(register):
        register(Recipe("two_cycles", two_cycles, summary="fit_one_cycle(1); unfreeze; fit_one_cycle(2)"))

Put it in a folder and run ``pytest recipes/ --benchmark-only --plugins-dir FOLDER``, or ship it in a
package with an entry point in the group ``recipebench``.

A workload plugin returns :class:`PreparedData` from its ``prepare``; the helpers here make that
short: :func:`checked_data` (a folder of outside images, checked file by file), :func:`folder_data`
(images the plugin generated), :func:`cached_dir` (made once, atomically), :func:`pretrained_body`
(a body pretrained on source classes, cached), :func:`probe` and :func:`socket_timeout` (downloads
that fail fast offline).

An output plugin registers an :class:`Output` whose ``write`` gets a :class:`SessionOutput` (the results,
the session table, the epochs chart); :func:`atomic_write` (a file complete or not at all) and
:func:`set_aside` (an earlier file of the session folder moved to ``attempts/``) are for the files it writes,
:func:`rows` gives a result's rows as the tables show them (the run, then each sub-result).

The harness's stages, one module each: data (:mod:`recipebench.data.datablock`) -> learner
(:mod:`recipebench.train.learner`) -> recipe (:mod:`recipebench.train.context`) -> measure
(:mod:`recipebench.train.measure`) -> store (:mod:`recipebench.record.store`) -> compare
(:mod:`recipebench.analysis.compare`) -> render (:mod:`recipebench.render.session_table`); :mod:`recipebench.train.runner`
strings them together for one run.
"""
from importlib.metadata import version as _distribution_version

from recipebench.api import (
    Arch,
    Evaluation,
    EvaluationContext,
    FolderSplit,
    Metric,
    MetricSpec,
    Option,
    Output,
    PreparedData,
    Recipe,
    RecipeContext,
    Register,
    Scale,
    SessionOutput,
    Span,
    WeightsFile,
    Workload,
    WorkloadRequest,
    hookimpl,
)
from recipebench.analysis.rows import rows
from recipebench.data.cache import cached_dir
from recipebench.record.atomic import atomic_write
from recipebench.record.store import set_aside
from recipebench.data.checks import checked_data
from recipebench.data.datablock import PETS_LABEL_RE, folder_data
from recipebench.data.fetch import probe, socket_timeout
from recipebench.train.pretrain import PretrainSettings, pretrained_body
from recipebench.train.weights import IMAGENET

__version__ = _distribution_version("recipebench")
__all__ = [
    "IMAGENET",
    "PETS_LABEL_RE",
    "Arch",
    "Evaluation",
    "EvaluationContext",
    "FolderSplit",
    "Metric",
    "MetricSpec",
    "Option",
    "Output",
    "PreparedData",
    "PretrainSettings",
    "Recipe",
    "RecipeContext",
    "Register",
    "Scale",
    "SessionOutput",
    "Span",
    "WeightsFile",
    "Workload",
    "WorkloadRequest",
    "__version__",
    "atomic_write",
    "cached_dir",
    "checked_data",
    "folder_data",
    "hookimpl",
    "pretrained_body",
    "probe",
    "rows",
    "set_aside",
    "socket_timeout",
]
