"""The store stage: one JSON document per run, written atomically, never overwriting anything.

Layout::

    results/
      20261129T141500Z-synthetic-quick-cpu/      # one folder per session
        baseline-seed0.json
        ...
        summary.md                                # the session's table, of every case in the folder
        epochs.png                                # error_rate per epoch, per recipe
        attempts/                                 # earlier attempts: a failed case --resume trained again,
          baseline-seed0.json                     #   the epochs.png it replaced; kept, never read as current

One current document per case: a case written again (``--resume`` trains a failed one again) becomes
``<recipe>-seed<seed>.json`` and the earlier document moves to ``attempts/``. Nothing is ever deleted
or overwritten.

:func:`load_results` reads result files, folders of them (recursively) and pytest-benchmark's
``--benchmark-json`` / ``--benchmark-save`` files (the documents travel in ``extra_info``).
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable

from recipebench.record.atomic import atomic_write, move_without_replacing
from recipebench.record.results import SCHEMA_VERSION, NewerSchemaError, RunResult, upgrade, validate

EXTRA_INFO_KEY = "recipebench"
#: The folder in a session folder that keeps earlier attempts (:func:`write_result`); not read as current results.
ATTEMPTS = "attempts"


class ResultsError(ValueError):
    """A results file or folder that cannot be read; the message names it."""


def new_session_id(workload: str, scale: str, device: str, now: datetime | None = None) -> str:
    now = now or datetime.now(timezone.utc)
    return f"{now:%Y%m%dT%H%M%SZ}-{workload}-{scale}-{device}"


def check_writable(folder: Path) -> None:
    """Make ``folder`` if needed and write and remove a probe file in it: raises :class:`OSError` now,
    before anything trains, if results could not be written there later."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    probe = atomic_write(folder / ".recipebench-probe", b"probe", overwrite=False)
    probe.unlink()


