"""The GPU rehearsal: the whole chapter suite at full scale on a CUDA machine, next to the chapter's numbers.

    python benchmarks/gpu_rehearsal.py [--data-dir DIR] [--workload pets|synthetic] [--results-dir DIR]
                                       [-- EXTRA PYTEST ARGS]

Runs ``pytest recipes/ --benchmark-only --scale full --device cuda`` (every recipe, the chapter's
settings: Resize(460), size 224, bs 64, resnet34 / resnet50, fastai's default DataLoader workers) on
``pets`` -- ``--data-dir`` (e.g. ``../shared/pets/images``), else fastai's cache, else downloaded when
the host answers -- or on ``synthetic`` when there is no Pets data at all. Meanwhile it samples the
GPU's utilisation with ``nvidia-smi`` every half second. Then it prints, per recipe and sub-result:
error rate (and the chapter's), wall time, training img/s over the run and its slowest epoch, peak
memory (CUDA max allocated) and the GPU's mean utilisation while the recipe ran. A busy GPU (high
utilisation, steady img/s per epoch) says data loading is not the bottleneck.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: The chapter's final error rates (fastbook 05_pet_breeds, full Oxford-IIIT Pet, one run each, 2020 GPU).
CHAPTER = {
    "baseline": 0.0805, "lr_find_tuned": 0.0832, "freeze_unfreeze": 0.0595, "discriminative_lr": 0.0541,
    "resnet50_mixed_precision": 0.0548,
}
SAMPLE_MS = 500


def gpu_sampler(log: Path) -> subprocess.Popen | None:
    """``nvidia-smi`` writing ``timestamp, utilization %, memory used MiB`` every SAMPLE_MS ms; None without it."""
    try:
        return subprocess.Popen(
            ["nvidia-smi", "--query-gpu=timestamp,utilization.gpu,memory.used", "--format=csv,noheader,nounits",
             f"-lms={SAMPLE_MS}"], stdout=log.open("w"), stderr=subprocess.DEVNULL)
    except OSError:
        return None


def read_samples(log: Path) -> list[tuple[float, float]]:
    """(unix time, utilisation %) of each sample nvidia-smi wrote (its timestamps are local time)."""
    out = []
    for line in log.read_text().splitlines() if log.exists() else ():
        parts = [p.strip() for p in line.split(",")]
        try:
            stamp = datetime.strptime(parts[0], "%Y/%m/%d %H:%M:%S.%f").timestamp()
            out.append((stamp, float(parts[1])))
        except (ValueError, IndexError):
            continue
    return out


def mean_utilisation(samples: list[tuple[float, float]], start: float, end: float) -> float | None:
    """The mean utilisation of the samples taken between ``start`` and ``end`` (unix times)."""
    inside = [(t, u) for t, u in samples if start <= t <= end]
    return sum(u for _, u in inside) / len(inside) if inside else None


def rows(results, samples) -> list[list[str]]:
    """One row per run and sub-result: the figures the rehearsal reports."""
    out = []
    for r in results:
        end = datetime.strptime(r.created_utc, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()
        util = mean_utilisation(samples, end - r.wall_s, end)  # the run ends a validation pass before created_utc
        epoch_rates = [e.train_samples / e.train_s for e in r.epochs if e.train_s > 0]
        figures = [
            "-" if r.error_rate is None else f"{r.error_rate:.4f}",
            f"{CHAPTER[r.recipe]:.4f}" if r.recipe in CHAPTER else "-",
            f"{r.wall_s:.1f}",
            "-" if r.samples_per_s is None else f"{r.samples_per_s:.0f}",
            f"{min(epoch_rates):.0f}" if epoch_rates else "-",
            "-" if r.peak_memory_bytes is None else f"{r.peak_memory_bytes / 2**30:.2f}",
            "n/a" if util is None else f"{util:.0f}",
        ]
        out.append([f"{r.recipe} (seed {r.seed})", r.status, *figures])
        for o in r.outcomes:
            out.append([f"  > {o.name}", r.status, "-" if o.error_rate is None else f"{o.error_rate:.4f}", "-",
                        f"{o.wall_s:.1f}", "-" if o.samples_per_s is None else f"{o.samples_per_s:.0f}", "-", "-",
                        "-"])
    return out


HEADERS = ("recipe", "status", "error_rate", "chapter", "wall s", "img/s", "slowest epoch img/s", "peak GiB",
           "GPU util %")


def pets_available(data_dir: Path | None) -> bool:
    if data_dir is not None:
        return True
    from recipebench.data.fetch import probe
    from recipebench.plugins.pets import PETS_URL, fastai_home

    return (fastai_home() / "data" / "oxford-iiit-pet" / "images").is_dir() or probe(PETS_URL) is None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, help="a folder of Pets images (<breed>_<n>.jpg)")
    parser.add_argument("--workload", choices=("pets", "synthetic"),
                        help="default: pets when there is Pets data (--data-dir, fastai's cache, or the network), "
                             "else synthetic")
    parser.add_argument("--results-dir", type=Path, default=REPO / "results" / "gpu-rehearsal")
    parser.add_argument("pytest_args", nargs="*", help="more pytest arguments, after --")
    args = parser.parse_args(argv)

    workload = args.workload or ("pets" if pets_available(args.data_dir) else "synthetic")
    command = [sys.executable, "-m", "pytest", "recipes/", "--benchmark-only", "-p", "no:cacheprovider",
               "--workload", workload, "--scale", "full", "--device", "cuda", "--results-dir", str(args.results_dir),
               *(["--data-dir", str(args.data_dir)] if args.data_dir and workload == "pets" else []),
               *args.pytest_args]
    print("recipebench GPU rehearsal:", " ".join(command), flush=True)
    before = {p for p in args.results_dir.glob("*") if p.is_dir()} if args.results_dir.exists() else set()
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "nvidia-smi.csv"
        sampler = gpu_sampler(log)
        t0 = time.perf_counter()
        code = subprocess.run(command, cwd=REPO).returncode
        suite_s = time.perf_counter() - t0
        if sampler is not None:
            sampler.terminate()
            sampler.wait()
        samples = read_samples(log)

    from tabulate import tabulate

    from recipebench.record.store import load_results

    sessions = sorted(p for p in args.results_dir.glob("*") if p.is_dir() and p not in before)
    if not sessions:
        print(f"no results were written (pytest exit status {code})")
        return code or 1
    results = load_results(sessions[-1:])
    print(f"\nrecipebench GPU rehearsal: {workload}, full scale, {results[0].device_name}; the whole suite "
          f"{suite_s / 60:.1f} min (target: under 10); results in {sessions[-1]}")
    print(tabulate(rows(results, samples), headers=HEADERS, tablefmt="github", disable_numparse=True))
    print("error_rate: final weights; chapter: fastbook's own run (one seed, 2020 GPU, ImageNet V1 weights); "
          "img/s: training images per second; GPU util: nvidia-smi, mean over the recipe's run"
          + ("" if samples else " (nvidia-smi not found: n/a)"))
    return code


if __name__ == "__main__":
    sys.exit(main())
