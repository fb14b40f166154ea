"""The benchmark suite: every registered recipe x seed, trained under the same harness.

    pytest recipes/ --benchmark-only [--scale smoke|quick|full] [--recipe NAME] [--seeds N] ...
"""
from recipebench.suite.pytest_plugin import extra_info, run_case


def test_recipe(benchmark, bench_session, recipe_run):
    # Data, pretrained weights and the Learner are ready (recipe_run), or the case was submitted to a remote
    # executor; pytest-benchmark gets the result's wall_s, the recipe's own time (the final evaluation, the
    # memory meter's set-up, outcome saves and the wait for a remote case are not timed).
    result = run_case(benchmark, bench_session, recipe_run)
    saved = bench_session.record(result)
    benchmark.extra_info.update(extra_info(result, saved.path))
    assert saved.in_results_dir, (f"{result.recipe} seed {result.seed}: not in the results folder "
                                  f"({saved.problem}); the result is kept {saved.where}")
    assert result.ok, f"{result.recipe} seed {result.seed} {result.status} (recorded {saved.where}):\n{result.error}"
