"""What the subcommands share: argument types with clear usage errors, the suite's options as flags, and loading results."""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Sequence

from recipebench.analysis import compare
from recipebench.analysis.rows import grouped
from recipebench.record.store import Loaded, scan_results
from recipebench.suite.options import FLAGS, OPTION_TABLE, UsageError

RESULTS_HELP = "a results folder (searched recursively), a result file or a pytest-benchmark JSON file"


def load(paths: Sequence[Path], command: str) -> Loaded:
    """The results; each file in a folder that is not a result is named on stderr, and skipped."""
    loaded = scan_results(paths)
    for why in loaded.skipped:
        print(f"recipebench {command}: note: skipped {why}", file=sys.stderr)
    return loaded


def check_reference(results, reference: str | None) -> None:
    """A reference named with --reference must be one of the rows (a default one missing is a note)."""
    labels = grouped(results)
    if reference is not None and reference not in labels:
        raise UsageError(f"--reference {reference}: not in these results; choose one of {', '.join(labels)}")


def check_metric(results, metric: str | None) -> str:
    """The metric ``--metric`` names (default error_rate): one the results have values of (a metric recorded with
    no final value in any run, such as a schema 7 document's valid_loss, is not), else a usage error listing them."""
    from recipebench.analysis.metrics import MetricError, choose, measured

    try:
        return choose(measured(results), metric).name
    except MetricError as exc:
        raise UsageError(str(exc)) from None


def wrote(path: Path, asked: Path) -> None:
    """Print the file written, and why it is not the one asked for (files are never overwritten)."""
    kept = "" if path == asked else f" ({asked} exists: files are never overwritten)"
    print(f"{path}{kept}")


def _usage_type(parse):
    """An argparse type from an OPTION_TABLE parser: its UsageError becomes argparse's message."""
    def parsed(text: str):
        try:
            return parse(text)
        except UsageError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parsed.__name__ = getattr(parse, "__name__", "value")
    return parsed


def add_options(p: argparse.ArgumentParser, dests: Sequence[str]) -> None:
    """The suite's options ``dests`` (OPTION_TABLE: same flags, help and parsing as under pytest)."""
    for flag, dest, help_text, parse, _default in OPTION_TABLE:
        if dest in FLAGS and dest in dests:
            p.add_argument(flag, dest=dest, action="store_true", help=help_text.replace("%", "%%"))
        elif dest in dests:
            kind = {} if parse in (None, str) else {"type": _usage_type(parse)}
            p.add_argument(flag, dest=dest, default=None, help=help_text.replace("%", "%%"), **kind)


def _parsed(parse, text: str):
    try:
        return parse(text)
    except compare.CompareError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


_THRESHOLD = re.compile(r"\s*[A-Za-z_/][\w/]*\s*:\s*[+-]?\s*(\d+(?:\.\d*)?|\.\d+)\s*(pp|%)\s*")


def fail_on(text: str) -> str:
    """A ``--fail-on`` value, its form checked now (``failed`` or METRIC:AMOUNT); its metric is checked against
    the metrics of the results compared (:func:`thresholds`), which a plugin may have added."""
    if text.strip() != compare.FAIL_ON_FAILED and not _THRESHOLD.fullmatch(text):
        _parsed(compare.parse_fail_on, text)  # the usual message
        raise argparse.ArgumentTypeError(f"{text!r}: expected METRIC:AMOUNT, e.g. error_rate:+0.5pp or wall:+10%")
    return text


def min_effect(text: str) -> str:
    """A ``--min-effect`` value, its form checked now (METRIC:AMOUNT); its metric when results are loaded."""
    if not _THRESHOLD.fullmatch(text):
        _parsed(lambda t: compare.Threshold.parse(t, signed=False), text)
        raise argparse.ArgumentTypeError(f"{text!r}: expected METRIC:AMOUNT, e.g. error_rate:0.5pp or wall:10%")
    return text


def thresholds(texts, metrics, signed: bool = True) -> list:
    """``--fail-on`` (``signed``) or ``--min-effect`` values against ``metrics`` (CompareError: a usage error)."""
    if signed:
        return [compare.parse_fail_on(t, metrics) for t in texts]
    return [compare.Threshold.parse(t, signed=False, metrics=metrics) for t in texts]


def percent(text: str) -> float:
    match = re.fullmatch(r"\s*(\d+(?:\.\d*)?)\s*%\s*", text)
    if not match or float(match.group(1)) >= 100:
        raise argparse.ArgumentTypeError(f"{text!r}: a percentage below 100%, e.g. 3%")
    return float(match.group(1)) / 100


def _between_0_and_1(what: str, example: str):
    """An argparse type: a number strictly between 0 and 1 (``what``, e.g. "a power"), else an error naming it."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = -1.0
        if not 0 < value < 1:
            raise argparse.ArgumentTypeError(f"{text!r}: {what} between 0 and 1, e.g. {example}")
        return value
    return parse


alpha = _between_0_and_1("a significance level", "0.05")
share = _between_0_and_1("a power", "0.8")
