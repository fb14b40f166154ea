"""One run, stage by stage: data -> learner -> recipe (measured) -> final evaluation (and the registered
evaluations asked for, each timed on its own) -> result.

:func:`prepare` does everything that is not the recipe (seeding, DataLoaders, the Learner) so that
:meth:`PreparedRun.execute` times exactly the recipe. A recipe that raises is recorded as a result
with ``status: "error"`` and the traceback, not lost.
"""
from __future__ import annotations

import dataclasses
import shutil
import tempfile
import time
import traceback
import types
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

from recipebench.data import datablock as data_mod
from recipebench.train import precision as precision_mod
from recipebench.api import Arch, Evaluation, EvaluationContext, Metric, PreparedData, Recipe, Scale, WeightsFile
from recipebench.train.context import MeasuredSpan, RunContext, evaluate_outcomes, validated
from recipebench.record.environment import device_name, environment, is_cuda
from recipebench.train.learner import add_normalize, build_learner
from recipebench.train.measure import (CallLog, PeakMemory, RunLog, RunObserver, Stopwatch, release_freed_memory,
                                       synchronize)
from recipebench.train.precision import autocast_off
from recipebench.record.results import (
    SCHEMA_VERSION,
    STATUS_DIVERGED,
    STATUS_ERROR,
    STATUS_OK,
    Config,
    ConfusedPair,
    EvaluationResult,
    Outcome,
    RunResult,
    WeightsInfo,
)

MOST_CONFUSED_TOP = 10


@dataclass(frozen=True)
class RunPlan:
    """Everything that defines one run."""

    recipe: Recipe
    recipe_plugin: str
    recipe_options: Mapping[str, Any]
    workload: str
    data: PreparedData
    scale: Scale
    arch: Arch
    weights: WeightsFile | None
    seed: int
    device: Any  # torch.device
    session_id: str
    #: The checkout's git commit and dirtiness when the session started, i.e. of the code that was
    #: loaded; read again at the end of a long run it could name a later commit.
    code_state: Mapping[str, Any]
    #: The package versions when the session started (the modules it imported).
    versions: Mapping[str, Any]
    #: cuDNN's deterministic algorithms and torch.use_deterministic_algorithms (--deterministic).
    deterministic: bool = False
    #: Run after the recipe on its final weights and each outcome's (``Recipe.evaluations``, then ``--evaluate``).
    evaluations: tuple[Evaluation, ...] = ()
    #: What the run is measured by: every registered metric, in registration order (error_rate first).
    #: Empty: fastai's error_rate alone, unrecorded as a metric of its own (a plan made by hand).
    metrics: tuple[Metric, ...] = ()


def prepare(plan: RunPlan, observer: RunObserver | None = None) -> PreparedRun:
    """Seed, build the DataLoaders, seed again, build the Learner (not timed).

    The seed protocol: ``set_seed(seed, reproducible=True)`` before the DataLoaders (their shuffling
    generator is drawn from it), then ``set_seed(seed)`` again, because building the DataLoaders runs
    ``RandomSplitter(seed=42)``, which calls ``torch.manual_seed(42)``: without the second call every
    seed would start the head from the same weights and draw the same augmentations. The split stays
    the same for every seed.
    """
    return PreparedRun(plan, seeded_dataloaders(plan, plan.scale), observer)


def seeded_dataloaders(plan: RunPlan, scale: Scale):
    """The DataLoaders of ``plan``'s data at ``scale``, under the seed protocol (see :func:`prepare`)."""
    seed_run(plan.seed, plan.deterministic)  # before the DataLoaders, as fastai requires
    dls = data_mod.dataloaders(plan.data, scale, plan.device)
    seed_run(plan.seed, plan.deterministic)  # the splitter re-seeded torch with 42: the run's seed again
    return dls


