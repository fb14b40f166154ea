"""Train the head, unfreeze, ask the finder again, train everything:

    learn.fit_one_cycle(3, 3e-3)
    learn.unfreeze()
    learn.lr_find()
    learn.fit_one_cycle(6, lr_max=LR)

The chapter read ``lr_max=1e-5`` off the second finder's plot; here LR is that finder's suggestion
(fastai's default, ``valley``; ``--recipe-option freeze_unfreeze.suggestion=minimum|steep|slide``).
"""
from recipebench import Option, Recipe, hookimpl

SUGGESTIONS = ("valley", "minimum", "steep", "slide")


def freeze_unfreeze(ctx):
    from fastai.callback import schedule

    learn = ctx.learn
    learn.fit_one_cycle(ctx.epochs(3), 3e-3)
    learn.unfreeze()
    choice = ctx.options["suggestion"]
    # lr_find() as the chapter calls it when the choice is fastai's default suggestion
    found = learn.lr_find() if choice == "valley" else learn.lr_find(suggest_funcs=(getattr(schedule, choice),))
    learn.fit_one_cycle(ctx.epochs(6), lr_max=getattr(found, choice))


@hookimpl
def recipebench_add_recipes(register):
    register(Recipe("freeze_unfreeze", freeze_unfreeze,
                    summary="fit_one_cycle(3, 3e-3); unfreeze; lr_find(); fit_one_cycle(6, lr_max=LR)",
                    options={"suggestion": Option("valley", SUGGESTIONS, help="which lr_find suggestion to train with")}))
