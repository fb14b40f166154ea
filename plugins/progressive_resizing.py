"""The next chapter's progressive resizing (``suite="next_chapter"``: ``--suite next_chapter``):

    learn.dls = get_dls(128, 128)        # bs 128, size 128: 128/224 of the size, twice the batch
    learn.fit_one_cycle(4, 3e-3)
    learn.dls = get_dls(64, 224)         # the scale's batch size and size
    learn.fine_tune(5, 1e-3)

``get_dls(bs, size)`` is ``ctx.dataloaders``: the same items, split and Resize as the run's own DataLoaders,
under the same seed protocol (the chapter's drew a new unseeded split each time). Other scales keep the
chapter's proportions: first 128/224 of the scale's size (about half: 27 px at quick, 18 at smoke), twice its
batch size, then its size and batch size. Each epoch's result records the size and batch size it trained at. The
chapter trains from scratch; here the body is the session's (pretrained and frozen for the first fit).
"""
from recipebench import Recipe, hookimpl

SMALL, SIZE = 128, 224  # px: the chapter's first size and its target


def progressive_resizing(ctx):
    size, bs = ctx.scale.image_size, ctx.scale.batch_size
    ctx.learn.dls = ctx.dataloaders(image_size=size * SMALL // SIZE, batch_size=2 * bs)
    ctx.learn.fit_one_cycle(ctx.epochs(4), 3e-3)
    ctx.learn.dls = ctx.dataloaders(image_size=size, batch_size=bs)
    ctx.learn.fine_tune(ctx.epochs(5), 1e-3)


@hookimpl
def recipebench_add_recipes(register):
    register(Recipe("progressive_resizing", progressive_resizing, suite="next_chapter",
                    summary="x128/224 size, x2 bs: fit_one_cycle(4, 3e-3); fine_tune(5, 1e-3) (--suite next_chapter)"))