def seed_run(seed: int, deterministic: bool) -> None:
    """fastai's ``set_seed(seed, reproducible=deterministic)``, and the cuDNN flags set either way, so no
    run inherits them from the one before. Without ``deterministic`` they are torch's defaults, which
    the chapter ran with (``cudnn.deterministic`` slows a GPU and still leaves fastai's pooling backward
    nondeterministic); with it, ``torch.use_deterministic_algorithms`` too (warning where an op has none)."""
    import torch
    from fastai.torch_core import set_seed

    set_seed(seed, reproducible=deterministic)
    torch.backends.cudnn.deterministic = deterministic
    torch.backends.cudnn.benchmark = False
    torch.use_deterministic_algorithms(deterministic, warn_only=True)


class PreparedRun:
    """A run ready to go: :meth:`train` runs the recipe, measured (and nothing else: it is what
    pytest-benchmark times), :meth:`finish` evaluates the final weights and returns the
    :class:`RunResult`; :meth:`execute` does both."""

    def __init__(self, plan: RunPlan, dls, observer: RunObserver | None = None) -> None:
        self.plan, self.dls = plan, dls
        self.workdir = Path(tempfile.mkdtemp(prefix=f"recipebench-{plan.recipe.name}-"))
        self.log = RunLog(plan.device, observer=observer, metric_names=tuple(m.name for m in plan.metrics))
        self._calls = CallLog(self.log, plan.scale.lr_find_num_it)
        self.built: tuple[str, tuple[str, ...]] | None = None  # the loss and callback classes the Learner got
        self.learn = self._new_learner()
        self.ctx: RunContext | None = None
        self.status, self.error, self.divergence = STATUS_OK, None, None
        self.memory, self.watch = PeakMemory(plan.device), Stopwatch(plan.device)
        release_freed_memory()  # before the clock starts: the RSS the recipe starts from has no leftovers

    def _new_learner(self):
        p = self.plan
        loss = p.recipe.loss_func() if p.recipe.loss_func is not None else None  # fresh ones for each Learner
        cbs = [factory() for factory in p.recipe.cbs]
        learn = build_learner(self.dls, p.arch, p.weights, p.recipe.precision, p.device, path=self.workdir,
                              loss_func=loss, cbs=cbs, metrics=p.metrics)
        self.built = (_class_name(learn.loss_func), tuple(_class_name(cb) for cb in cbs))
        from recipebench.train.callbacks import harness_callbacks

        learn.add_cbs(harness_callbacks(self.log))
        self._calls.attach(learn)
        return learn

    def _dataloaders(self, scale: Scale):
        """``ctx.dataloaders(...)``: the run's items and split at ``scale``'s sizes, normalised as the run's
        first DataLoaders were, under the seed protocol."""
        p = self.plan
        dls = seeded_dataloaders(p, scale)
        if p.weights is not None:  # as build_learner normalises the DataLoaders of a pretrained body
            add_normalize(dls, p.arch, p.device)
        return dls

    def _next_learner(self):
        """``ctx.new_learner()``: the run's Learner is let go of and its memory freed (untimed: the harness's
        own work), then a fresh one built (timed: the recipe asked for it)."""
        t0 = time.perf_counter()
        self.learn = None
        release_freed_memory(self.plan.device)
        self.log.overhead_s += time.perf_counter() - t0
        self.learn = self._new_learner()
        return self.learn

    def train(self) -> None:
        """Run the recipe under the stopwatch and the memory meter. A recipe that raises is recorded
        (status "error", with the traceback), one whose training diverges too (status "diverged");
        KeyboardInterrupt still stops the session."""
        from recipebench.train.callbacks import TrainingDiverged

        p = self.plan
        self.ctx = RunContext(self.learn, p.scale, p.recipe_options, self.log, new_learner=self._next_learner,
                              snapshot_dir=self.workdir, dataloaders=self._dataloaders)
        try:
            with autocast_off(), self.memory, self.watch:
                self.log.started_at = time.perf_counter()  # the clock of each epoch's elapsed_s
                try:
                    p.recipe.train(self.ctx)
                except TrainingDiverged as exc:
                    self.status, self.error, self.divergence = STATUS_DIVERGED, str(exc), exc.divergence
                except Exception:
                    self.status, self.error = STATUS_ERROR, traceback.format_exc()
        except BaseException:
            self.close()
            raise

    def finish(self) -> RunResult:
        """The final evaluation (of a successful run), the registered evaluations asked for (on the final
        weights, then on each outcome's) and the result; frees the run. None of it is in ``wall_s``."""
        if self.ctx is None:
            raise RuntimeError("finish() before train()")
        try:
            final_error, confused = (None, ()) if self.status != STATUS_OK else _final_evaluation(self.ctx.learn)
            final = validated(self.ctx.learn) if self.status == STATUS_OK else {}
            evaluated = []
            if self.status == STATUS_OK:  # after the run's own evaluation: this loads each outcome's weights
                evaluated += self._evaluate(self.ctx.learn, None)
                evaluate_outcomes(self.ctx.learn, self.ctx.spans, self.plan.device,
                                  then=lambda learn, span: evaluated.extend(self._evaluate(learn, span.name)))
            else:
                evaluated += _not_evaluated(self.plan, f"the run's status is {self.status}")
            return self._result(self.ctx, self.watch.elapsed_s - self.log.overhead_s, final_error, confused, final,
                                tuple(evaluated))
        finally:
            self.ctx.learn = None
            self.close()

    def execute(self) -> RunResult:
        self.train()
        return self.finish()

    def _evaluate(self, learn, outcome: str | None) -> list[EvaluationResult]:
        """Each of the plan's evaluations of the weights ``learn`` holds (those of ``outcome``; None: the final
        ones): seeded with the run's seed (TTA draws augmentations), timed, its error rate computed from its
        predictions. One that raises is recorded with its traceback; the run stays as it was."""
        p, out = self.plan, []
        for evaluation in p.evaluations:
            seed_run(p.seed, p.deterministic)
            synchronize(p.device)
            t0 = time.perf_counter()
            try:
                preds, targets = evaluation.predict(EvaluationContext(learn, p.scale))
                synchronize(p.device)
                inference_s = time.perf_counter() - t0
                out.append(EvaluationResult(evaluation.name, outcome, _error_rate(preds, targets), inference_s))
            except Exception:
                out.append(EvaluationResult(evaluation.name, outcome, None, None, traceback.format_exc()))
        return out

    def close(self) -> None:
        """Free the run's Learner, data and working folder (done by :meth:`execute`; call it for a run
        prepared but never executed). Whoever holds this object (a pytest fixture, say) must not make
        the next recipe's peak memory include this one's Learner and data."""
        self.learn = self.dls = None
        shutil.rmtree(self.workdir, ignore_errors=True)

    def _result(self, ctx: RunContext, wall_s: float, final_error: float | None, confused,
                final: Mapping[str, float | None], evaluations: tuple[EvaluationResult, ...] = ()) -> RunResult:
        p, log, memory = self.plan, self.log, self.memory
        workers = data_mod.worker_count(self.dls)
        best_error, best_epoch = _best(log.epochs)
        n_valid = len(self.dls.valid_ds)
        return RunResult(
            **_planned(p, workers, self.built),
            final_metrics=final_metrics(p.metrics, final, n_valid),
            status=self.status,
            error=self.error,
            device_name=device_name(p.device),
            precision=precision_mod.observed_label(log.pred_dtypes),
            n_classes=int(self.dls.c),
            n_train=len(self.dls.train_ds),
            n_valid=n_valid,
            error_rate=final_error,
            best_error_rate=best_error,
            best_epoch=best_epoch,
            wall_s=max(wall_s, 0.0),
            samples_per_s=_throughput(log.epochs),
            peak_memory_bytes=memory.peak_bytes,
            peak_memory_method=memory.method + (
                f"; main process only: {workers} DataLoader worker processes not counted"
                if workers and not memory.is_cuda else ""),
            peak_rss_bytes=memory.peak_rss_bytes,
            rss_at_start_bytes=memory.rss_at_start_bytes,
            cuda_max_allocated_bytes=memory.cuda_max_allocated_bytes,
            cuda_max_reserved_bytes=memory.cuda_max_reserved_bytes,
            epochs=tuple(log.epochs),
            outcomes=tuple(_outcome(span, log, p.metrics, n_valid) for span in ctx.spans if span.report),
            lr_finds=tuple(log.lr_finds),
            calls=tuple(log.calls),
            most_confused=tuple(confused),
            versions=dict(p.versions),
            environment=environment(p.device, p.code_state),
            divergence=self.divergence,
            evaluations=evaluations,
        )


