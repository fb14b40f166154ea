"""The TensorBoard output: event files, one run per row of the session table (a recipe, or a sub-result) x seed.

Each run is the folder ``LOGDIR/SESSION/LABEL-seedN`` (a sub-result's label ``recipe--outcome``) and holds the
per-epoch figures as ``epoch/NAME`` scalars (the epoch as step, the epoch clock ``elapsed_s`` as their wall
time), the per-batch training losses as ``batch/train_loss`` (step: the stored batch, counted over the run),
the final figures as ``final/NAME``, and hparams (the recipe, its options, the config) so that TensorBoard's
HParams tab compares recipes by their figures (it gathers the columns from every run). Written by torch's
``SummaryWriter``.

Exporting again adds nothing already there: a run's folder is written whole (under a temporary name, then
renamed) with ``recipebench-run.txt`` naming the result's ``run_id`` and document time; a folder whose note
matches is left as it is, one of an earlier attempt of the case (``--resume``) is moved to ``attempts/``.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from recipebench import Option, Output, SessionOutput, hookimpl
from recipebench.plugins.tracker_runs import TrackedRun, created_s, epoch_figures, figures, params, tracked_runs

INSTALL = "pip install 'recipebench[tensorboard]'"
#: The log folder when --logdir is not given: this folder beside the results folder.
DEFAULT_LOGDIR = "tensorboard"
#: In each run's folder: which document it was written from.
NOTE = "recipebench-run.txt"


def logdir(session: SessionOutput) -> Path:
    return Path(str(session.options["logdir"]) or session.beside / DEFAULT_LOGDIR)


def run_folder(root: Path, run: TrackedRun) -> Path:
    label = run.row.label.replace(" > ", "--")
    return root / run.result.session_id / f"{label}-seed{run.row.seed}"


def _note(run: TrackedRun) -> str:
    return f"run_id: {run.key}\ncreated_utc: {run.result.created_utc}\n"


def _hparams(run: TrackedRun) -> dict[str, object]:
    """The run's settings as TensorBoard's HParams tab shows them (numbers as numbers)."""
    out: dict[str, object] = {"label": run.row.label}
    for key, text in params(run.result).items():
        try:
            out[key] = int(text) if text.lstrip("-").isdigit() else float(text)
        except ValueError:
            out[key] = text
    return out


def write_run(run: TrackedRun, folder: Path) -> None:
    from torch.utils.tensorboard import SummaryWriter
    from torch.utils.tensorboard.summary import hparams

    start, end = run.start_s, created_s(run.result)
    writer = SummaryWriter(log_dir=str(folder))
    try:
        step = 0
        for e in run.row.epochs:
            at = start + e.elapsed_s if e.elapsed_s is not None else end
            for key, value in epoch_figures(e).items():
                writer.add_scalar(f"epoch/{key}", value, e.epoch, walltime=at)
            for loss in e.batch_losses:
                writer.add_scalar("batch/train_loss", loss, step, walltime=at)
                step += 1
        finals = {f"final/{k}": v for k, v in figures(run).items()}
        for key, value in finals.items():
            writer.add_scalar(key, value, 0, walltime=end)
        # The session's start (its hparams) and end, but not torch's per-run experiment summary: TensorBoard
        # expects at most one run to hold one, and without any builds the HParams tab from every run's hparams.
        _experiment, start_info, end_info = hparams(_hparams(run), finals)
        for summary in (start_info, end_info):
            writer.file_writer.add_summary(summary, walltime=end)
    finally:
        writer.close()
    (folder / NOTE).write_text(_note(run))


def _set_aside(folder: Path) -> Path:
    """Move an earlier attempt's run folder to ``attempts/`` beside it, under the first free name."""
    attempts = folder.parent / "attempts"
    attempts.mkdir(parents=True, exist_ok=True)
    n = 1
    while (target := attempts / (folder.name if n == 1 else f"{folder.name}-{n}")).exists():
        n += 1
    os.rename(folder, target)
    return target


def export(session: SessionOutput) -> list[Path]:
    root = logdir(session)
    added = 0
    for run in tracked_runs(session.results):
        folder = run_folder(root, run)
        note = folder / NOTE
        if folder.exists():
            if note.is_file() and note.read_text() == _note(run):
                continue
            _set_aside(folder)
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
        write_run(run, tmp)
        os.rename(tmp, folder)
        added += 1
    session.say(f"tensorboard: {added} run(s) added to {root}" + ("" if added else " (every result was there already)"))
    return [root]


@hookimpl
def recipebench_add_outputs(register):
    register(Output("tensorboard", "every result as TensorBoard event files: a run per recipe x seed, hparams",
                    export,
                    options={"logdir": Option("", help=f"the log folder (default: {DEFAULT_LOGDIR}/ beside the "
                                                       "results folder)")},
                    requires={"tensorboard": INSTALL}))
