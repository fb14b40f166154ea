"""Base against head on one machine: ``recipebench ab BASE_REF [HEAD_REF] -- SUITE OPTIONS``.

In the git repository of the current directory (the user's: their training code and recipebench plugins):

1. **Two checkouts.** The merge base (``git merge-base BASE_REF HEAD_REF``) and the head, side by side
   as detached git worktrees: ``<workdir>/base`` and ``<workdir>/head``.
2. **Two environments, each made once.** ``<workdir>/env-base`` and ``env-head``: a virtual environment
   without pip (:data:`SHARED_PTH` makes the packages of the environment running ``ab`` importable in it:
   torch, fastai, recipebench, pytest...), into which the side's own project, when it has one (a
   pyproject.toml with ``[project]`` or ``[build-system]``, or a setup.py), is installed with
   ``pip install --no-deps --no-build-isolation <checkout>``: nothing downloaded, nothing but the project
   itself. A regular install, not an editable one: the side's package lies in the environment's own
   site-packages, first on sys.path, so a copy of the same package in the shared environment (an
   editable one included) can never stand in for it; its entry points (recipebench plugins) are found
   first too. What each environment imports recipebench from is checked and recorded.
3. **Interleaved runs.** One pytest invocation of the benchmark suite per side per seed, in the order
   base seed 0, head seed 0, base seed 1, head seed 1, ... (asv's way: the machine's drift spreads over
   both sides instead of lining up with one), each in its side's checkout (so a relative
   ``--plugins-dir`` is the side's) with its side's Python, the SUITE OPTIONS as given, ``--seeds S,``
   (that one seed) and ``--results-dir <workdir>/results/<side>``. Each run is a session folder of its
   own there; ``compare`` reads a side's folder recursively as one set. The order, with each run's
   commit, exit status, start time and log, is kept in ``<workdir>/ab-order.json`` (rewritten after
   every run, so an interrupted ``ab`` still says what ran); each run's pytest output in ``<workdir>/logs/``.
4. **The comparison**: ``recipebench compare <workdir>/results/base <workdir>/results/head`` with the
   compare options given to ``ab`` (the CLI does it; its exit status is the gate's).

Both sides share the data and weights cache (``$RECIPEBENCH_CACHE``): the same images and pretrained
body, made once. The benchmark suite (pytest's conftest and test file) is the side's own ``recipes/``
when it has one (recipebench's repository does), else the one beside the recipebench the side imports
(a checkout of recipebench), else ``--suite DIR``.
"""
from __future__ import annotations

import json
import os
import subprocess
import time
import venv
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Sequence

from recipebench.record.atomic import atomic_write
from recipebench.suite.options import UsageError, parse_seeds

SIDES = ("base", "head")
ORDER_FILE = "ab-order.json"
#: In each side's environment: makes the running environment's packages importable (after the side's own).
SHARED_PTH = "zz-recipebench-ab-shared.pth"
#: Suite options ab sets itself for every run.
OWN_OPTIONS = ("--results-dir", "--resume")
#: pytest exit statuses after which the next runs go ahead: all passed, or some case failed (its result says how).
CARRY_ON = (0, 1)
LOG_TAIL_LINES = 20


class ABError(ValueError):
    """The base-vs-head run cannot go on; the message names the ref, folder or run at fault."""


@dataclass(frozen=True)
class SideSetup:
    """One side: its commit checked out, its environment, its suite, where its results go."""

    name: str  # base | head
    ref: str  # as the user named it (the base side: the merge base of it and the head)
    commit: str
    checkout: Path
    python: Path  # the environment's interpreter
    installed: str  # what was installed from this side, in words
    recipebench_from: str  # where this side's environment imports recipebench from
    suite: Path
    results_dir: Path


@dataclass(frozen=True)
class PlannedRun:
    """One pytest invocation: a side and a seed, at its place in the interleaved order (from 1)."""

    index: int
    side: str
    seed: int


@dataclass(frozen=True)
class RunRecord:
    """What happened to a planned run (``returncode`` None: not run yet)."""

    index: int
    side: str
    seed: int
    commit: str
    command: tuple[str, ...]
    log: str
    returncode: int | None = None
    started_utc: str | None = None
    wall_s: float | None = None
    sessions: tuple[str, ...] = ()  # the session folders it made under its side's results folder