def lost_result(plan: RunPlan, error: str, device_label: str, versions: Mapping[str, Any],
                where: Mapping[str, Any]) -> RunResult:
    """The result of a run that ended without making its own: a remote worker that died (killed, out of
    memory) or whose task failed before training. Status "error" with ``error`` saying why; nothing was
    measured (wall_s 0, no epochs). ``device_label``, ``versions`` and ``where`` (the environment) are the
    worker's as far as it reported them; the image counts are the data's as its workload counted them."""
    counts = plan.data.class_counts
    return RunResult(
        **_planned(plan, plan.scale.workers(on_cuda=is_cuda(plan.device)) or 0),
        final_metrics=final_metrics(plan.metrics, {}, None), status=STATUS_ERROR, error=error,
        device_name=device_label, precision=precision_mod.observed_label([]),
        n_classes=len(counts), n_train=sum(t for t, _ in counts.values()), n_valid=sum(v for _, v in counts.values()),
        error_rate=None, best_error_rate=None, best_epoch=None, wall_s=0.0, samples_per_s=None,
        peak_memory_bytes=None, peak_memory_method="not measured: the run ended without a result",
        peak_rss_bytes=None, rss_at_start_bytes=None, cuda_max_allocated_bytes=None, cuda_max_reserved_bytes=None,
        epochs=(), outcomes=(), lr_finds=(), calls=(), most_confused=(), versions=dict(versions),
        environment=dict(where), divergence=None, evaluations=_not_evaluated(plan, "the run ended without a result"))


