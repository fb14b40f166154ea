"""The harness must not change what is trained: its baseline equals a plain fastai script, bit for bit."""
from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import REPO


def plain_baseline(data_dir, weights, arch, presize, size, bs, epochs, seed, workers=0) -> dict:
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "plain_baseline.py"), "--data-dir", str(data_dir),
         "--weights", str(weights), "--arch", arch, "--presize", str(presize), "--size", str(size), "--bs", str(bs),
         "--epochs", str(epochs), "--seed", str(seed), "--workers", str(workers), "--json"],
        capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_the_harness_baseline_is_the_plain_fastai_script(smoke_session, baseline_result):
    r = baseline_result  # the harness's baseline, smoke scale, seed 0: fine_tune(1)
    scale, data = smoke_session.scale, smoke_session.data()
    weights = smoke_session.weights_for(smoke_session.arch_for(smoke_session.registry.recipe("baseline")))
    plain = plain_baseline(data.images_dir, weights.path, r.config.arch, scale.presize, scale.image_size,
                           scale.batch_size, epochs=1, seed=r.seed, workers=r.config.num_workers)
    assert (plain["n_train"], plain["n_valid"]) == (r.n_train, r.n_valid)
    assert plain["epoch_error_rates"] == [e.error_rate for e in r.epochs]
    assert plain["train_losses"] == [e.train_loss for e in r.epochs]  # bit for bit, not approximately
    # the same final error: fastai's float32 metric there, the confusion matrix's count here
    assert round(plain["error_rate"] * r.n_valid) == round(r.error_rate * r.n_valid)
    assert abs(plain["error_rate"] - r.error_rate) < 1e-6
