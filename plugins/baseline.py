"""The chapter's first model: ``learn.fine_tune(2)`` -- one frozen epoch, then two unfrozen."""
from recipebench import Recipe, hookimpl


def baseline(ctx):
    ctx.learn.fine_tune(ctx.epochs(2))


@hookimpl
def recipebench_add_recipes(register):
    register(Recipe("baseline", baseline, summary="fine_tune(2)"))
