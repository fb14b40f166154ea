"""Where a result was made, recorded with it: device, precision support, versions, commit, host and machine."""
from __future__ import annotations

import os
import platform
import socket
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any, Mapping


class DeviceError(ValueError):
    """--device asks for something this machine does not have."""


def is_cuda(device) -> bool:
    """Whether ``device`` (a torch.device or its name) is a CUDA device: the one check the harness uses."""
    return getattr(device, "type", str(device).split(":")[0]) == "cuda"


def mixed_dtype(device):
    """What "mixed" precision means on ``device``: float16 on CUDA, bfloat16 on a CPU."""
    import torch

    return torch.float16 if is_cuda(device) else torch.bfloat16


def resolve_device(choice: str):
    """``auto`` -> CUDA when available, else CPU; ``cuda`` without CUDA is an error."""
    import torch

    if choice not in ("auto", "cpu", "cuda"):
        raise DeviceError(f"--device {choice!r}: use auto, cpu or cuda")
    if choice == "cuda" and not torch.cuda.is_available():
        raise DeviceError("--device cuda: torch sees no CUDA device here (torch.cuda.is_available() is False)")
    if choice == "auto":
        choice = "cuda" if torch.cuda.is_available() else "cpu"
    if choice == "cuda":  # with its index, so results say which GPU ran
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device(choice)


def device_name(device) -> str:
    import torch

    if is_cuda(device):
        return torch.cuda.get_device_name(device)
    return f"{cpu_model()} ({torch.get_num_threads()} threads)"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


#: CPU flags (as /proc/cpuinfo spells them) that say what bfloat16 and vector work will cost.
CPU_FLAGS = ("avx2", "avx512f", "avx512bw", "avx512_bf16", "amx_bf16", "amx_tile")


def cpu_flags() -> list[str]:
    """Which of :data:`CPU_FLAGS` this CPU has (empty where /proc/cpuinfo cannot be read)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                have = set(line.split(":", 1)[1].split())
                return [f for f in CPU_FLAGS if f in have]
    except OSError:
        pass
    return []


def cpu_bf16() -> dict[str, Any]:
    """What this CPU can do in bfloat16: ``native`` is oneDNN's own check (the bf16 kernels PyTorch uses
    for convolutions and matmuls exist for this CPU: AVX512-BF16, AMX, or AVX512 cores). Without them
    PyTorch falls back to slow reference convolutions, about 20x slower than float32 (measured here on an
    AVX2-only CPU: resnet50 fine_tune(6, freeze_epochs=3) 2,223 s in bf16 against 113 s in fp32)."""
    import torch

    flags = cpu_flags()
    try:
        native = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        how = "oneDNN (torch.ops.mkldnn._is_mkldnn_bf16_supported)"
    except (AttributeError, RuntimeError):  # an older or stripped torch: judge by the flags
        native = bool({"avx512_bf16", "amx_bf16", "avx512bw"} & set(flags))
        how = "CPU flags"
    return {"native": native, "checked_by": how, "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "flags": flags}


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def versions() -> dict[str, str | None]:
    import torch

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": _version("torchvision"),
        "fastai": _version("fastai"),
        "fastcore": _version("fastcore"),
        "cuda": torch.version.cuda,
        "cudnn": str(torch.backends.cudnn.version()) if torch.backends.cudnn.is_available() else None,
        "pytest_benchmark": _version("pytest-benchmark"),
        "pluggy": _version("pluggy"),
        "recipebench": _version("recipebench"),
    }


def git_commit(cwd: Path | None = None) -> dict[str, str | bool | None]:
    """The checkout's commit and whether it had uncommitted changes (None outside git)."""
    def run(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    commit = run("rev-parse", "HEAD")
    status = run("status", "--porcelain", "--untracked-files=no") if commit else None
    return {"git_commit": commit, "git_dirty": bool(status) if status is not None else None}


def environment(device, code_state: Mapping[str, Any]) -> dict:
    """Where a run ran; ``code_state``: :func:`git_commit` as read when the code was loaded."""
    import torch

    return {
        **code_state,
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cpu_bf16": cpu_bf16(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cuda_available": torch.cuda.is_available(),
        "device_index": device.index if is_cuda(device) else None,
        "cudnn_deterministic": torch.backends.cudnn.deterministic,
        "cudnn_benchmark": torch.backends.cudnn.benchmark,
        "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
    }
