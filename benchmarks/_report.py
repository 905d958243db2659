"""Write one benchmark's section of docs/benchmarks.md, atomically.

Each benchmark owns the text between ``<!-- BEGIN name -->`` and ``<!-- END name -->``;
running it again replaces that section and leaves the others alone. The file is
written atomically (`tfbnn.io`), so a killed run leaves the previous version intact.
"""

from __future__ import annotations

import re
from pathlib import Path

from tfbnn.io import atomic_write_text

DOCS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
HEADER = (
    "# Benchmarks\n\n"
    "Speed measured as ratios against a baseline run in the same process, by the scripts in\n"
    "`benchmarks/`. Each section below is written by the script named in it, with the\n"
    "command that produced it; do not edit the sections by hand.\n"
)


def update_section(name: str, text: str, path: Path = DOCS) -> Path:
    """Replace (or append) section ``name`` of ``path`` with ``text``."""
    path = Path(path)
    old = path.read_text() if path.exists() else HEADER
    block = f"<!-- BEGIN {name} -->\n{text.rstrip()}\n<!-- END {name} -->"
    pattern = re.compile(rf"<!-- BEGIN {re.escape(name)} -->.*?<!-- END {re.escape(name)} -->", re.S)
    new = pattern.sub(lambda _: block, old) if pattern.search(old) else old.rstrip() + "\n\n" + block + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, new)
    return path
