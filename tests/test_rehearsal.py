"""The GPU rehearsal script, without a GPU: its sampling, its table, its command line."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from datetime import datetime, timezone

from tests.conftest import REPO
from tests.fake_results import make_result

spec = importlib.util.spec_from_file_location("gpu_rehearsal", REPO / "benchmarks" / "gpu_rehearsal.py")
rehearsal = importlib.util.module_from_spec(spec)
spec.loader.exec_module(rehearsal)


def test_nvidia_smi_samples_are_read_and_averaged_over_a_run(tmp_path):
    log = tmp_path / "smi.csv"
    log.write_text("2026/11/30 08:00:00.000, 10, 500\n2026/11/30 08:00:10.000, 90, 9000\n"
                   "2026/11/30 08:00:20.000, 70, 9000\nnot a sample\n")
    samples = rehearsal.read_samples(log)
    assert [u for _, u in samples] == [10.0, 90.0, 70.0]
    start = datetime(2026, 11, 30, 8, 0, 5).timestamp()
    assert rehearsal.mean_utilisation(samples, start, start + 20) == 80.0
    assert rehearsal.mean_utilisation(samples, start + 100, start + 200) is None


def test_the_table_puts_each_recipe_next_to_the_chapter():
    end = datetime(2026, 1, 1, tzinfo=timezone.utc).timestamp()
    result = make_result("baseline", error_rate=0.0812, wall_s=60.0, outcomes=(("arm", 0.07, 30.0),))
    (row, arm) = rehearsal.rows([result], [(end - 30, 95.0), (end - 90, 5.0)])
    assert row[:7] == ["baseline (seed 0)", "ok", "0.0812", "0.0805", "60.0", "80", "-"]
    assert row[-1] == "95"  # the sample before the run started is not counted
    assert arm[0] == "  > arm" and arm[2] == "0.0700"


def test_the_script_explains_itself():
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "gpu_rehearsal.py"), "--help"],
                          capture_output=True, text=True)
    assert proc.returncode == 0 and "--scale full --device cuda" in proc.stdout
