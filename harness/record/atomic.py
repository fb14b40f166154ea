"""Writing files safely: one atomic writer for results, cached weights and downloads.

Everything is written under a temporary name beside its target, flushed to disk, then published
in one step, so an interrupted or concurrent writer never leaves a half-written file behind:

* ``overwrite=True``  -- renamed over the target (a cache entry, a download);
* ``overwrite=False`` -- linked under the first free name, ``name.json``, ``name-2.json``, ... (a
  result: nothing a user ran is ever overwritten).

Published files get the permissions any file the user makes gets (``0666`` less the umask), not
the ``0600`` of a temporary file.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable, Iterable, Iterator

#: How many numbered names ``overwrite=False`` tries before giving up.
MAX_NAMES = 999


def umask() -> int:
    """The process's umask, read without changing it where Linux tells (``/proc/self/status``)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    current = os.umask(0o022)  # elsewhere: read it by setting it, and put it back at once
    os.umask(current)
    return current


def atomic_write(path: Path, content: bytes | str | Iterable[bytes], *, overwrite: bool = True,
                 check: Callable[[Path], None] | None = None) -> Path:
    """Write ``content`` (bytes, text, or chunks of bytes) to ``path`` atomically; return the path written.

    ``check(tmp)`` may inspect the complete temporary file before it is published and raise to keep
    nothing (a download whose checksum is wrong). With ``overwrite=False`` a taken name is never
    replaced: the file gets the first free name ``<stem>-<n><suffix>``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            chunks = [content.encode()] if isinstance(content, str) else [content] if isinstance(content, bytes) else content
            for chunk in chunks:
                f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
            os.fchmod(f.fileno(), 0o666 & ~umask())
        if check is not None:
            check(tmp)
        if overwrite:
            os.replace(tmp, path)
            return path
        for n in range(1, MAX_NAMES + 1):
            target = free_name(path, n)
            try:
                os.link(tmp, target)  # atomic, and fails if the name is taken
                return target
            except FileExistsError:
                continue
        raise FileExistsError(f"no free file name for {path} (tried {MAX_NAMES})")
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def free_name(path: Path, n: int) -> Path:
    """The ``n``-th name ``overwrite=False`` tries for ``path``: ``name.json``, ``name-2.json``, ..."""
    return path if n == 1 else path.with_name(f"{path.stem}-{n}{path.suffix}")


def move_without_replacing(source: Path, target: Path) -> Path:
    """Move ``source`` to ``target``, or, if that name is taken, to its first free numbered name (as
    :func:`atomic_write` with ``overwrite=False``): linked there atomically, then unlinked here, so the
    file is never lost and nothing is replaced. Returns where it went."""
    target.parent.mkdir(parents=True, exist_ok=True)
    for n in range(1, MAX_NAMES + 1):
        try:
            os.link(source, free_name(target, n))
        except FileExistsError:
            continue
        source.unlink()
        return free_name(target, n)
    raise FileExistsError(f"no free file name for {target} (tried {MAX_NAMES})")


@contextlib.contextmanager
def atomic_dir(final: Path) -> Iterator[Path]:
    """Yield a temporary folder beside ``final``; when the block succeeds it becomes ``final``.

    If another process made ``final`` meanwhile, its folder is kept and ours discarded.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        yield tmp
        try:
            tmp.rename(final)
        except OSError:
            if not final.exists():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
