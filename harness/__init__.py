"""recipebench: a pluggable benchmark harness for fastai image-classification training recipes.

Writing a recipe plugin takes one short file::

    from harness import Recipe, hookimpl

    def two_cycles(ctx):
        \"\"\"Train the head, then the whole network.\"\"\"
        ctx.learn.fit_one_cycle(ctx.epochs(1), 3e-3)
        ctx.learn.unfreeze()
        ctx.learn.fit_one_cycle(ctx.epochs(2), slice(1e-5, 1e-3))

    @hookimpl
    def recipebench_add_recipes(register):
        register(Recipe("two_cycles", two_cycles, summary="fit_one_cycle(1); unfreeze; fit_one_cycle(2)"))

Put it in a folder and run ``pytest recipes/ --benchmark-only --plugins-dir FOLDER``, or ship it in a
package with an entry point in the group ``recipebench``.

The stages, one module each: data (:mod:`harness.data`) -> learner (:mod:`harness.learner`) ->
recipe (:mod:`harness.context`) -> measure (:mod:`harness.measure`) -> store (:mod:`harness.store`)
-> compare (:mod:`harness.compare`) -> render (:mod:`harness.render`); :mod:`harness.runner`
strings them together for one run.
"""
from harness.hookspecs import NAME, hookimpl
from harness.spec import Arch, PreparedData, Recipe, Scale, WeightsFile, Workload, WorkloadRequest

__version__ = "0.1.0"
__all__ = [
    "NAME",
    "Arch",
    "PreparedData",
    "Recipe",
    "Scale",
    "WeightsFile",
    "Workload",
    "WorkloadRequest",
    "hookimpl",
    "__version__",
]