@dataclass(frozen=True)
class Request:
    base_ref: str
    head_ref: str
    workdir: Path
    suite_options: tuple[str, ...]
    suite: Path | None = None  # None: the side's recipes/, else the one beside the recipebench it imports


def split_suite_options(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """``ab ... -- SUITE OPTIONS``: the command line before the first ``--`` and the suite options after it
    (only for ``ab``: any other command's ``--`` stays where it is)."""
    argv = list(argv)
    if argv[:1] != ["ab"] or "--" not in argv:
        return argv, []
    cut = argv.index("--")
    return argv[:cut], argv[cut + 1:]


def suite_seeds(options: Sequence[str]) -> tuple[tuple[int, ...], tuple[str, ...]]:
    """The seeds the suite options ask for (``--seeds``, default one: 0) and the other options;
    options ab sets itself are refused."""
    seeds, rest, items = "1", [], list(options)
    while items:
        item = items.pop(0)
        flag, eq, value = item.partition("=")
        if flag in OWN_OPTIONS:
            raise UsageError(f"{flag}: ab sets it (every run starts fresh, its results in <workdir>/results/<side>); "
                             "leave it out of the suite options")
        if flag == "--seeds":
            if not eq:
                if not items:
                    raise UsageError("--seeds: give a count (3) or a list (0,5,7)")
                value = items.pop(0)
            seeds = value
        else:
            rest.append(item)
    return parse_seeds(seeds), tuple(rest)


def interleaved(seeds: Sequence[int]) -> tuple[PlannedRun, ...]:
    """base seed 0, head seed 0, base seed 1, head seed 1, ..."""
    pairs = [(side, seed) for seed in seeds for side in SIDES]
    return tuple(PlannedRun(i, side, seed) for i, (side, seed) in enumerate(pairs, start=1))


def _git(repo: Path, *args: str, what: str) -> str:
    try:
        proc = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, timeout=300)
    except OSError as exc:
        raise ABError(f"{what}: cannot run git ({exc})") from None
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        raise ABError(f"{what}: git {' '.join(args)}: {lines[-1] if lines else f'exit status {proc.returncode}'}")
    return proc.stdout.strip()


def repository(cwd: Path) -> Path:
    """The root of the git work tree ``cwd`` is in."""
    try:
        proc = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=cwd, capture_output=True, text=True,
                              timeout=60)
    except OSError as exc:
        raise ABError(f"cannot run git ({exc}); ab needs git") from None
    if proc.returncode != 0:
        raise ABError(f"{cwd}: not in a git repository (ab checks out two commits of the current directory's "
                      "repository)")
    return Path(proc.stdout.strip())


def resolve_commits(repo: Path, base_ref: str, head_ref: str) -> tuple[str, str]:
    """The merge base of ``base_ref`` and ``head_ref``, and the head's commit."""
    def commit(ref: str, side: str) -> str:
        try:
            return _git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", what=ref)
        except ABError:
            raise ABError(f"{side} {ref!r}: no such commit in {repo} (a branch, tag or commit; in a shallow CI "
                          "checkout fetch the history: actions/checkout with fetch-depth: 0)") from None

    head, base_tip = commit(head_ref, "head"), commit(base_ref, "base")
    base = _git(repo, "merge-base", base_tip, head, what=f"merge base of {base_ref} and {head_ref}")
    return base, head


def check_workdir(workdir: Path) -> None:
    """A fresh folder: an earlier run's checkouts, environments and results are never touched."""
    if workdir.exists() and (not workdir.is_dir() or any(workdir.iterdir())):
        raise ABError(f"--workdir {workdir}: not empty (an earlier ab run is kept there); choose another folder")


def make_environment(env_dir: Path) -> Path:
    """A virtual environment without pip that sees the running environment's packages after its own;
    returns its interpreter."""
    import site

    venv.EnvBuilder(with_pip=False, symlinks=os.name != "nt").create(env_dir)
    python = env_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    own = subprocess.run([str(python), "-c", "import site; print(site.getsitepackages()[0])"], capture_output=True,
                         text=True, check=True).stdout.strip()
    shared = [*site.getsitepackages()]
    if site.ENABLE_USER_SITE and os.path.isdir(site.getusersitepackages()):
        shared.append(site.getusersitepackages())
    lines = [f"import site; site.addsitedir({d!r})" for d in shared if os.path.realpath(d) != os.path.realpath(own)]
    (Path(own) / SHARED_PTH).write_text("\n".join(lines) + "\n")
    return python


