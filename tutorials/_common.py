"""Pieces every tutorial shares: paper numbers, resumable results, the summary that
`make_results.py` turns into a section of docs/RESULTS.md.

A tutorial's JSON holds ``{"config": ..., ..., "summary": summary(...)}``. The summary
carries the title, the command, the scale of both sides, a Markdown table putting the
paper's numbers and tfbnn's side by side, and a verdict computed by the tutorial from
those numbers with its rule stated in ``why``.
"""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import numpy as np

from tfbnn.export import atomic_write_bytes, atomic_write_text

HERE = Path(__file__).parent
RESULTS = HERE / "results"
VERDICTS = ("reproduced", "not reproduced", "refuted", "not comparable")


def paper(name: str) -> dict:
    """The paper numbers in ``paper_numbers/NAME.json``."""
    return json.loads((HERE / "paper_numbers" / f"{name}.json").read_text())


def load(out, config: dict) -> dict:
    """The results written earlier for the same config (a resumed run), else a fresh dict."""
    out = Path(out)
    if out.is_file():
        results = json.loads(out.read_text())
        if results.get("config") == json.loads(json.dumps(config)):
            return results
    return {"config": config}


def save(out, results: dict) -> None:
    """Write ``results`` atomically (a killed run loses nothing finished).

    Once the results carry a ``summary``, its Markdown section (`render`) is written
    beside the JSON too, as ``NAME.md``.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, json.dumps(results, indent=1) + "\n")
    if results.get("summary"):
        atomic_write_text(out.with_suffix(".md"), "\n".join(render(results["summary"])))


def render(s: dict, plot_dir: str = "") -> list[str]:
    """The Markdown lines of one `summary`; plots are linked as ``plot_dir + file``."""
    lines = [f"## {s['title']}", "", f"Command: `{s['command']}`. Paper: {s['paper_scale']}. "
             f"tfbnn: {s['tfbnn_scale']}.", ""]
    lines += s["table"] + ["", f"**Verdict: {s['verdict']}.** {s['why']}"]
    lines += [f"![{p}]({plot_dir}{p})" for p in s.get("plots", [])]
    return lines + [""]


def mnist_test(n: int | None = None):
    """The first ``n`` MNIST test images (all 10,000 when None): float32 x, int64 labels."""
    from tfbnn import data

    _, (x, y) = data.load_mnist()
    return np.asarray(x[:n], np.float32), np.asarray(y[:n]).astype(np.int64)


def summary(*, title: str, command: str, paper_scale: str, tfbnn_scale: str, table: list,
            verdict: str, why: str, plots: list | None = None) -> dict:
    """The section of docs/RESULTS.md for one tutorial; ``verdict`` one of `VERDICTS`."""
    if verdict not in VERDICTS:
        raise ValueError(f"verdict must be one of {VERDICTS}, got {verdict!r}.")
    return {"title": title, "command": command, "paper_scale": paper_scale,
            "tfbnn_scale": tfbnn_scale, "table": list(table), "verdict": verdict, "why": why,
            "plots": list(plots or [])}


def markdown_table(header: list, rows: list) -> list:
    """Lines of a Markdown table."""
    lines = ["| " + " | ".join(map(str, header)) + " |",
             "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in rows]
    return lines


def pyplot():
    """matplotlib's pyplot on the Agg backend (plots are written to files, no display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, out, suffix: str = "", dpi: int = 110) -> str:
    """Lay out ``fig``, write it as ``STEM{suffix}.png`` beside ``out`` atomically, close it.

    Returns the file name, as a summary's ``plots`` lists it.
    """
    fig.tight_layout()
    out = Path(out)
    name = f"{out.stem}{suffix}.png"
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    atomic_write_bytes(out.parent / name, buffer.getvalue())
    pyplot().close(fig)
    return name


def command(name: str, config: dict, default: dict, full: dict) -> str:
    """The command line that reproduces ``config``: ``--full``, or the settings it changed."""
    base = f"python tutorials/{name}.py"
    if config == {**default, **full, "full": True, "out": config["out"]}:
        return base + " --full"
    diff = {k: v for k, v in config.items() if k != "out" and default.get(k) != v}
    return base + (f" (config {json.dumps(diff)})" if diff else "")


OPTIONS = {
    "n": dict(type=int, help="test images"),
    "models": dict(nargs="+", help="models, e.g. A B C"),
    "k1": dict(type=int, help="first-layer kernels of the CNNs"),
    "epochs": dict(type=int, help="training epochs"),
    "seed": dict(type=int, help="random seed"),
    "out": dict(help="output JSON file"),
}
"""The command-line options most tutorials share (all default to the tutorial's config)."""


def cli(doc: str, full: dict | None = None, names=(), **extra) -> dict:
    """Parse a tutorial's command line into config overrides.

    ``names`` picks options from `OPTIONS`; ``extra`` adds others (name -> argparse
    keywords). ``--full`` (when ``full`` is given) applies ``full`` first, so explicit
    options win. Options left out do not appear in the returned dict.
    """
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    if full is not None:
        parser.add_argument("--full", action="store_true", help=f"paper scale: {full}")
    for name, kwargs in [(n, OPTIONS[n]) for n in names] + list(extra.items()):
        parser.add_argument("--" + name.replace("_", "-"), dest=name, **kwargs)
    args = vars(parser.parse_args())
    use_full = args.pop("full", False)
    return {**(full if use_full else {}), **{k: v for k, v in args.items() if v is not None}}
