"""`recipebench report`: report.md and a self-contained report.html with charts, from saved results alone
(made-up results: no training)."""
from __future__ import annotations

import contextlib
import dataclasses
import io
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

from recipebench.render import charts
from recipebench import commands as cli
from recipebench.record import store
from recipebench.record.results import CallRecord, LrFindRecord, Outcome
from tests.fake_results import fake_epochs, fake_outcome, make_result


def lr_find(scale: float) -> LrFindRecord:
    lrs = tuple(10 ** (-7 + 7 * i / 49) for i in range(50))
    losses = tuple(2.0 - 0.8 * (i / 30) if i < 30 else 1.2 + 0.3 * (i - 30) for i in range(50))
    return LrFindRecord({"minimum": 1e-2 * scale, "steep": 5e-3 * scale}, 50, lrs, losses, 4.0)


def suite(seeds=(0, 1, 2), slower: float = 1.0, clock: bool = True) -> list:
    """A session as the suite writes it: a baseline, a finder recipe, a recipe with two sub-results."""
    out = []
    for i, seed in enumerate(seeds):
        j = (0.0, 0.0083, -0.0083)[i % 3]
        out.append(make_result("baseline", seed, error_rate=0.40 + j, wall_s=20.0 * slower,
                               memory_bytes=int(1.3e9 + 1e7 * i), epochs=fake_epochs([0.48, 0.42, 0.40 + j], clock=clock)))
        out.append(make_result(
            "finder", seed, error_rate=0.33 - j, wall_s=45.0 * slower, memory_bytes=int(1.4e9 + 1e7 * i),
            epochs=fake_epochs([0.46, 0.38, 0.33 - j], before_s=4.0, clock=clock), lr_finds=(lr_find(1 + 0.1 * i),),
            calls=(CallRecord("lr_find", (), {"suggest_funcs": ["minimum", "steep"]}),
                   CallRecord("fine_tune", (2,), {"base_lr": 1e-2 * (1 + 0.1 * i)}))))
        arms = (fake_outcome("keep_best", 0.30, 0.30, 3, 40.0 * slower, 60.0, fake_epochs([0.5, 0.35, 0.30], frozen=2)),
                fake_outcome("retrain_k", 0.32, 0.31, 2, 30.0 * slower, 60.0, fake_epochs([0.5, 0.32], frozen=2)))
        out.append(dataclasses.replace(make_result("contrast", seed, error_rate=0.32, wall_s=70.0 * slower,
                                                   epochs=fake_epochs([0.5, 0.35, 0.30, 0.5, 0.32], frozen=2,
                                                                      clock=clock)), outcomes=arms))
    return out


def save(results, folder: Path) -> Path:
    for r in results:
        store.write_result(r, folder)
    return folder


def run_cli(capsys, *args) -> tuple[int, str, str]:
    try:
        code = cli.main([str(a) for a in args])
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