def is_project(checkout: Path) -> bool:
    """The side is an installable Python project (pip can build it)."""
    pyproject = checkout / "pyproject.toml"
    if pyproject.is_file():
        text = pyproject.read_text(errors="replace")
        if "[project]" in text or "[build-system]" in text:
            return True
    return (checkout / "setup.py").is_file()


def install(name: str, checkout: Path, python: Path, log: Path) -> str:
    """Install the side's project, alone, into its environment; returns what was installed, in words."""
    if not is_project(checkout):
        return "nothing (no pyproject.toml with [project] or [build-system], no setup.py)"
    command = [str(python), "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-input",
               "--disable-pip-version-check", str(checkout)]
    with open(log, "w") as out:
        code = subprocess.run(command, cwd=checkout, stdout=out, stderr=subprocess.STDOUT).returncode
    if code != 0:
        raise ABError(f"{name}: pip install of {checkout} failed (exit status {code}): {_tail(log, 1)} (whole "
                      f"output: {log})")
    probe = ("import importlib.metadata as m, site; own = site.getsitepackages()[0]; "
             "print(', '.join(sorted(f\"{d.metadata['Name']} {d.version}\" for d in m.distributions(path=[own]))))")
    dists = subprocess.run([str(python), "-c", probe], capture_output=True, text=True).stdout.strip()
    return f"{dists or '?'} (pip install --no-deps --no-build-isolation)"


