"""The benchmark suite: every registered recipe x seed, trained under the same harness.

    pytest recipes/ --benchmark-only [--scale smoke|quick|full] [--recipe NAME] [--seeds N] ...
"""
from recipebench.pytest_plugin import extra_info


def test_recipe(benchmark, bench_session, recipe_run):
    # Data, pretrained weights and the Learner are ready (recipe_run); pytest-benchmark times exactly
    # the recipe (train), the same stretch the result's wall_s measures; the final evaluation is not timed.
    benchmark.pedantic(recipe_run.train, rounds=1, iterations=1)
    result = recipe_run.finish()
    saved = bench_session.record(result)
    benchmark.extra_info.update(extra_info(result, saved.path))
    assert saved.in_results_dir, (f"{result.recipe} seed {result.seed}: the results folder could not be written "
                                  f"({saved.problem}); the result is kept at {saved.path}")
    assert result.ok, f"{result.recipe} seed {result.seed} {result.status} (recorded in {saved.path}):\n{result.error}"
