"""Where generated data, pretrained weights and file checks are kept.

Everything cached is keyed by a hash of everything that changes it and made atomically
(:mod:`recipebench.record.atomic`), so an interrupted or concurrent run never leaves a half-made entry behind.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Callable

from recipebench.record.atomic import atomic_dir

ENV_VAR = "RECIPEBENCH_CACHE"


def default_cache_dir() -> Path:
    """``$RECIPEBENCH_CACHE`` if set, else the user cache dir (``~/.cache/recipebench`` on Linux)."""
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("recipebench"))


def cache_key(params: Any) -> str:
    """A short stable hash of JSON-able ``params``."""
    blob = json.dumps(params, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def cached_dir(parent: Path, name: str, params: Any, make: Callable[[Path], None]) -> Path:
    """The folder ``parent/<name>-<key of params>``, made once by ``make(folder)`` and reused after.

    ``make`` fills a temporary folder that becomes the entry only when it returns, so a crash leaves
    no half-made entry. A workload plugin keeps generated or converted data this way.
    """
    root = Path(parent) / f"{name}-{cache_key(params)}"
    if not root.exists():
        with atomic_dir(root) as tmp:
            make(tmp)
    return root
