"""Hooks and fixtures of the benchmark suite (options --workload, --scale, --seeds, --recipe, ...).

They live in :mod:`recipebench.suite.pytest_plugin`; importing them here applies them to ``pytest recipes/``.
"""
from recipebench.suite.pytest_plugin import (  # noqa: F401
    bench_session,
    pytest_addoption,
    pytest_collection_finish,
    pytest_configure,
    pytest_generate_tests,
    pytest_sessionfinish,
    pytest_terminal_summary,
    pytest_unconfigure,
    recipe_run,
)
