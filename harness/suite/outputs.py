"""The outputs a session writes at its end (``--output``), and writing them so that one failing loses nothing.

The outputs are plugins (:class:`recipebench.api.Output`, registered through ``recipebench_add_outputs``); a
session writes the default ones (the built-in ``summary.md`` and ``epochs.png``) and those ``--output NAME``
asks for, less any ``--output no:NAME``. ``recipebench export NAME RESULTS`` writes one from a results folder.
Every result document is on disk before an output runs; an output that raises is named, and the next runs.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from recipebench.api import Output, OptionValue, SessionOutput
from recipebench.registry import Registry, UnknownNameError
from recipebench.render import session_table
from recipebench.suite.options import UsageError, coerce_option

#: ``--output no:NAME`` leaves out the default output NAME.
LEAVE_OUT = "no:"


@dataclass(frozen=True)
class Chosen:
    """An output a session (or ``recipebench export``) will write, with its option values."""

    output: Output
    options: Mapping[str, OptionValue]


@dataclass(frozen=True)
class Outcome:
    """What one output did: the files, folders or URIs it wrote, or why it failed (one line)."""

    name: str
    written: tuple[Path | str, ...] = ()
    failed: str | None = None


def choose(registry: Registry, asked: Sequence[str] = (), given: Mapping[str, Mapping[str, str]] | None = None,
           flag: str = "--output") -> list[Chosen]:
    """The default outputs, then each ``asked`` one, without those asked as ``no:NAME``; each with its options
    (``given``: NAME -> KEY -> text, as ``--output-option``). An unknown name or key, or a module an output
    needs that is not installed, is a :class:`UsageError` naming it -- before anything trains."""
    left_out = {a[len(LEAVE_OUT):] for a in asked if a.startswith(LEAVE_OUT)}
    names = [name for name, r in registry.outputs.items() if r.item.default]
    names += [a for a in asked if not a.startswith(LEAVE_OUT) and a not in names]
    for name in [*left_out, *names, *(given or {})]:
        try:
            registry.output(name)
        except UnknownNameError as exc:
            raise UsageError(f"{flag} {name}: {exc}") from None
    chosen = []
    for name in names:
        if name in left_out:
            continue
        output = registry.output(name)
        check_requires(output)
        chosen.append(Chosen(output, option_values(output, (given or {}).get(name, {}), "--output-option")))
    not_written = sorted(set(given or {}) - {c.output.name for c in chosen})
    if not_written:
        raise UsageError(f"--output-option {not_written[0]}.…: the session does not write output {not_written[0]!r} "
                         f"(add --output {not_written[0]})")
    return chosen


def check_requires(output: Output) -> None:
    """Every module ``output`` needs is installed, or a :class:`UsageError` saying how to install it."""
    for module, install in output.requires.items():
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            raise UsageError(f"output {output.name!r} needs the Python module {module!r}, which is not installed: "
                             f"{install}")


def option_values(output: Output, given: Mapping[str, str], flag: str) -> Mapping[str, OptionValue]:
    """``output``'s option defaults with the ``given`` texts converted to their types; an unknown key is a
    :class:`UsageError` listing the known ones."""
    values = dict(output.defaults)
    for key, text in given.items():
        if key not in output.options:
            known = ", ".join(output.options) or "none"
            raise UsageError(f"{flag} {output.name}.{key}: output {output.name!r} has no option {key!r} "
                             f"(its options: {known})")
        option = output.options[key]
        value = coerce_option(output.name, key, text, option.default)
        if option.choices and value not in option.choices:
            raise UsageError(f"{flag} {output.name}.{key}={text}: choose one of "
                             f"{', '.join(map(str, option.choices))}")
        values[key] = value
    return values


def session_output(results: Sequence[Any], skipped: Sequence[Any], results_path: Path, out_dir: Path, beside: Path,
                   reference: str | None, target_error: float | None, options: Mapping[str, OptionValue],
                   say: Callable[[str], None], metric: str | None = None) -> SessionOutput:
    """What an output receives: the results and the session table and chart made from them (or from a part)."""
    every, every_skipped = tuple(results), tuple(skipped)

    def table(fmt: str, results: Sequence[Any] | None = None) -> str:
        part = every if results is None else tuple(results)
        return session_table.session_report(part, fmt=fmt, skipped=every_skipped if results is None else (),
                                            reference=reference, target_error=target_error, metric=metric)

    def plot_epochs(path: Path, results: Sequence[Any] | None = None) -> Path:
        return session_table.plot_epochs(every if results is None else tuple(results), Path(path))

    return SessionOutput(results=every, skipped=every_skipped, results_path=Path(results_path), out_dir=Path(out_dir),
                         beside=Path(beside), reference=reference, target_error=target_error, options=options,
                         table=table, plot_epochs=plot_epochs, say=say, metric=metric)


def write(chosen: Sequence[Chosen], make: Callable[[Chosen], SessionOutput]) -> list[Outcome]:
    """Write each output in turn (``make`` gives it its :class:`SessionOutput`). One that raises is an
    :class:`Outcome` with ``failed`` (the exception's type and message on one line), and the next runs."""
    outcomes = []
    for c in chosen:
        try:
            written = tuple(c.output.write(make(c)) or ())
        except Exception as exc:  # any plugin's fault: named, never the end of the session
            outcomes.append(Outcome(c.output.name, failed=f"{type(exc).__name__}: {' '.join(str(exc).split())}"))
            continue
        outcomes.append(Outcome(c.output.name, written))
    return outcomes


def shown(outcome: Outcome, folder: Path) -> list[str]:
    """How an output's files are named on the results line: by name inside ``folder``, else in full."""
    out = []
    for w in outcome.written:
        path = Path(w) if isinstance(w, Path) else None
        inside = path is not None and path.parent == Path(folder)
        out.append(path.name if inside else str(w))
    return out
