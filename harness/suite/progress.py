"""Live progress of a suite, for the person watching it.

At the start, the plan: cases, epochs, lr_finds (each recipe's count comes from a dry run,
:mod:`recipebench.train.dryrun`). Then, per epoch, one line: the case, its phase (frozen / unfrozen, the
outcome it trains, lr_find), epoch k of n of the fit, training loss, error rate, the time spent and
an estimate of what is left of the suite. In a terminal it is one line that updates in place (rich's
``Live``); elsewhere (CI logs, a pipe) a plain line per epoch; under ``-q`` nothing.

:class:`SuiteClock` is the arithmetic (what is done, what is left), :class:`LiveProgress` the
display; the pytest plugin writes through :class:`PytestTerminal`, which lifts pytest's output
capture for each line so the lines reach the terminal while a case trains.
"""
from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator, Sequence

from recipebench.record.results import EpochRecord, LrFindRecord, RunResult


@dataclass(frozen=True)
class PlannedCase:
    """One recipe x seed of the suite, and the work it is expected to do."""

    recipe: str
    seed: int
    cost_key: str  # runs with the same key cost the same per epoch: "resnet18/fp32"
    epochs: int | None  # None: the dry run could not tell
    lr_finds: int = 0


@dataclass
class SuiteClock:
    """What is done and what is left of a suite, in seconds, from what the epochs so far took.

    Work is counted in epoch-equivalents: an epoch is 1, an lr_find ``lr_find_epochs`` (its iterations
    over the batches of an epoch). Each cost key (arch/precision) gets its own seconds per epoch once it
    has run one; until then the mean over the keys that have. A case's own overhead (preparing the
    Learner, the final evaluation) is measured per finished case and added per case left.
    """

    cases: Sequence[PlannedCase]
    lr_find_epochs: float = 1.0
    clock: Callable[[], float] = time.perf_counter
    started_s: float = field(default=0.0)
    done: dict[tuple[str, int], float] = field(default_factory=dict)  # case -> epoch-equivalents done
    finished: set[tuple[str, int]] = field(default_factory=set)
    seconds: dict[str, float] = field(default_factory=dict)  # cost key -> training seconds measured
    units: dict[str, float] = field(default_factory=dict)  # cost key -> epoch-equivalents measured
    overheads: list[float] = field(default_factory=list)  # seconds of each finished case outside training
    _case_started: float = 0.0
    _case_trained: float = 0.0

    def __post_init__(self) -> None:
        self.started_s = self.clock()
        self._by_case = {(c.recipe, c.seed): c for c in self.cases}
        known = [self.planned(c) for c in self.cases if c.epochs is not None]
        self._mean_units = sum(known) / len(known) if known else 1.0

    def planned(self, case: PlannedCase) -> float:
        if case.epochs is None:
            return self._mean_units
        return case.epochs + case.lr_finds * self.lr_find_epochs

    @property
    def total_epochs(self) -> int:
        return sum(c.epochs or 0 for c in self.cases)

    @property
    def total_lr_finds(self) -> int:
        return sum(c.lr_finds for c in self.cases)

    def index(self, recipe: str, seed: int) -> int:
        """1-based position of the case in the suite."""
        return [(c.recipe, c.seed) for c in self.cases].index((recipe, seed)) + 1

    def start_case(self, recipe: str, seed: int) -> None:
        self._case_started, self._case_trained = self.clock(), 0.0

    def trained(self, recipe: str, seed: int, seconds: float, units: float) -> None:
        """``units`` epoch-equivalents of the case took ``seconds``."""
        key = self._by_case[(recipe, seed)].cost_key
        self.seconds[key] = self.seconds.get(key, 0.0) + seconds
        self.units[key] = self.units.get(key, 0.0) + units
        self.done[(recipe, seed)] = self.done.get((recipe, seed), 0.0) + units
        self._case_trained += seconds

    def finish_case(self, recipe: str, seed: int) -> None:
        self.finished.add((recipe, seed))
        self.overheads.append(max(self.clock() - self._case_started - self._case_trained, 0.0))

    def rate(self, key: str) -> float | None:
        """Seconds per epoch-equivalent for ``key``; the mean of the measured keys if it has none yet."""
        if self.units.get(key):
            return self.seconds[key] / self.units[key]
        measured = [self.seconds[k] / self.units[k] for k in self.units if self.units[k]]
        return sum(measured) / len(measured) if measured else None

    def elapsed_s(self) -> float:
        return self.clock() - self.started_s

    def left_s(self) -> float | None:
        """Seconds the suite still needs, or None before any epoch has been timed."""
        total = 0.0
        overhead = sum(self.overheads) / len(self.overheads) if self.overheads else 0.0
        for case in self.cases:
            key = (case.recipe, case.seed)
            if key in self.finished:
                continue
            rate = self.rate(case.cost_key)
            if rate is None:
                return None
            total += max(self.planned(case) - self.done.get(key, 0.0), 0.0) * rate + overhead
        return total