def _not_evaluated(plan: RunPlan, why: str) -> tuple[EvaluationResult, ...]:
    """The plan's evaluations of the final weights, recorded as not run, and why: rows that say so."""
    return tuple(EvaluationResult(e.name, None, None, None, f"not run: {why}") for e in plan.evaluations)


def _planned(p: RunPlan, workers: int, built: tuple[str, tuple[str, ...]] | None = None) -> dict[str, Any]:
    """The fields of a run's result that its plan decides: which run, on what data, with what settings
    (``built``: the loss and callback classes its Learner was built with; None: it never was)."""
    w = p.weights
    return dict(
        schema_version=SCHEMA_VERSION,
        run_id=f"{p.session_id}/{p.recipe.name}-seed{p.seed}",
        session_id=p.session_id,
        created_utc=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        recipe=p.recipe.name,
        recipe_plugin=p.recipe_plugin,
        recipe_options=dict(p.recipe_options),
        workload=p.workload,
        workload_fingerprint=p.data.fingerprint,
        scale=p.scale.name,
        seed=p.seed,
        device=p.device.type,
        precision_requested=p.recipe.precision,
        weights=WeightsInfo(source=w.source, arch=p.arch.name, path=str(w.path), sha256=w.sha256, detail=w.detail)
        if w is not None else WeightsInfo(source="none", arch=p.arch.name, path=None, sha256=None),
        config=Config(arch=p.arch.name, presize=p.scale.presize, image_size=p.scale.image_size,
                      batch_size=p.scale.batch_size, scale=p.scale.name, num_workers=workers,
                      max_epochs_per_fit=p.scale.max_epochs_per_fit, lr_find_num_it=p.scale.lr_find_num_it,
                      **_split_config(p.data), loss_func=built[0] if built else None,
                      callbacks=built[1] if built else None, evaluations=tuple(e.name for e in p.evaluations)),
        skipped_files=p.data.skipped_files,
        converted_files=p.data.converted_files,
        dropped_classes=p.data.dropped_classes,
        metrics=tuple(m.spec for m in p.metrics),
    )