class _Html(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags, self.sources = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.sources += [v for k, v in attrs if k in ("src", "href")]


def png_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == "PNG"
        return im.size


@pytest.fixture(scope="module")
def one_session_report(tmp_path_factory) -> tuple[Path, str]:
    """``recipebench report`` of one session: the folder it wrote and what it printed."""
    tmp_path = tmp_path_factory.mktemp("one-session")
    results = save(suite(), tmp_path / "session")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli.main(["report", str(results), "--out", str(tmp_path / "report")]) == 0
    return tmp_path / "report", out.getvalue()


def test_a_report_of_one_session(one_session_report):
    folder, out = one_session_report
    assert sorted(p.name for p in folder.iterdir()) == ["error_by_epoch.png", "error_vs_time.png", "loss.png",
                                                        "lr_find.png", "report.html", "report.md"]
    md = (folder / "report.md").read_text()
    for png in ("error_by_epoch", "loss", "lr_find", "error_vs_time"):
        assert f"]({png}.png)" in md
        width, height = png_size((folder / f"{png}.png").read_bytes())
        assert width == 1100 and 300 < height < 2500, png  # GitHub's column width at 100 dpi
    assert "## Which recipe? Against baseline" in md and "| finder " in md and "mixed: better error\\_rate" in md
    assert "contrast \\> keep\\_best" in md and "Most confused pairs" in md
    html = (folder / "report.html").read_text()
    parser = _Html()
    parser.feed(html)
    assert parser.tags.count("img") == 4 and parser.tags.count("table") == 2
    assert all(src.startswith("data:image/png;base64,") for src in parser.sources), "self-contained: no links"
    assert "finder" in html and "&gt; keep_best" in html
    assert str(folder / "report.html") in out


def test_a_report_of_base_against_new_puts_the_sides_next_to_each_other(tmp_path, capsys, one_session_report):
    base = save(suite(), tmp_path / "base")
    new = save(suite(slower=1.5), tmp_path / "new")
    code, out, err = run_cli(capsys, "report", base, new, "--out", tmp_path / "report")
    assert code == 0, err
    md = (tmp_path / "report" / "report.md").read_text()
    assert "## New against base" in md and "to target base → new" in md and "worse: wall s" in md
    assert md.count("### base") == 2 and md.count("### new") == 2  # each side's ranking and confused pairs
    pair_w, pair_h = png_size((tmp_path / "report" / "error_by_epoch.png").read_bytes())
    one_w, one_h = png_size((one_session_report[0] / "error_by_epoch.png").read_bytes())
    assert pair_w == one_w and pair_h > one_h  # a row per recipe, a column per side


def test_a_report_is_never_overwritten_and_bad_arguments_are_usage_errors(tmp_path, capsys):
    results = save(suite(seeds=(0,)), tmp_path / "session")
    assert run_cli(capsys, "report", results, "--out", tmp_path / "r")[0] == 0
    code, _, err = run_cli(capsys, "report", results, "--out", tmp_path / "r")
    assert code == 2 and "already holds report.md, report.html" in err
    code, _, err = run_cli(capsys, "report", results, results, results, "--out", tmp_path / "x")
    assert code == 2 and "3 result sets: give one, or two" in err
    code, _, err = run_cli(capsys, "report", results, "--reference", "nope", "--out", tmp_path / "y")
    assert code == 2 and "--reference nope: not in these results; choose one of baseline, " in err


def test_results_before_schema_5_still_make_every_chart(tmp_path, capsys):
    """No per-batch losses and no per-epoch clock: the loss chart falls back to fastai's smoothed loss."""
    results = save(suite(seeds=(0,), clock=False), tmp_path / "old")
    code, _, err = run_cli(capsys, "report", results, "--out", tmp_path / "r")
    assert code == 0, err
    md = (tmp_path / "r" / "report.md").read_text()
    assert "their time to target counts epochs only" in md


def test_the_charts_read_the_results():
    results = suite()
    sets = [charts.ResultSet("s", tuple(results))]
    series = charts.epoch_series(results)
    assert list(series) == ["baseline", "finder", "contrast > keep_best", "contrast > retrain_k"]
    assert series["contrast > keep_best"].frozen_epochs == 2
    assert charts.used_lr(results[1], 0) == ("base_lr", pytest.approx(1e-2))
    sliced = dataclasses.replace(results[1], calls=(CallRecord("lr_find"), CallRecord("unfreeze"),
                                                    CallRecord("fit_one_cycle", (6,), {"lr_max": {"slice": [1e-6, 1e-4, None]}})))
    assert charts.used_lr(sliced, 0) == ("lr_max", pytest.approx(1e-4)) and charts.used_lr(sliced, 1) is None
    points = {p.label: p for p in charts.trade_off_points(results)}
    front = [p.label for p in charts.pareto_front(points.values())]
    assert front == ["baseline", "contrast > retrain_k", "contrast > keep_best"]
    assert points["contrast > keep_best"].memory_mb is None and points["baseline"].memory_mb > 1200
    palette = charts.Palette.of(sets)
    assert palette("baseline") != palette("finder") and len(set(palette.colours.values())) == len(palette.colours)
    assert charts.lr_finds([charts.ResultSet("s", tuple(r for r in results if not r.lr_finds))], palette) is None


def test_plot_never_overwrites_and_writes_beside_the_results(tmp_path, capsys, monkeypatch):
    folder = save(suite(seeds=(0,)), tmp_path / "session")
    monkeypatch.chdir(tmp_path)
    code, out, _ = run_cli(capsys, "plot", folder)
    assert code == 0 and out.strip() == str(folder / "epochs.png") and not (tmp_path / "epochs.png").exists()
    code, out, _ = run_cli(capsys, "plot", folder)
    assert out.strip() == f"{folder / 'epochs-2.png'} ({folder / 'epochs.png'} exists: files are never overwritten)"
    code, _, err = run_cli(capsys, "plot", folder, folder / "baseline-seed0.json")
    assert code == 2 and "2 results paths: say where the PNG goes with -o FILE" in err
    code, out, _ = run_cli(capsys, "plot", folder, "-o", tmp_path / "mine.png")
    assert code == 0 and (tmp_path / "mine.png").stat().st_size > 0


def test_table_csv_through_the_command_line_is_raw_numbers(tmp_path, capsys):
    folder = save(suite(), tmp_path / "session")
    code, out, _ = run_cli(capsys, "table", folder, "--format", "csv", "--target-error", "0.35")
    assert code == 0
    header, *rows = out.splitlines()
    assert header.startswith("label,runs,failed,error_rate_mean,error_rate_std,")
    finder = next(r for r in rows if r.startswith("finder,"))
    assert re.search(r",0\.33\d*,", finder) and "±" not in out and "(n=" not in out
    assert ",0.35," in finder  # the target, one column
    code, _, err = run_cli(capsys, "table", folder, "--target-error", "2")
    assert code == 2 and "--target-error '2': an error rate between 0 and 1" in err
