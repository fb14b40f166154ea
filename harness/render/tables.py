"""Write a table in one of the command line's formats (GitHub markdown, plain text or csv), and the
cells every table shares (a summary over seeds).

Markdown cells are escaped (``|``, ``_``, ``*``, ``<`` ...), so any recipe or outcome name renders as
itself inside a GitHub table; text is tabulate's ``simple``; csv comes from the csv module.
"""
from __future__ import annotations

import csv
import io
import re
from collections import Counter
from typing import Any, Sequence

from recipebench.record.results import STATUS_OK
from recipebench.analysis.rows import Row
from recipebench.analysis.stats import Summary

FORMATS = ("markdown", "text", "csv")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|$~&])")


def escape_markdown(text: Any) -> str:
    """``text`` as a markdown table cell shows it: specials backslash-escaped, newlines as spaces."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(str(text).splitlines()))


def format_table(headers: Sequence[str], body: Sequence[Sequence[Any]], fmt: str) -> str:
    """The table as ``markdown`` (GitHub), ``text`` or ``csv``."""
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(headers)
        writer.writerows(["" if v is None else v for v in row] for row in body)
        return out.getvalue().rstrip("\n")
    import tabulate

    if fmt == "markdown":
        return tabulate.tabulate([[escape_markdown(v) for v in row] for row in body],
                                 headers=[escape_markdown(h) for h in headers], tablefmt="github",
                                 disable_numparse=True)
    if fmt == "text":
        return tabulate.tabulate(body, headers=headers, tablefmt="simple", disable_numparse=True)
    raise ValueError(f"table format {fmt!r}: choose one of {', '.join(FORMATS)}")


def rate_text(s: Summary | None, digits: int = 4) -> str:
    """``mean`` (n=1) or ``mean ± std (n=N)``, to ``digits`` decimals."""
    if s is None:
        return "-"
    if s.n == 1:
        return f"{s.mean:.{digits}f}"
    return f"{s.mean:.{digits}f} ± {s.std:.{digits}f} (n={s.n})"


def spread_text(s: Summary | None, digits: int = 1) -> str:
    """``median`` (n=1) or ``median [min-max]``."""
    if s is None:
        return "-"
    if s.n == 1:
        return f"{s.median:.{digits}f}"
    return f"{s.median:.{digits}f} [{s.min:.{digits}f}-{s.max:.{digits}f}]"


def error_text(group: Sequence[Row], metric: str = "error_rate", digits: int = 4) -> str:
    """A metric (default the chapter's error_rate) over the group's successful runs, and how many did not
    succeed and why: ``ERROR`` (the recipe raised) or ``DIVERGED`` (its training loss went non-finite or
    exploded)."""
    ok = [r for r in group if r.status == STATUS_OK]
    bad = Counter(r.status for r in group if r.status != STATUS_OK)
    if not ok:
        return "/".join(status.upper() for status in bad)
    err = rate_text(Summary.of(r.value(metric) for r in ok), digits)
    return err + (f" ({', '.join(f'{n} {status}' for status, n in bad.items())})" if bad else "")