def recipebench_location(python: Path, cwd: Path) -> str:
    proc = subprocess.run([str(python), "-c", "import recipebench; print(recipebench.__file__)"], cwd=cwd,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise ABError(f"{python}: cannot import recipebench: {(proc.stderr.strip().splitlines() or ['?'])[-1]}")
    return proc.stdout.strip()


def choose_suite(checkout: Path, suite: Path | None, recipebench_file: str) -> Path:
    """The benchmark suite's folder for a side (see the module's docstring)."""
    if suite is not None:
        path = suite if suite.is_absolute() else checkout / suite
        if not path.is_dir():
            raise ABError(f"--suite {suite}: no such folder in {checkout}")
        return path
    for path in (checkout / "recipes", Path(recipebench_file).resolve().parents[1] / "recipes"):
        if (path / "conftest.py").is_file():
            return path
    raise ABError(f"no benchmark suite: {checkout} has no recipes/conftest.py and the recipebench it imports "
                  f"({recipebench_file}) is not a checkout with one; copy recipebench's recipes/ (conftest.py and "
                  "test_recipes.py) into your repository, or give --suite DIR")


def _tail(log: Path, lines: int) -> str:
    try:
        text = log.read_text(errors="replace").rstrip().splitlines()
    except OSError:
        return "?"
    return "\n".join(text[-lines:]) if text else "(no output)"


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _write_order(workdir: Path, sides: dict[str, SideSetup], seeds, options, records: Sequence[RunRecord]) -> None:
    doc = {"interleaved": "base seed 0, head seed 0, base seed 1, head seed 1, ...",
           "seeds": list(seeds), "suite_options": list(options),
           **{name: {k: str(v) for k, v in asdict(side).items()} for name, side in sides.items()},
           "runs": [asdict(r) for r in records]}
    atomic_write(workdir / ORDER_FILE, json.dumps(doc, indent=2) + "\n")


def set_up_side(name: str, ref: str, commit: str, repo: Path, request: Request,
                say: Callable[[str], None]) -> SideSetup:
    """Check the commit out, make and fill the side's environment, find its suite."""
    workdir = request.workdir
    checkout = workdir / name
    _git(repo, "worktree", "add", "--detach", str(checkout), commit, what=f"{name} checkout of {commit[:10]}")
    say(f"{name}: {commit[:10]} ({ref}) checked out at {checkout}")
    python = make_environment(workdir / f"env-{name}")
    installed = install(name, checkout, python, workdir / "logs" / f"install-{name}.log")
    location = recipebench_location(python, checkout)
    suite = choose_suite(checkout, request.suite, location)
    say(f"{name}: environment {workdir / f'env-{name}'}: installed from this side: {installed}; recipebench from "
        f"{location}; suite {suite}")
    return SideSetup(name, ref, commit, checkout, python, installed, location, suite, workdir / "results" / name)


def run(request: Request, say: Callable[[str], None]) -> tuple[Path, Path]:
    """Set both sides up, run the interleaved plan; returns the base and head results folders."""
    seeds, options = suite_seeds(request.suite_options)
    repo = repository(Path.cwd())
    base, head = resolve_commits(repo, request.base_ref, request.head_ref)
    workdir = request.workdir.resolve()
    check_workdir(workdir)
    request = replace(request, workdir=workdir)
    (workdir / "logs").mkdir(parents=True, exist_ok=True)
    say(f"{repo}: base {base[:10]} (merge base of {request.base_ref} and {request.head_ref}), head {head[:10]} "
        f"({request.head_ref}); work in {workdir}")
    if base == head:
        say("base and head are the same commit: an A/A run (every difference is noise)")
    sides = {"base": set_up_side("base", request.base_ref, base, repo, request, say),
             "head": set_up_side("head", request.head_ref, head, repo, request, say)}
    plan = interleaved(seeds)
    say(f"plan: {len(plan)} runs, interleaved: {', '.join(f'{r.side} seed {r.seed}' for r in plan)}")
    records = []
    for planned in plan:
        side = sides[planned.side]
        command = (str(side.python), "-m", "pytest", str(side.suite), "-p", "no:cacheprovider", "--benchmark-only",
                   *options, "--seeds", f"{planned.seed},", "--results-dir", str(side.results_dir))
        log = f"logs/{planned.index:02d}-{planned.side}-seed{planned.seed}.log"
        records.append(RunRecord(planned.index, planned.side, planned.seed, side.commit, command, log))
    _write_order(workdir, sides, seeds, options, records)
    for i, record in enumerate(records):
        records[i] = _run_one(record, sides[record.side], workdir, len(records), say)
        _write_order(workdir, sides, seeds, options, records)
        if records[i].returncode not in CARRY_ON:
            raise ABError(f"run {record.index} ({record.side} seed {record.seed}): pytest exited "
                          f"{records[i].returncode}: {_tail(workdir / record.log, 1)} (whole output: "
                          f"{workdir / record.log}; the order so far: {workdir / ORDER_FILE})")
    say(f"done; the checkouts stay for a look (git worktree remove {sides['base'].checkout}, and {sides['head'].checkout}, "
        "when done with them)")
    return sides["base"].results_dir, sides["head"].results_dir


def _run_one(record: RunRecord, side: SideSetup, workdir: Path, total: int, say: Callable[[str], None]) -> RunRecord:
    before = set(p.name for p in side.results_dir.iterdir()) if side.results_dir.is_dir() else set()
    started, clock = _now(), time.perf_counter()
    with open(workdir / record.log, "w") as out:
        proc = subprocess.Popen(record.command, cwd=side.checkout, stdout=out, stderr=subprocess.STDOUT)
        try:
            code = proc.wait()
        except KeyboardInterrupt:  # pytest got the Ctrl-C too: its wind-down keeps every result finished
            code = proc.wait()
    wall_s = time.perf_counter() - clock
    after = set(p.name for p in side.results_dir.iterdir()) if side.results_dir.is_dir() else set()
    sessions = tuple(sorted(after - before))
    how = {0: "ok", 1: "a case failed (its result says how)"}.get(code, f"pytest exited {code}")
    say(f"[{record.index}/{total}] {record.side} seed {record.seed} ({side.commit[:10]}): {how}, {wall_s:.1f} s"
        f"{''.join(f' -> {side.results_dir / s}' for s in sessions)}")
    if code != 0:
        say(f"    last lines of {workdir / record.log}:\n" + _tail(workdir / record.log, LOG_TAIL_LINES))
    return replace(record, returncode=code, started_utc=started, wall_s=round(wall_s, 3), sessions=sessions)
