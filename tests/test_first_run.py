"""The first run as a newcomer meets it: every stage of the set-up says what it does and how long it has left."""
from __future__ import annotations

from recipebench.suite.options import Options
from recipebench.suite.progress import SetupProgress
from recipebench.suite.session import BenchSession
from tests.test_bench import bench


class FakeClock:
    """A clock that moves ``tick_s`` seconds each time it is read: each batch or image the set-up reports
    (the one thing it does between reads) takes that long."""

    def __init__(self, tick_s: float) -> None:
        self.now, self.tick_s = 0.0, tick_s

    def __call__(self) -> float:
        self.now += self.tick_s
        return self.now


def test_a_stage_shows_its_progress_at_most_every_few_seconds_with_its_time_left():
    clock, lines = FakeClock(1.0), []
    setup = SetupProgress(lambda text, final: lines.append((clock.now, text)), clock=clock, every_s=5.0)
    with setup.stage("weights for resnet18"):
        for done in range(1, 41):
            setup.step(done, 40, "epoch 1/1 · batches")
    texts = [t for _, t in lines]
    assert texts[0] == "set-up · weights for resnet18 …"
    assert texts[-1].startswith("set-up · weights for resnet18 · done in ") and texts[-1].endswith("(40 batches)")
    steps = texts[1:-1]
    assert 5 <= len(steps) <= 10  # a line each ~5 s of the ~40 s, not one per batch
    assert "epoch 1/1 · batches 5/40 · 0:05 elapsed, ~0:35 left" in steps[0]
    assert setup.seconds["weights for resnet18"] > 39
    assert setup.summary_line().startswith("recipebench: set-up took 0:")


def test_a_first_run_set_up_is_never_silent_for_more_than_ten_seconds(tmp_path):
    """The real set-up of a first run (empty cache: generation, two bodies pretrained, the warm-up), on a clock
    where each reported image or batch takes 2 s: no two lines more than 10 s apart from start to the end."""
    clock, lines = FakeClock(2.0), []
    session = BenchSession(Options(scale="smoke", device="cpu", cache_dir=tmp_path / "cache",
                                   results_dir=tmp_path / "results"))
    setup = SetupProgress(lambda text, final: lines.append((clock.now, text)), clock=clock, every_s=5.0)
    session.check_setup(["baseline", "resnet50_fp32"], setup=setup)
    times = [t for t, _ in lines]
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert max(gaps) <= 10, list(zip(gaps, [t for _, t in lines[1:]]))
    stages = [t for _, t in lines if t.endswith(" …")]
    assert stages == ["set-up · workload synthetic (smoke) …", "set-up · weights for resnet18 …",
                      "set-up · weights for resnet50 …", "set-up · warm-up …"]
    assert any("images generated" in t for _, t in lines) and any("· batches " in t for _, t in lines)
    assert list(setup.seconds) == [s[len("set-up · "):-2] for s in stages]


def test_the_suite_shows_the_set_up_plan_first_then_each_stage_then_the_case_plan(tmp_path):
    proc = bench(["--benchmark-only", "--scale", "smoke", "--recipe", "baseline", "--results-dir",
                  str(tmp_path / "results")], tmp_path / "cache")
    out = proc.stdout
    order = ["recipebench: set-up before the first of 1 case(s): workload synthetic (smoke), weights for resnet18, "
             "warm-up", "set-up · workload synthetic (smoke) …", "recipebench: 6 generated classes x 12 images",
             "set-up · workload synthetic (smoke) · done in ", "set-up · weights for resnet18 …",
             "set-up · weights for resnet18 · done in ", "set-up · warm-up · done in ", "recipebench: set-up took ",
             "recipebench: 1 case(s) to train on cpu"]
    at = [out.find(text) for text in order]
    assert all(i >= 0 for i in at) and at == sorted(at), dict(zip(order, at))
    again = bench(["--benchmark-only", "--scale", "smoke", "--recipe", "baseline", "--results-dir",
                   str(tmp_path / "results")], tmp_path / "cache").stdout
    assert "set-up · weights for resnet18 · done in " in again and "batches" not in again.split("set-up took")[0]
    quiet = bench(["--benchmark-only", "-q", "--scale", "smoke", "--recipe", "baseline", "--results-dir",
                   str(tmp_path / "results")], tmp_path / "cache").stdout
    assert "set-up" not in quiet
