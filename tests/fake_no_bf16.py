"""A pytest plugin (``-p tests.fake_no_bf16``) for a benchmark subprocess: this CPU reports no native bfloat16,
as oneDNN does on an AVX2-only CPU, whatever CPU the test suite runs on."""
from __future__ import annotations

import recipebench.suite.session


def _no_native_bf16() -> dict:
    return {"native": False, "checked_by": "faked by tests/fake_no_bf16.py", "torch_cpu_capability": "avx2",
            "flags": []}


recipebench.suite.session.cpu_bf16 = _no_native_bf16
