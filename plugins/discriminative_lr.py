"""Discriminative learning rates: small for the early layers, larger for the later ones.

    learn.fit_one_cycle(3, 3e-3)
    learn.unfreeze()
    learn.fit_one_cycle(12, lr_max=slice(1e-6, 1e-4))
"""
from recipebench import Recipe, hookimpl


def discriminative_lr(ctx):
    learn = ctx.learn
    learn.fit_one_cycle(ctx.epochs(3), 3e-3)
    learn.unfreeze()
    learn.fit_one_cycle(ctx.epochs(12), lr_max=slice(1e-6, 1e-4))


@hookimpl
def recipebench_add_recipes(register):
    register(Recipe("discriminative_lr", discriminative_lr,
                    summary="fit_one_cycle(3, 3e-3); unfreeze; fit_one_cycle(12, lr_max=slice(1e-6, 1e-4))"))
