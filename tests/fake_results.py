"""Made-up results for tests about arithmetic: schema-valid RunResults with chosen figures, no training."""
from __future__ import annotations

from recipebench.record.results import SCHEMA_VERSION, Config, EpochRecord, Outcome, RunResult, WeightsInfo
from recipebench.registry import load_registry

#: What the made-up runs were measured by: the built-in error_rate alone.
METRICS = (load_registry().metric("error_rate").spec,)


def fake_outcome(name: str, error_rate: float | None, best_error_rate: float | None, best_epoch: int | None,
                 wall_s: float, samples_per_s: float | None, epochs=()) -> Outcome:
    """An Outcome whose final error_rate is also its one final metric."""
    return Outcome(name, error_rate, best_error_rate, best_epoch, wall_s, samples_per_s, tuple(epochs),
                   final_metrics={"error_rate": error_rate})


def fake_epochs(errors, epoch_s: float = 10.0, before_s: float = 0.0, clock: bool = True, frozen: int = 1,
                batches: int = 4) -> tuple[EpochRecord, ...]:
    """Epoch records with these error rates, each ``epoch_s`` long, after ``before_s`` of other work
    (an lr_find, say); ``clock=False`` as written before schema 5 (no elapsed_s, no batch losses)."""
    return tuple(EpochRecord(epoch=i + 1, phase="frozen" if i < frozen else "unfrozen", fit=1 + (i >= frozen),
                             train_loss=2.0 - i * 0.1, valid_loss=1.5 - i * 0.1, error_rate=e, wall_s=epoch_s,
                             train_s=epoch_s * 0.8, train_samples=480,
                             elapsed_s=before_s + epoch_s * (i + 1) if clock else None,
                             batch_losses=tuple(2.2 - i * 0.1 - b * 0.02 for b in range(batches)) if clock else (),
                             metrics={"error_rate": e})
                 for i, e in enumerate(errors))


def make_result(recipe: str = "baseline", seed: int = 0, error_rate: float | None = 0.1, wall_s: float = 20.0,
                memory_bytes: int | None = 1_200_000_000, outcomes=(), status: str = "ok", **changes) -> RunResult:
    """A schema-valid RunResult with these figures, for tests about arithmetic (no training).

    ``outcomes``: (name, error_rate, wall_s) triples; ``changes``: any other RunResult field.
    """
    scale = changes.pop("scale", "quick")
    fields = dict(
        schema_version=SCHEMA_VERSION, run_id=f"test/{recipe}-seed{seed}", session_id="test",
        created_utc="2026-01-01T00:00:00Z", status=status, error=None if status == "ok" else "Traceback: boom",
        recipe=recipe, recipe_plugin="tests", recipe_options={}, workload="synthetic", workload_fingerprint="f" * 64,
        scale=scale, seed=seed, device="cpu", device_name="Test CPU (2 threads)", precision="fp32",
        precision_requested="fp32", weights=WeightsInfo("synthetic-source", "resnet18", None, None),
        config=Config("resnet18", 96, 64, 32, scale, 0, None, None, 0.2, 42, "random(valid_pct=0.2, seed=42)"),
        n_classes=12, n_train=480, n_valid=120, error_rate=error_rate if status == "ok" else None,
        best_error_rate=error_rate if status == "ok" else None, best_epoch=1 if status == "ok" else None,
        wall_s=wall_s, samples_per_s=4800 / wall_s, peak_memory_bytes=memory_bytes,
        peak_memory_method="process peak RSS", peak_rss_bytes=memory_bytes, rss_at_start_bytes=None,
        cuda_max_allocated_bytes=None,
        cuda_max_reserved_bytes=None, epochs=(),
        outcomes=tuple(fake_outcome(name, er, er, 1, w, 2400 / w) for name, er, w in outcomes),
        lr_finds=(), calls=(), most_confused=(),
        versions={"python": "3.11.7", "torch": "2.14.1", "torchvision": "0.29.1", "fastai": "2.8.12", "cuda": None,
                  "recipebench": "0.1.0"},
        environment={"git_commit": "0" * 40, "git_dirty": False, "host": "testhost", "cpu": "Test CPU"},
    )
    fields.update(changes)
    final = fields["error_rate"] if fields["status"] == "ok" else None
    fields.setdefault("metrics", METRICS)
    fields.setdefault("final_metrics", {"error_rate": final})
    return RunResult(**fields)