def duration(seconds: float | None) -> str:
    """``1:05`` (m:ss) or ``1:02:05``; ``?`` for unknown."""
    if seconds is None or not math.isfinite(seconds):
        return "?"
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


def _figure(value: float | None, fmt: str = ".3f") -> str:
    return "-" if value is None else format(value, fmt)


class LiveProgress:
    """The suite's live display: the plan, a line per epoch, a line per finished case.

    ``write(text, final)``: show ``text``; ``final`` ends the case's line (in a terminal, the updating
    line stays as it is and the next one starts below)."""

    def __init__(self, clock: SuiteClock, write: Callable[[str, bool], None]) -> None:
        self.clock, self.write = clock, write
        self._case: tuple[str, int] | None = None

    def plan_lines(self, where: str, skipped: Sequence[str] = ()) -> list[str]:
        c = self.clock
        unknown = sum(1 for case in c.cases if case.epochs is None)
        text = (f"recipebench: {len(c.cases)} case(s) to train on {where}: {c.total_epochs} epochs"
                + (f" + {c.total_lr_finds} lr_find" if c.total_lr_finds else "")
                + (f" (+ {unknown} case(s) of unknown length)" if unknown else "")
                + "; a time estimate follows the first epochs")
        return [text, *(f"recipebench: {line}" for line in skipped)]

    def _prefix(self) -> str:
        recipe, seed = self._case
        return f"[{self.clock.index(recipe, seed)}/{len(self.clock.cases)}] {recipe} s{seed}"

    def _suite(self) -> str:
        return f"{duration(self.clock.elapsed_s())} elapsed, ~{duration(self.clock.left_s())} left"

    def start_case(self, recipe: str, seed: int) -> None:
        self._case = (recipe, seed)
        self.clock.start_case(recipe, seed)

    # RunObserver
    def epoch(self, record: EpochRecord, k: int, n: int, span: str | None) -> None:
        if self._case is None:
            return
        self.clock.trained(*self._case, seconds=record.wall_s, units=1.0)
        phase = f"{span} {record.phase}" if span else record.phase
        self.write(f"{self._prefix()} · {phase} {k}/{n} · loss {_figure(record.train_loss)} · error "
                   f"{_figure(record.error_rate, '.4f')} · {self._suite()}", False)

    def lr_find(self, record: LrFindRecord) -> None:
        if self._case is None:
            return
        self.clock.trained(*self._case, seconds=record.wall_s, units=self.clock.lr_find_epochs)
        self.write(f"{self._prefix()} · lr_find done ({len(record.lrs)} of {record.num_it} iterations, "
                   f"{record.wall_s:.1f} s) · {self._suite()}", False)

    def case_done(self, result: RunResult) -> None:
        if self._case is None:
            return
        self.clock.finish_case(*self._case)
        what = result.status if result.ok else result.status.upper()
        self.write(f"{self._prefix()} · {what} · error {_figure(result.error_rate, '.4f')} · "
                   f"{result.wall_s:.1f} s · {self._suite()}", True)
        self._case = None


