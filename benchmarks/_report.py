"""Write one benchmark's results file and its section of docs/benchmarks.md, atomically.

Each benchmark owns the text between ``<!-- BEGIN name -->`` and ``<!-- END name -->``;
running it again replaces that section and leaves the others alone. The section is
rendered from the benchmark's JSON results alone, which are committed as
``benchmarks/results/<name>.json``, so every figure in the docs can be checked (and
``tests/test_benchmark_docs.py`` checks that each section is its JSON rendered). Both
files are written atomically (`tfbnn.io`), so a killed run leaves the previous version
intact.

The benchmarks share one skeleton, built from the helpers here, so that what every run
records and how it is written cannot drift from one script to the next::

    def parse_args(argv=None):
        parser = argparse.ArgumentParser(...)
        ...                                           # the script's own arguments
        args = parse(parser, argv, SECTION, QUICK)    # + --json/--render-only/--write-docs
        ...                                           # the script's own parser.error checks
        return args

    def main(argv=None):
        args = parse_args(argv)
        if (rendered := render_only(SECTION, args, render)) is not None:
            return rendered
        elapsed = clock()
        ...                                           # measure
        results = {**record(__file__, argv, args, n_images=n), **elapsed(), ...}
        return finish(SECTION, results, args, render)

A script whose results file has another shape (one written after every finished piece,
to resume from, or one from before this header existed, whose committed file must still
render to its docs section) uses the smaller pieces (`command`, `utc_now`, `loadavg`,
`machine_info`, `machine_line`, `publish`) instead of `record` and `finish`.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import os
import platform
import re
import shlex
import sys
import time
from collections.abc import Callable
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


def parse(parser: argparse.ArgumentParser, argv, section: str,
          quick: dict | None = None) -> argparse.Namespace:
    """Parse ``argv`` with the output arguments every benchmark has, for ``section``.

    Adds ``--json``, ``--render-only`` and ``--write-docs`` (`add_output_arguments`) and,
    given ``quick``, ``--quick`` (`add_quick`) to the script's own ``parser``; parses;
    applies ``--quick`` (`apply_quick`); fills in ``--json`` (`resolve_json`: a ``--quick``
    run writes no results file unless given one, so a smoke check never replaces the
    committed measurements). The script's own checks (``parser.error``) come after.
    """
    add_output_arguments(parser, section)
    if quick is not None:
        add_quick(parser, quick)
    args = parser.parse_args(argv)
    if quick is not None:
        apply_quick(args, quick)
    resolve_json(parser, args, section, smoke=quick is not None and args.quick)
    return args


def require_positive(parser: argparse.ArgumentParser, args: argparse.Namespace,
                     *names: str) -> None:
    """A usage error naming the option and its value unless each of ``names`` is >= 1,
    before any work starts."""
    for name in names:
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")


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


def finish(section: str, results: dict, args: argparse.Namespace, render) -> dict:
    """The end of a run: ``results`` written to ``args.json`` (none for a ``--quick`` run
    without ``--json``), then rendered by ``render`` and published (`publish`): the
    section is made from what was written, as ``--render-only`` would make it. Returns
    ``results``."""
    if args.json:
        print("wrote", write_results(args.json, results), file=sys.stderr)
    publish(section, render(results), args.write_docs)
    return results


def machine_info(gpus: bool = False) -> dict:
    """The CPU's name, the cores this process may use, the architecture and Python; with
    ``gpus``, the GPUs TensorFlow sees too (imported here, not before: some scripts must
    configure TensorFlow's devices first, and ``--render-only`` needs no TensorFlow)."""
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
    info = {"cpu": cpu, "cpus_usable": usable, "machine": platform.machine(),
            "python": platform.python_version(), "platform": platform.platform()}
    if gpus:
        import tensorflow as tf

        info["gpus"] = [d.name for d in tf.config.list_physical_devices("GPU")]
    return info


def loadavg() -> list[float]:
    """The 1, 5 and 15 minute load averages, rounded: how busy the shared machine was."""
    return [round(v, 2) for v in os.getloadavg()]


def machine_line() -> str:
    """The machine in one line, as the older results files record it (a string, not
    `machine_info`'s dict): the CPU, the cores, TensorFlow's version and the load now."""
    import tensorflow as tf

    return (f"{platform.processor() or platform.machine()}, {len(os.sched_getaffinity(0))} "
            f"CPU cores, TensorFlow {tf.__version__}, load average at the end {loadavg()}")


CORE_MODULES = ("tensorflow", "tf_keras", "larq", "tfbnn", "numpy")
"""The libraries every benchmark's speed depends on."""


def versions(*extra_modules: str) -> dict:
    """``{module: version}`` of `CORE_MODULES` and then of ``extra_modules`` (imported by
    name: e.g. ``"larq_compute_engine"`` for the 1-bit TFLite benchmark), so that a
    result can be traced to the versions that gave it."""
    return {name: getattr(importlib.import_module(name), "__version__", "unknown")
            for name in (*CORE_MODULES, *extra_modules)}


def command(script: str, argv=None) -> str:
    """The shell command that ran ``script`` (a benchmark's ``__file__`` or file name)
    with ``argv`` (None: this process's), as the docs show it: reproducible from the
    repository root."""
    argv = sys.argv[1:] if argv is None else argv
    return shlex.join(["python", f"benchmarks/{Path(script).name}", *argv])


def utc_now() -> str:
    """The time now, UTC, to the second (ISO 8601)."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def record(script: str, argv, args: argparse.Namespace, *, extra_modules=(),
           **config_extra) -> dict:
    """The header of a results file: ``command``, ``date``, ``machine`` (with its GPUs),
    ``versions`` (`versions` of ``extra_modules`` too) and ``config`` (the run's
    `settings`, then ``config_extra``: what the run derived from them, such as its image
    count). Everything a reader needs to rerun the measurement and to judge it."""
    return {"command": command(script, argv), "date": utc_now(),
            "machine": machine_info(gpus=True), "versions": versions(*extra_modules),
            "config": {**settings(args), **config_extra}}


def clock() -> Callable[[], dict]:
    """Start timing a run. The function returned gives ``loadavg_start``,
    ``loadavg_end`` and ``runtime_s`` (seconds since the call): the ratios are taken
    inside one process, but the load says how shared the machine was while they were."""
    started, at_start = time.perf_counter(), loadavg()
    return lambda: {"loadavg_start": at_start, "loadavg_end": loadavg(),
                    "runtime_s": time.perf_counter() - started}


def run_header(results: dict) -> list[str]:
    """The Markdown lines naming a run's command, machine, versions, date and load, from
    a header made by `record` and `clock`."""
    machine = results["machine"]
    return [
        f"Command: `{results['command']}`",
        "",
        f"Machine: {machine['cpu']}, {machine['cpus_usable']} CPU cores, "
        f"GPUs: {', '.join(machine['gpus']) or 'none'}; "
        + ", ".join(f"{k} {v}" for k, v in results["versions"].items())
        + f"; {results['date']}; load average at start {results['loadavg_start']}, "
        f"at end {results['loadavg_end']}; total {results['runtime_s'] / 60:.1f} min.",
        "",
    ]


def resumable(script: str, argv, args: argparse.Namespace, **empty) -> dict:
    """The results of a run that writes after every finished piece and can ``--resume``:
    with ``--resume`` and an existing ``args.json``, the results in it (which must have
    been written with the same settings, ``--resume`` aside, else a usage error naming
    them); otherwise a new header (``command``, ``date``, ``machine``, ``config``,
    ``loadavg_start``) with the ``empty`` containers the script fills. Not `record`: the
    header of a resumed file is the first run's."""
    config = {k: v for k, v in settings(args).items() if k != "resume"}
    previous = read_results(args.json) if args.resume and args.json.exists() else None
    if previous is not None and previous["config"] != config:
        raise SystemExit(f"--resume: {args.json} was written with other settings "
                         f"({previous['config']}); drop --resume to start again.")
    return previous or {"command": command(script, argv), "date": utc_now(),
                        "machine": machine_info(), "config": config,
                        "loadavg_start": loadavg(), **empty}


def test_images(n: int, drawn: bool | None, title: str = "") -> str:
    """Which test images a run measured, for a docs section: the first ``n``, or ``n`` drawn
    with a fixed seed where the split is ordered by class (`tfbnn.data.first_examples`)."""
    what = f"{title} test images" if title else "test images"
    if drawn:
        return f"{n} {what} drawn with a fixed seed from the class-ordered split"
    return f"first {n} {what}"
