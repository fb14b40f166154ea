"""A deeper architecture in mixed precision, and the same recipe in float32 beside it:

    learn = vision_learner(dls, resnet50, metrics=error_rate).to_fp16()
    learn.fine_tune(6, freeze_epochs=3)

The workload's deeper architecture (resnet50 at every scale of the built-in workloads) with
``precision="mixed"``: fastai's ``to_fp16()`` on CUDA, bfloat16 autocast on CPU (``to_fp16()`` would
silently train in float32 there). ``resnet50_fp32`` is the same recipe in float32, so the table shows
what mixed precision bought (or cost) in time and memory.
"""
from recipebench import Recipe, hookimpl


def resnet50_fine_tune(ctx):
    ctx.learn.fine_tune(ctx.epochs(6), freeze_epochs=ctx.epochs(3))


@hookimpl
def recipebench_add_recipes(register):
    register(Recipe("resnet50_mixed_precision", resnet50_fine_tune, arch_role="deep", precision="mixed",
                    summary="deep arch, to_fp16() (bf16 autocast on CPU); fine_tune(6, freeze_epochs=3)"))
    register(Recipe("resnet50_fp32", resnet50_fine_tune, arch_role="deep", precision="fp32",
                    summary="the same in float32: fine_tune(6, freeze_epochs=3)"))
