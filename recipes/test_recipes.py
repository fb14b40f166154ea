"""The benchmark suite: every registered recipe x seed, trained under the same harness.

    pytest recipes/ --benchmark-only [--scale smoke|quick|full] [--recipe NAME] [--seeds N] ...
"""
from recipebench.pytest_plugin import extra_info


def test_recipe(benchmark, bench_session, recipe_run):
    # Data, pretrained weights and the Learner are ready (recipe_run); only the recipe is timed.
    result = benchmark.pedantic(recipe_run.execute, rounds=1, iterations=1)
    path = bench_session.record(result)
    benchmark.extra_info.update(extra_info(result, path))
    assert result.ok, f"{result.recipe} seed {result.seed} failed (recorded in {path}):\n{result.error}"