#: How far from a whole count a count metric's value may lie and still be that count: fastai averages it in
#: float32 over the batches (12/14 reads 0.85714287), so a count is exact to 1e-6 of one image for far more
#: validation images than any workload has.
COUNT_TOLERANCE = 1e-3


def final_metrics(metrics, values: Mapping[str, float | None], n_valid: int | None) -> dict[str, float | None]:
    """Each metric's final value from ``values`` (a ``learn.validate()`` by name), None where missing; a count
    metric (``counts``: k / n_valid) as its exact count over ``n_valid``, free of fastai's float32 rounding."""
    out = {}
    for m in metrics:
        value = values.get(m.name)
        if value is not None and m.counts and n_valid:
            k = value * n_valid
            value = round(k) / n_valid if abs(k - round(k)) <= COUNT_TOLERANCE else value
        out[m.name] = value
    return out


def _class_name(obj: Any) -> str:
    """What a result calls a loss function or callback: its class, or a plain function's own name."""
    return obj.__name__ if isinstance(obj, types.FunctionType) else type(obj).__name__


def _split_config(data: PreparedData) -> dict[str, Any]:
    """The split and the labelling as the result's config records them: valid_pct and split_seed only for
    the random split."""
    folders = data_mod.training_split(data)
    random = folders is None
    return {"split": data_mod.split_description(folders), "valid_pct": data_mod.VALID_PCT if random else None,
            "split_seed": data_mod.SPLIT_SEED if random else None, "labels": data_mod.labelling(data)}


def _best(epochs) -> tuple[float | None, int | None]:
    scored = [(e.error_rate, i + 1) for i, e in enumerate(epochs) if e.error_rate is not None]
    if not scored:
        return None, None
    best = min(scored)  # the earliest epoch among equal error rates
    return best[0], best[1]


def _throughput(epochs) -> float | None:
    seconds = sum(e.train_s for e in epochs)
    return sum(e.train_samples for e in epochs) / seconds if seconds > 0 else None


def _outcome(span: MeasuredSpan, log: RunLog, metrics=(), n_valid: int | None = None) -> Outcome:
    """The span as a sub-result: its epochs (those of the spans it continues first) renumbered from 1,
    their elapsed_s counted on the outcome's own clock (each span's time from its start, after the
    whole time of the spans before it)."""
    epochs, offset_s = [], 0.0
    for part in span.chain():
        for i in range(part.first_epoch, part.last_epoch):
            e = log.epochs[i]
            elapsed = (None if e.elapsed_s is None or part.started_s is None
                       else offset_s + e.elapsed_s - part.started_s)
            epochs.append(dataclasses.replace(e, epoch=len(epochs) + 1, elapsed_s=elapsed))
        offset_s += part.own_wall_s
    best_error, best_epoch = _best(epochs)
    return Outcome(name=span.name, error_rate=span.final.get("error_rate"), best_error_rate=best_error,
                   best_epoch=best_epoch, wall_s=span.wall_s, samples_per_s=_throughput(epochs),
                   epochs=tuple(epochs), final_metrics=final_metrics(metrics, span.final, n_valid))


def _error_rate(preds, targets) -> float:
    """fastai's ``error_rate`` of an evaluation's predictions (1 - accuracy of their argmax), in double precision
    as the exact count over n_valid that results store (``wrong / total``), so equal counts give equal error
    rates (fastai's metric is a float32 mean; ``1 - 93/100`` is not ``7/100`` to the last bit)."""
    total = len(targets)
    return (total - int((preds.argmax(dim=-1) == targets).sum())) / total


def _final_evaluation(learn) -> tuple[float | None, list[ConfusedPair]]:
    """The error rate of the weights held at the end, and fastai's ``most_confused`` pairs."""
    from fastai.interpret import ClassificationInterpretation

    interp = ClassificationInterpretation.from_learner(learn)
    matrix = interp.confusion_matrix()
    total = matrix.sum()
    error = float((total - matrix.trace()) / total) if total else None  # an exact count over n_valid
    pairs = [ConfusedPair(str(a), str(p), int(n)) for a, p, n in interp.most_confused(min_val=1)[:MOST_CONFUSED_TOP]]
    return error, pairs

