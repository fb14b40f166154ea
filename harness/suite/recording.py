"""Recording results: to the session folder, else a fallback folder or the terminal (never lost); extra_info."""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from recipebench.record import store
from recipebench.record.results import RunResult
from recipebench.record.store import EXTRA_INFO_KEY
from recipebench.suite.options import UsageError


@dataclass(frozen=True)
class Saved:
    """Where a finished run's result document went."""

    path: Path | None  # None: no folder took it; it was printed to the terminal (:meth:`Recorder.record`)
    in_results_dir: bool  # False: the results folder failed, the document went to a fallback folder
    problem: str | None = None  # why the results folder failed
    printed_as: str | None = None  # with no path: the line the document follows on stderr

    @property
    def where(self) -> str:
        """Where the document is, for "kept ...": ``at <its file>``, or on the terminal."""
        if self.path is not None:
            return f"at {self.path}"
        return (f"nowhere on disk (every folder failed): printed to the terminal (stderr) after the line "
                f"{self.printed_as!r}")


def check_results_dir(results_dir: Path) -> None:
    """Before any data is prepared or anything trains: a result that cannot be written is lost, so a
    results folder that cannot be written is a usage error now."""
    try:
        store.check_writable(Path(results_dir))
    except OSError as exc:
        raise UsageError(f"--results-dir {results_dir}: cannot write result files there "
                         f"({exc.strerror or exc}); choose a folder you can write to") from None


def print_document(result: RunResult, write: Callable[[str], None]) -> str:
    """The last resort for a result no folder takes: its whole document through ``write`` (the
    terminal's stderr), between a BEGIN and an END line that name the case; returns the BEGIN line."""
    case = f"recipebench result {result.recipe} seed {result.seed}"
    begin = (f"----- BEGIN {case}: no folder could take it; save the lines between BEGIN and END as "
             f"{store.case_file(result.recipe, result.seed)} -----")
    # ASCII escapes (\u732b for 猫): a terminal or log that takes only ASCII must not lose the last copy
    write("\n".join([begin, json.dumps(result.to_dict(), indent=2, default=str), f"----- END {case} -----"]) + "\n")
    return begin


def to_stderr(text: str) -> None:
    sys.stderr.write(text)
    sys.stderr.flush()


def fallback_dirs(cache_dir: Path, session_id: str) -> list[Path]:
    """Where results go when the results folder cannot take them, in order of preference."""
    import tempfile

    return [cache_dir / "unsaved-results" / session_id,
            Path(tempfile.gettempdir()) / "recipebench-unsaved-results" / session_id]


class Recorder:
    """A session's results as they finish (:attr:`results`, the rows of its table) and where each went
    (:attr:`saved`). ``last_resort``: where a result document goes that no folder takes (a full disk)."""

    def __init__(self, last_resort: Callable[[str], None] = to_stderr) -> None:
        self.last_resort = last_resort
        self.results: list[RunResult] = []
        self.saved: list[Saved] = []

    def taken(self, result: RunResult, path: Path) -> None:
        """``result``, already in the session folder at ``path`` (--resume), counted as this session's."""
        self.results.append(result)
        self.saved.append(Saved(path, in_results_dir=True))

    def record(self, result: RunResult, folder: Callable[[], Path], fingerprint: str,
               fallbacks: Callable[[], list[Path]], progress=None) -> Saved:
        """Keep ``result`` and write it to ``folder()`` (the session folder, made on first use). If that
        fails (the disk filled up during the run, the folder went away), write it to the first of
        ``fallbacks()`` that takes it instead: a finished run is never lost. :attr:`Saved.in_results_dir` says
        which happened. A result trained on other data than the session's (``fingerprint``: a remote node's
        own copy of the workload that differs) is refused: it goes to a fallback folder, never into the
        session's results, and ``problem`` names both machines. ``progress`` (the live display) is told
        of a result kept."""
        if result.workload_fingerprint != fingerprint:
            import socket

            problem = (f"refused: trained on other data than this session's: workload fingerprint "
                       f"{result.workload_fingerprint[:12]} on {result.ran_on}, {fingerprint[:12]} here on "
                       f"{socket.gethostname()}; give every node the same data (--data-dir on a shared path, or "
                       f"the same workload version)")
            saved = self._elsewhere(result, problem, fallbacks)
            self.saved.append(saved)
            return saved
        self.results.append(result)
        if progress is not None:
            progress.case_done(result)
        try:
            saved = Saved(store.write_result(result, folder()), in_results_dir=True)
        except Exception as exc:  # OSError above all; a schema error must not lose the run either
            saved = self._elsewhere(result, f"{type(exc).__name__}: {exc}", fallbacks)
        self.saved.append(saved)
        return saved

    def _elsewhere(self, result: RunResult, problem: str, fallbacks: Callable[[], list[Path]]) -> Saved:
        """``result`` kept outside the results folder: in the first fallback folder that takes it, or, when
        none does (a full disk holds them all), printed whole to the terminal (:attr:`last_resort`)."""
        try:
            return Saved(store.write_fallback(result, fallbacks()), in_results_dir=False, problem=problem)
        except OSError as exc:
            problem = f"{problem}; the fallback folders failed too ({exc.strerror or exc})"
            begin = print_document(result, self.last_resort)
            return Saved(None, in_results_dir=False, problem=problem, printed_as=begin)


def extra_info(result: RunResult, path: Path | None) -> dict:
    """What pytest-benchmark stores with the benchmark: headline figures and the whole document."""
    return {
        "recipe": result.recipe, "seed": result.seed, "status": result.status, "error_rate": result.error_rate,
        "best_error_rate": result.best_error_rate, "best_epoch": result.best_epoch, "wall_s": result.wall_s,
        "samples_per_s": result.samples_per_s, "peak_memory_bytes": result.peak_memory_bytes,
        "precision": result.precision, "device": result.device,
        "result_file": None if path is None else str(path),
        "timed_on": result.ran_on,  # where the benchmark's time was measured (a remote worker's own clock)
        EXTRA_INFO_KEY: result.to_dict(),
    }