def session_dir(results_dir: Path, session_id: str) -> Path:
    """The session's folder under ``results_dir``, created now, atomically: a name another session made
    first (two suites started in the same second) is never shared; this one gets a numbered suffix."""
    results_dir = Path(results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    for n in range(1, 1000):
        path = results_dir / (session_id if n == 1 else f"{session_id}-{n}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise ResultsError(f"cannot make a new session folder under {results_dir}")  # pragma: no cover


def remove_if_empty(folder: Path) -> None:
    """Remove ``folder`` if it is empty (a session that finished nothing); anything in it keeps it."""
    try:
        Path(folder).rmdir()
    except OSError:
        pass


def case_file(recipe: str, seed: int) -> str:
    """The name of a case's document in its session folder."""
    return f"{recipe}-seed{seed}.json"


def set_aside(path: Path) -> Path:
    """Move ``path`` (a file in a session folder) into the folder's ``attempts/``, under its name or the
    next free one; returns where it went."""
    return move_without_replacing(path, path.parent / ATTEMPTS / path.name)


def document_text(doc: dict) -> str:
    """A result document as its file holds it: indented UTF-8 JSON, class names as they are (猫, not \\u732b)."""
    return json.dumps(doc, indent=2, ensure_ascii=False, default=str) + "\n"


def write_result(result: RunResult, directory: Path) -> Path:
    """Validate ``result`` against the schema and write it as ``<recipe>-seed<seed>.json``, the case's
    current document: an earlier document of the case there (``X-seed0.json``, or a numbered
    ``X-seed0-2.json`` of older versions) is moved to ``attempts/`` once the new one is on disk."""
    doc = result.to_dict()
    validate(doc)
    directory = Path(directory)
    name = case_file(result.recipe, result.seed)
    path = atomic_write(directory / name, document_text(doc), overwrite=False)
    if path.name == name:
        return path
    same_case = re.compile(re.escape(name[:-len(".json")]) + r"(-\d+)?\.json")
    for earlier in sorted(p for p in directory.iterdir() if same_case.fullmatch(p.name) and p != path):
        set_aside(earlier)
    try:  # the new document takes the case's name, unless another writer took it meanwhile
        os.link(path, directory / name)
    except FileExistsError:
        return path
    path.unlink()
    return directory / name


def write_fallback(result: RunResult, folders: Iterable[Path]) -> Path:
    """Write ``result`` into the first of ``folders`` that takes it, unvalidated (a document that fails
    the schema is still the user's run); raises the last :class:`OSError` when none does."""
    text = document_text(result.to_dict())
    error: OSError | None = None
    for folder in folders:
        try:
            return atomic_write(Path(folder) / case_file(result.recipe, result.seed), text, overwrite=False)
        except OSError as exc:
            error = exc
    raise error or OSError("no fallback folder given")


def from_document(doc: dict, origin: str) -> RunResult:
    """A result document as loaded from a file: upgraded from an older schema version, validated, as a
    :class:`RunResult`; :class:`ResultsError` naming ``origin`` if it is none."""
    try:
        doc = upgrade(doc)  # older schema versions are read, never refused
        validate(doc)
        return RunResult.from_dict(doc)
    except NewerSchemaError as exc:
        raise NewerResultError(f"{origin}: {exc}") from None
    except Exception as exc:
        msg = getattr(exc, "message", str(exc))
        raise ResultsError(f"{origin}: not a valid recipebench result (schema {SCHEMA_VERSION}): {msg}") from None


class NewerResultError(ResultsError):
    """A result written by a newer recipebench (a newer schema version): named, with what to do."""


class NotResults(ResultsError):
    """A file that holds no recipebench results at all (another tool's JSON): skipped in a folder."""


def _read_file(path: Path) -> list[RunResult]:
    """The results in one file. A file that is not a result at all raises :class:`NotResults`; a result
    that is broken (invalid, unreadable) raises :class:`ResultsError`."""
    try:
        text = path.read_text(encoding="utf-8")  # JSON is UTF-8 (RFC 8259), whatever the locale says
    except (OSError, UnicodeDecodeError) as exc:
        raise ResultsError(f"{path}: cannot read: {exc}") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        if '"schema_version"' in text or f'"{EXTRA_INFO_KEY}"' in text:  # ours, damaged
            raise ResultsError(f"{path}: cannot read JSON: {exc}") from None
        raise NotResults(f"{path}: not JSON ({exc})") from None
    if isinstance(doc, dict) and "benchmarks" in doc:  # pytest-benchmark's file
        found = [
            from_document(b["extra_info"][EXTRA_INFO_KEY], f"{path} [{b.get('name', '?')}]")
            for b in doc["benchmarks"]
            if isinstance(b.get("extra_info"), dict) and EXTRA_INFO_KEY in b["extra_info"]
        ]
        if not found:
            raise NotResults(f"{path}: a pytest-benchmark file without recipebench results in extra_info")
        return found
    if isinstance(doc, dict) and "schema_version" in doc:
        return [from_document(doc, str(path))]
    raise NotResults(f"{path}: neither a recipebench result nor a pytest-benchmark file")


@dataclass(frozen=True)
class Loaded:
    """What :func:`scan_results` found: the results, and the files in the folders it skipped (why)."""

    results: tuple[RunResult, ...]
    skipped: tuple[str, ...] = ()  # "<file>: <why it is not a result>"


def scan_results(paths: Iterable[Path]) -> Loaded:
    """Results from files and folders (folders are searched recursively for ``*.json``, but for the
    ``attempts/`` folders in them: earlier attempts are read only when named).

    In a folder, a JSON file that is not a result (another tool's) is skipped and named in
    :attr:`Loaded.skipped`; a result that is broken stops with :class:`ResultsError`, as does a file
    named explicitly that is not a result, or a folder without any result."""
    out: list[RunResult] = []
    skipped: list[str] = []
    for path in map(Path, paths):
        if path.is_dir():
            files = sorted(p for p in path.rglob("*.json")
                           if not p.name.startswith(".") and ATTEMPTS not in p.relative_to(path).parts[:-1])
            found = 0
            for f in files:
                try:
                    got = _read_file(f)
                except NotResults as exc:
                    skipped.append(str(exc))
                    continue
                out.extend(got)
                found += 1
            if not found:
                raise ResultsError(f"{path}: no result files (*.json) in this folder"
                                   + (f" ({len(files)} other JSON files)" if files else ""))
        elif path.is_file():
            out.extend(_read_file(path))
        else:
            raise ResultsError(f"{path}: no such file or folder")
    return Loaded(tuple(out), tuple(skipped))


def load_results(paths: Iterable[Path]) -> list[RunResult]:
    """The results of :func:`scan_results`, without the notes on skipped files."""
    return list(scan_results(paths).results)
