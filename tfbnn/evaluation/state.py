"""The output directory of an evaluation: resumable, lossless, never silently overwritten.

Layout::

    DIR/config.json          the arguments that define the run (written first)
    DIR/batches/EPS_BBBBB.json  one file per (eps, batch), written atomically
    DIR/report.json          the finished report (written last), and report.md, *.png

A run killed at any point leaves only whole files. Started again with the same
arguments, it reads the finished batches and computes only the missing ones; with
other arguments it refuses to touch the directory.
"""

from __future__ import annotations

import json
from pathlib import Path

from tfbnn.io import atomic_write_text

__all__ = ["RunDirectory"]


class RunDirectory:
    """Per-batch results of one evaluation run in ``path``.

    # Arguments
        path: the output directory (created when missing).
        config: the arguments that define the run; must be JSON-serialisable.
        overwrite: allow starting over in a directory that holds another run.

    # Raises
        FileExistsError: when ``path`` holds another run's results (different config)
            and ``overwrite`` is False, or is a file.
    """

    def __init__(self, path, config: dict, *, overwrite: bool = False):
        self.path = Path(path)
        if self.path.exists() and not self.path.is_dir():
            raise FileExistsError(f"--out {str(self.path)!r} is a file; give a directory.")
        self.config = json.loads(json.dumps(config))
        config_file = self.path / "config.json"
        if config_file.is_file():
            old = json.loads(config_file.read_text())
            if overwrite:
                self._clear()
            elif old != self.config:
                changed = sorted(k for k in set(old) | set(self.config)
                                 if old.get(k) != self.config.get(k))
                raise FileExistsError(
                    f"{str(self.path)!r} holds another run's results (different {changed}); "
                    "choose another output directory, or pass overwrite=True (--overwrite) "
                    "to delete them.")
        elif self.path.is_dir() and any(self.path.iterdir()) and not overwrite:
            raise FileExistsError(
                f"{str(self.path)!r} is not empty and holds no tfbnn evaluation; choose an "
                "empty or new directory.")
        (self.path / "batches").mkdir(parents=True, exist_ok=True)
        atomic_write_text(config_file, json.dumps(self.config, indent=2, sort_keys=True) + "\n")

    def _clear(self) -> None:
        for file in (self.path / "batches").glob("*.json"):
            file.unlink()
        for name in ("report.json", "report.md", "config.json"):
            (self.path / name).unlink(missing_ok=True)

    def _batch_file(self, key: str, index: int) -> Path:
        return self.path / "batches" / f"{key}_{index:05d}.json"

    def load_batch(self, key: str, index: int) -> dict | None:
        """The saved record of batch ``index`` at setting ``key``, or None."""
        file = self._batch_file(key, index)
        return json.loads(file.read_text()) if file.is_file() else None

    def save_batch(self, key: str, index: int, record: dict) -> None:
        atomic_write_text(self._batch_file(key, index), json.dumps(record) + "\n")

    @property
    def finished(self) -> bool:
        return (self.path / "report.json").is_file()

    def write(self, name: str, text: str) -> Path:
        atomic_write_text(self.path / name, text)
        return self.path / name
