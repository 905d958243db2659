"""Atomic file output: a killed or failed write leaves the old file or nothing, never half.

Every writer in tfbnn (exports, evaluation state and reports, the CLI, the tutorials
and benchmarks) goes through these: the content is written into a temporary sibling
of the destination, flushed, and renamed into place (``os.replace`` is atomic on one
file system).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

__all__ = ["atomic_path", "atomic_replace", "atomic_write_bytes", "atomic_write_text"]


def atomic_write_text(path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file and a rename."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path, payload: bytes) -> None:
    """Write ``payload`` to ``path`` through a temporary file and a rename."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_path(path, suffix: str | None = None):
    """A temporary file name beside ``path`` for a writer that wants a name (``model.save``,
    ``savefig``); renamed onto ``path`` when the block succeeds, removed when it fails.

    ``suffix`` (default: ``path``'s) lets format-sniffing writers see the right extension.
    """
    path = Path(path)
    suffix = path.suffix if suffix is None else suffix
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_replace(tmp, path) -> None:
    """Move the finished file or directory ``tmp`` onto ``path``.

    An existing directory at ``path`` is first renamed aside, then removed, so ``path``
    holds the old or the new tree at every moment.
    """
    tmp, path = Path(tmp), Path(path)
    if path.is_dir():
        old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old-", dir=path.parent))
        os.replace(path, old / path.name)
        os.replace(tmp, path)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, path)
