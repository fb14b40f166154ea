"""The benchmark suite: every registered recipe x seed, trained under the same harness.

    pytest recipes/ --benchmark-only [--scale smoke|quick|full] [--recipe NAME] [--seeds N] ...
"""
from recipebench.suite.running import run_and_record


def test_recipe(benchmark, recipe_run):
    # Data, pretrained weights and the Learner are ready (recipe_run), or the case was submitted to a remote
    # executor; pytest-benchmark gets the result's wall_s, the recipe's own time (the final evaluation, the
    # memory meter's set-up, outcome saves and the wait for a remote case are not timed). The test fails when
    # the case did not finish ok, or its result is not in the results folder (it says where it is kept).
    run_and_record(benchmark, recipe_run)
