"""Downloads that fail fast: a bounded reachability probe, socket timeouts, atomic files.

Everything the harness may fetch (the Pets archive, torchvision's ImageNet weights) is looked up in
its cache first; only when it is absent does the harness try the network, and then :func:`probe`
answers within seconds whether the host can be reached at all, so an offline machine gets a clear
error at once instead of a hung download.
"""
from __future__ import annotations

import contextlib
import hashlib
import socket
import threading
import urllib.request
from pathlib import Path
from typing import Iterator
from urllib.parse import urlparse

from recipebench.record.atomic import atomic_write

#: Seconds the reachability probe may take (name lookup and TCP connect together).
PROBE_TIMEOUT_S = 5.0
#: Seconds any single socket operation of a download may stall before it fails.
SOCKET_TIMEOUT_S = 60.0


def _endpoint(url: str) -> tuple[str, int]:
    """The host and port a request for ``url`` really goes to (its proxy's, when one is set)."""
    parts = urlparse(url)
    proxy = urllib.request.getproxies().get(parts.scheme)
    if proxy and not urllib.request.proxy_bypass(parts.hostname or ""):
        proxied = urlparse(proxy if "://" in proxy else f"http://{proxy}")
        return proxied.hostname or "", proxied.port or 80
    return parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)


def probe(url: str, timeout_s: float = PROBE_TIMEOUT_S) -> str | None:
    """``None`` when ``url``'s host (or its proxy) accepts a connection within ``timeout_s``, else why not.

    Name lookup has no timeout of its own, so the whole probe runs in a daemon thread that is
    abandoned after ``timeout_s``.
    """
    host, port = _endpoint(url)
    outcome: list[str | None] = []

    def connect() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout_s).close()
            outcome.append(None)
        except OSError as exc:
            outcome.append(f"{type(exc).__name__}: {exc}")

    worker = threading.Thread(target=connect, name=f"probe {host}", daemon=True)
    worker.start()
    worker.join(timeout_s)
    if not outcome:
        return f"no answer from {host}:{port} within {timeout_s:g} s"
    return outcome[0] if outcome[0] is None else f"cannot connect to {host}:{port} ({outcome[0]})"


@contextlib.contextmanager
def socket_timeout(seconds: float = SOCKET_TIMEOUT_S) -> Iterator[None]:
    """Within the block, a socket operation that stalls for ``seconds`` raises instead of hanging."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def download_file(url: str, dest: Path, sha256_prefix: str | None = None,
                  timeout_s: float = SOCKET_TIMEOUT_S) -> Path:
    """Download ``url`` to ``dest`` (written under a temporary name, then renamed).

    With ``sha256_prefix`` the file's sha256 must start with it, else nothing is kept and
    :class:`OSError` says so.
    """
    digest = hashlib.sha256()

    def chunks(response) -> Iterator[bytes]:
        for chunk in iter(lambda: response.read(1 << 20), b""):
            digest.update(chunk)
            yield chunk

    def check(_tmp: Path) -> None:
        if sha256_prefix and not digest.hexdigest().startswith(sha256_prefix):
            raise OSError(f"{url}: downloaded file's sha256 {digest.hexdigest()[:16]}... does not start with "
                          f"{sha256_prefix} as its name promises; not kept")

    with urllib.request.urlopen(url, timeout=timeout_s) as response:
        return atomic_write(dest, chunks(response), check=check)
