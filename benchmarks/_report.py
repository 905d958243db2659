"""Write one benchmark's results file and its section of docs/benchmarks.md, atomically.

Each benchmark owns the text between ``<!-- BEGIN name -->`` and ``<!-- END name -->``;
running it again replaces that section and leaves the others alone. The section is
rendered from the benchmark's JSON results alone, which are committed as
``benchmarks/results/<name>.json``, so every figure in the docs can be checked (and
``tests/test_benchmark_docs.py`` checks that each section is its JSON rendered). Both
files are written atomically (`tfbnn.io`), so a killed run leaves the previous version
intact.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
from pathlib import Path

from tfbnn.io import atomic_write_text

DOCS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
RESULTS = Path(__file__).resolve().parent / "results"
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
    tag = re.escape(name)
    pattern = re.compile(rf"<!-- BEGIN {tag} -->.*?<!-- END {tag} -->", re.S)
    if pattern.search(old):
        new = pattern.sub(lambda _: block, old)
    else:
        new = old.rstrip() + "\n\n" + block + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, new)
    return path


def publish(section: str, text: str, write_docs: bool) -> None:
    """Print a section rendered from its results; with ``write_docs``, write it too."""
    print(text)
    if write_docs:
        print("wrote", update_section(section, text), file=sys.stderr)


def render_only(section: str, args: argparse.Namespace, render) -> dict | None:
    """With ``--render-only``: the results of ``args.json`` rendered into ``section`` by
    ``render`` (and written with ``--write-docs``), nothing measured; else None."""
    if not args.render_only:
        return None
    results = read_results(args.json)
    publish(section, render(results), args.write_docs)
    return results


def results_path(section: str) -> Path:
    """The committed results file of section ``section``."""
    return RESULTS / f"{section}.json"


def add_output_arguments(parser: argparse.ArgumentParser, section: str) -> None:
    """``--json``, ``--render-only`` and ``--write-docs``, the same in every benchmark."""
    parser.add_argument("--json", type=Path, default=None,
                        help=f"results file (default: benchmarks/results/{section}.json, "
                        "or none for a --quick run)")
    parser.add_argument("--render-only", action="store_true",
                        help="run nothing; render the --json file (with --write-docs: into "
                        "the docs)")
    parser.add_argument("--write-docs", action="store_true",
                        help=f"replace section {section} of docs/benchmarks.md")


def positive(kind=int):
    """An argparse ``type``: a ``kind`` (int or float) above 0, else a usage error naming
    the value."""
    def parse(text: str):
        value = kind(text)
        if not value > 0:
            raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
        return value
    parse.__name__ = f"positive {kind.__name__}"  # argparse names the type in its errors
    return parse


positive_int = positive(int)


def add_quick(parser: argparse.ArgumentParser, quick: dict) -> None:
    """``--quick``: a smoke run with the settings ``quick`` (see `apply_quick`)."""
    parser.add_argument("--quick", action="store_true", help="smoke check: " + ", ".join(
        f"{k}={v}" for k, v in quick.items()))


def apply_quick(args: argparse.Namespace, quick: dict) -> argparse.Namespace:
    """With ``--quick``, the settings of ``quick`` replace the parsed ones."""
    if args.quick:
        for key, value in quick.items():
            setattr(args, key, value)
    return args


OUTPUT_ARGUMENTS = ("json", "render_only", "write_docs")


def settings(args: argparse.Namespace) -> dict:
    """A run's arguments for its results file, less those that say where output goes."""
    return {k: v for k, v in vars(args).items() if k not in OUTPUT_ARGUMENTS}


def resolve_json(parser: argparse.ArgumentParser, args: argparse.Namespace, section: str,
                 smoke: bool = False) -> None:
    """Fill in ``args.json``: the committed results file, except for a smoke run, which
    writes none unless given one (so that it never replaces the committed results)."""
    if args.json is None and not smoke:
        args.json = results_path(section)
    if args.write_docs and args.json is None:
        parser.error("--write-docs needs the results in a file: give --json with --quick")
    if args.render_only and not args.json.exists():
        parser.error(f"--render-only: no results file {str(args.json)!r}")


def read_results(path: Path) -> dict:
    """The results in ``path``, with its name in the error if it is not JSON."""
    try:
        return json.loads(Path(path).read_text())
    except json.JSONDecodeError as err:
        raise SystemExit(f"{path} is not a results file ({err})") from None


def write_results(path: Path, results: dict) -> Path:
    """Write ``results`` to ``path`` as JSON, atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(results, indent=1) + "\n")
    return path


def machine_info() -> dict:
    """The CPU's name, the cores this process may use, the architecture and Python."""
    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f
                        if line.lower().startswith("model name")), cpu)
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable = os.cpu_count()
    return {"cpu": cpu, "cpus_usable": usable, "machine": platform.machine(),
            "python": platform.python_version(), "platform": platform.platform()}