class PytestTerminal:
    """Lines to the terminal pytest writes to, from inside a running test (its capture lifted for each).

    In a terminal, one line per case that updates in place (rich's ``Live``); otherwise a plain line
    each time."""

    def __init__(self, config) -> None:
        from rich.console import Console

        self.capman = config.pluginmanager.getplugin("capturemanager")
        self.reporter = config.pluginmanager.getplugin("terminalreporter")
        self.console = Console(highlight=False, soft_wrap=False)  # sys.stdout as it is when writing
        self.live = None

    @contextlib.contextmanager
    def _uncaptured(self) -> Iterator[None]:
        if self.capman is None:
            yield
            return
        with self.capman.global_and_fixture_disabled():
            yield

    def lines(self, texts: Sequence[str]) -> None:
        self.close()  # a line updating in place stays as it is; these go below it
        with self._uncaptured():
            for text in texts:
                self.reporter.write_line(text)

    def __call__(self, text: str, final: bool) -> None:
        from rich.live import Live
        from rich.text import Text

        with self._uncaptured():
            if not self.console.is_terminal:
                self.reporter.ensure_newline()  # below pytest's "recipes/test_recipes.py ." line
                self.console.print(text, soft_wrap=True)
                return
            line = Text(text, no_wrap=True, overflow="ellipsis")
            if self.live is None:
                self.reporter.ensure_newline()  # below pytest's "recipes/test_recipes.py ." line
                self.live = Live(line, console=self.console, auto_refresh=False, transient=False,
                                 redirect_stdout=False, redirect_stderr=False)
                self.live.start()
            self.live.update(line, refresh=True)
            if final:
                self.close()

    def close(self) -> None:
        if self.live is not None:
            with self._uncaptured():
                self.live.stop()
            self.live = None


class SetupProgress:
    """What happens before the first case, shown as it happens: the set-up's plan, then each stage (the
    workload's data, each architecture's weights, the warm-up) as a line when it starts, progress lines
    while it works (at most every ``every_s`` seconds, each with the stage's time left), and a line with
    its seconds when it ends; at the end :meth:`summary_line`, where the set-up's time went.

    ``write(text, final)`` as for :class:`LiveProgress` (in a terminal one line updated in place, a plain
    line each time in logs); ``clock`` is injectable for tests."""

    def __init__(self, write: Callable[[str, bool], None], clock: Callable[[], float] = time.perf_counter,
                 every_s: float = 5.0) -> None:
        self.write, self.clock, self.every_s = write, clock, every_s
        self.seconds: dict[str, float] = {}  # stage -> seconds it took, in order
        self._stage: str | None = None
        self._stage_started = 0.0
        self._last_line = 0.0
        self._last_step: tuple[int, int, str] | None = None  # the stage's latest (done, total, what)

    def plan_line(self, stages: Sequence[str], cases: int) -> str:
        return (f"recipebench: set-up before the first of {cases} case(s): {', '.join(stages)}; "
                "a stage with work to do shows its progress, a cached one ends at once")

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        self._stage, self._stage_started, self._last_step = name, self.clock(), None
        self._last_line = self._stage_started
        self.write(f"set-up · {name} …", False)
        try:
            yield
        finally:
            took = self.clock() - self._stage_started
            self.seconds[name] = took
            made = f" ({self._last_step[1]} {self._last_step[2].rsplit(' · ', 1)[-1]})" if self._last_step else ""
            self.write(f"set-up · {name} · done in {took:.1f} s{made}", True)
            self._stage = None

    def step(self, done: int, total: int, what: str) -> None:
        """``done`` of ``total`` units of the stage's work, shown at most every ``every_s`` seconds; ``what``
        is the unit counted, after an optional context and " · " ("images generated", "epoch 2/5 · batches").
        Workload plugins get this as :attr:`recipebench.api.WorkloadRequest.progress`."""
        if self._stage is None:
            return
        self._last_step = (done, total, what)
        now = self.clock()
        if now - self._last_line < self.every_s:
            return
        self._last_line = now
        spent = now - self._stage_started
        left = spent / done * (total - done) if done > 0 else None
        self.write(f"set-up · {self._stage} · {what} {done}/{total} · {duration(spent)} elapsed, "
                   f"~{duration(left)} left", False)

    def summary_line(self) -> str:
        total = sum(self.seconds.values())
        parts = ", ".join(f"{name} {s:.1f} s" for name, s in self.seconds.items())
        return f"recipebench: set-up took {duration(total)} ({parts})"
