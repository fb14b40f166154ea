"""The built-in outputs: the session table (summary.md, and as csv or JSON on request) and the epochs chart.

Registered exactly as an outside output plugin would be (``recipebench_add_outputs``); ``summary.md`` and
``epochs.png`` are written at the end of every session (``default=True``), the others when asked for
(``--output summary.csv``). Each is also ``recipebench export NAME RESULTS`` afterwards.
"""
from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

from recipebench import Output, SessionOutput, atomic_write, hookimpl, set_aside


def summary_md(session: SessionOutput) -> list[Path]:
    """The session table in GitHub markdown, as printed at the end of the session (rewritten by a resumed one)."""
    return [atomic_write(session.out_dir / "summary.md", session.table("markdown") + "\n")]


def epochs_png(session: SessionOutput) -> list[Path]:
    """error_rate per epoch and the lr_find curves; an earlier chart (a resumed session's) goes to attempts/."""
    path = session.out_dir / "epochs.png"
    if path.exists():
        set_aside(path)
    return [session.plot_epochs(path)]


def summary_csv(session: SessionOutput) -> list[Path]:
    """The session table's raw numbers, one column each (what ``recipebench table --format csv`` prints)."""
    return [atomic_write(session.out_dir / "summary.csv", session.table("csv") + "\n")]


def _value(text: str):
    """A csv cell as JSON holds it: empty -> null, a finite number -> a number, anything else (nan, inf: not
    JSON numbers) as it is."""
    if text == "":
        return None
    for kind in (int, float):
        try:
            value = kind(text)
        except ValueError:
            continue
        return value if math.isfinite(value) else text
    return text


def summary_json(session: SessionOutput) -> list[Path]:
    """The csv table's rows as JSON objects (column -> value, numbers as numbers, empty cells null)."""
    rows = [{k: _value(v) for k, v in row.items()} for row in csv.DictReader(io.StringIO(session.table("csv")))]
    text = json.dumps({"rows": rows}, indent=2, ensure_ascii=False) + "\n"
    return [atomic_write(session.out_dir / "summary.json", text)]


@hookimpl
def recipebench_add_outputs(register):
    register(Output("summary.md", "the session table in markdown", summary_md, default=True))
    register(Output("epochs.png", "error_rate per epoch and lr_find curves (PNG)", epochs_png,
                    default=True))
    register(Output("summary.csv", "the session table's raw numbers as csv", summary_csv))
    register(Output("summary.json", "the session table's raw numbers as JSON rows",
                    summary_json))
