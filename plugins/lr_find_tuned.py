"""The learning-rate finder's pick: ``lr_find(suggest_funcs=(minimum, steep))``, then ``fine_tune(2, base_lr=LR)``.

The chapter printed minimum/10 = 1.00e-02 and steep = 5.25e-03, then trained with ``base_lr=3e-3`` read
off the plot. Here LR comes from the finder: its ``minimum`` suggestion (fastai's ``minimum`` is already
the minimum divided by 10 -- the chapter's first advice) by default, or
``--recipe-option lr_find_tuned.suggestion=steep``. Both suggestions and the LR used are recorded.
"""
from recipebench import Option, Recipe, hookimpl


def lr_find_tuned(ctx):
    from fastai.callback.schedule import minimum, steep

    learn = ctx.learn
    lr_min, lr_steep = learn.lr_find(suggest_funcs=(minimum, steep))
    lr = {"minimum": lr_min, "steep": lr_steep}[ctx.options["suggestion"]]
    learn.fine_tune(ctx.epochs(2), base_lr=lr)


@hookimpl
def recipebench_add_recipes(register):
    register(Recipe("lr_find_tuned", lr_find_tuned, summary="lr_find(minimum, steep); fine_tune(2, base_lr=LR)",
                    options={"suggestion": Option("minimum", ("minimum", "steep"),
                                                  help="which lr_find suggestion is the base LR")}))
