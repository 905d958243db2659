"""Pieces every tutorial shares: the run (config, resume, saving), batched attacks and
their scores, paper numbers, and the summary that `make_results.py` turns into a section of
docs/RESULTS.md.

A tutorial's JSON holds ``{"config": ..., ..., "summary": summary(...)}``. The summary
carries the title, the command, the scale of both sides, a Markdown table putting the
paper's numbers and tfbnn's side by side, and a verdict computed by the tutorial from
those numbers with its rule stated in ``why``.

A tutorial's ``main(config)`` is its protocol around a `Run`, which owns the config, the
output file, resuming and saving::

    run = _common.Run(config, DEFAULT, FULL)  # {**DEFAULT, **config}; a resumed run's results
    models = run.section("models")
    x, y = _common.mnist_test(run.config["n"])
    for name in run.config["models"]:
        spec = _zoo.model_spec(name, run.config)
        model_fn, info = _zoo.classifier(spec)
        entry = run.entry(models, name, spec, {"model": info["spec"], "fgsm": {}})
        for eps in run.config["eps"]:  # skipped when finished, saved when done
            run.step(entry["fgsm"], str(eps), lambda: _common.attack_accuracy(
                fgsm(eps), model_fn, x, y, run.config["batch"]), say=lambda acc: f"{acc:.3f}")
    return run.finish(summarize(run.results))  # the summary, the verdict, saved

The JSON is written after each finished entry (and the Markdown section once there is a
summary), atomically, so a killed run loses nothing finished; an entry measured on a
model trained to another spec (`_zoo.current`) is measured again.
"""

from __future__ import annotations

import argparse
import io
import json
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

import _verdicts
import _zoo
from tfbnn import export
from tfbnn.batching import map_batches
from tfbnn.io import atomic_write_bytes, atomic_write_text

HERE = Path(__file__).parent
RESULTS = HERE / "results"
ROOT = HERE.parent.resolve()
"""The repository root: a results file records its ``out`` relative to it (`save`)."""
VERDICTS = _verdicts.VERDICTS


def resolve(config: dict, default: dict, full: dict | None = None) -> dict:
    """A tutorial's whole config: ``default``, then ``full`` (the paper's scale) where
    ``config["full"]`` is set, then ``config`` itself (explicit settings win)."""
    return {**default, **((full or {}) if config.get("full") else {}), **config}


class Run:
    """One run of a tutorial: its config, its output file and its results, resumable.

    # Arguments
        config: the caller's settings (``main(config)``), resolved by `resolve`.
        default: the tutorial's default config.
        full: what ``"full": True`` in ``config`` applies (the paper's scale).
        name: the stem of the results file in `RESULTS` when the config has no ``out``.
        ignore: config keys a resumed run may change (another ``--oracles`` adds to the
            same results); they are left out of the config the results record.
        indent: the JSON indentation of the results file (None: one line).

    # Attributes
        config: the resolved config.
        out: the results file (``NAME.json``; ``NAME.md`` and plots beside it).
        results: what an earlier run of the same config left there (`load`), else
            ``{"config": ...}``.
    """

    def __init__(self, config: dict, default: dict, full: dict | None = None, *,
                 name: str | None = None, ignore: tuple = (), indent: int | None = 1):
        self.config = resolve(config, default, full)
        self.out = Path(self.config.get("out") or RESULTS / f"{name}.json").resolve()
        if self.config.get("out"):  # the caller's relative path is the working directory's
            self.config["out"] = str(self.out)
        self.indent = indent
        recorded = {k: v for k, v in self.config.items() if k not in ignore}
        self.results = load(self.out, recorded, {k: v for k, v in default.items()
                                                 if k not in ignore})

    def section(self, name: str) -> dict:
        """The top-level dict ``results[name]``, created empty when missing."""
        return self.results.setdefault(name, {})

    def entry(self, where: dict, key: str, spec: dict, fresh: dict) -> dict:
        """``where[key]`` when it was measured on the model ``spec`` names today, else
        ``fresh`` in its place (none yet, or measured on a model trained to another spec:
        redone); see `_zoo.current`."""
        if not _zoo.current(where.get(key), spec):
            where[key] = fresh
        return where[key]

    def step(self, where: dict, key: str, compute: Callable[[], Any], *,
             spec: dict | None = None, seconds: bool = False,
             say: Callable[[Any], str] | None = None) -> Any:
        """``where[key]``: kept when an earlier run finished it (and, with ``spec``, measured
        it on the model ``spec`` names today), else ``compute()``, stored, saved and
        announced as ``say(value)``. With ``seconds``, ``compute()`` returns a dict and the
        seconds it took are added to it last, as ``"seconds"``."""
        if key in where and (spec is None or _zoo.current(where[key], spec)):
            return where[key]
        value, took = timed(compute)
        where[key] = value = {**value, "seconds": took} if seconds else value
        self.save(say(value) if say else None)
        return value

    def save(self, say: str | None = None) -> None:
        """Write the results now (`save`), then print ``say``."""
        save(self.out, self.results, self.indent)
        if say is not None:
            print(say, flush=True)

    def finish(self, summary: dict | None = None, markdown: str | None = None) -> dict:
        """Store ``summary`` (see `summary`), save, print the verdict; returns the results.

        ``markdown``: the text of ``NAME.md`` for results without a summary.
        """
        if summary is not None:
            self.results["summary"] = summary
        save(self.out, self.results, self.indent, markdown)
        if summary:
            print(f"verdict: {summary['verdict']}. {summary['why']}", flush=True)
        return self.results


def by_seed(models: dict, legacy_seed: int) -> tuple[dict, bool]:
    """``models`` as ``{model: {seed: row}}``, and whether it had to be converted.

    Results written before the seeded tutorials (2026-12-02) hold one row per model,
    trained at ``legacy_seed``; they are judged as that one seed (so with no spread over
    seeds) until a seeded rerun replaces them, and the summary says so.
    """
    legacy = any(not all(str(k).isdigit() for k in row) for row in models.values() if row)
    if not legacy:
        return models, False
    return {name: {str(legacy_seed): row} for name, row in models.items()}, True


LEGACY_NOTE = ("Provisional: this result predates the seeded rerun. It has one training "
               "seed ({seed}), so tfbnn's cells carry the test set's noise alone and not the "
               "spread between training runs, which the paper's ± shows can be several "
               "points; an 'opposite' or 'fails' here may lie inside that spread. "
               "`{command}` reruns it with three seeds.")
"""What a summary of a one-seed (pre-2026-12-02) result adds to its ``why``."""


def provisional(summary: dict, legacy: bool, seed: int) -> dict:
    """``summary``, with `LEGACY_NOTE` added to its ``why`` when it judged a ``legacy``
    one-seed result (trained at ``seed``)."""
    if legacy:
        summary["why"] += " " + LEGACY_NOTE.format(seed=seed, command=summary["command"])
    return summary


def in_batches(fn: Callable, *arrays: np.ndarray, batch: int) -> np.ndarray:
    """``fn(*rows)`` on ``batch`` rows of ``arrays`` at a time, the outputs concatenated
    (`tfbnn.batching.map_batches`)."""
    return map_batches(fn, *arrays, batch_size=batch)


def correct(model_fn: Callable, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per example, whether ``model_fn``'s logits on ``x`` put the label ``y`` first."""
    return export.predict_in_batches(model_fn, x).argmax(-1) == y


def accuracy(model_fn: Callable, x: np.ndarray, y: np.ndarray) -> float:
    """The accuracy of ``model_fn`` on ``(x, y)``."""
    return float(np.mean(correct(model_fn, x, y)))


def attack_correct(attack: Callable, model_fn: Callable, x: np.ndarray, y: np.ndarray,
                   batch: int) -> np.ndarray:
    """Per example, whether ``model_fn`` still classifies the adversarial example correctly.

    ``attack(model_fn, x, y)`` crafts the examples ``batch`` at a time; all of them are
    then scored together.
    """
    return correct(model_fn, in_batches(lambda a, b: attack(model_fn, a, b), x, y,
                                        batch=batch), y)


def attack_accuracy(attack: Callable, model_fn: Callable, x: np.ndarray, y: np.ndarray,
                    batch: int) -> float:
    """The accuracy of ``model_fn`` under ``attack`` (see `attack_correct`)."""
    return float(np.mean(attack_correct(attack, model_fn, x, y, batch)))


def timed(fn: Callable, *args, **kwargs) -> tuple[Any, float]:
    """``(fn(*args, **kwargs), seconds)``, the wall-clock seconds rounded to 0.1."""
    started = time.time()
    value = fn(*args, **kwargs)
    return value, round(time.time() - started, 1)


def paper(name: str) -> dict:
    """The paper numbers in ``paper_numbers/NAME.json``."""
    return json.loads((HERE / "paper_numbers" / f"{name}.json").read_text())


def load(out, config: dict, default: dict | None = None) -> dict:
    """The results written earlier for the same config (a resumed run), else a fresh dict.

    With ``default``, results written before an option was added to the tutorial match
    too when that option is at its default: their config, completed from ``default``,
    equals ``config``. They keep the config they were written with. Where the results
    file lives (``out``) is not part of the comparison: a results file copied elsewhere
    and resumed there with ``--out`` is the same run.
    """
    out = Path(out)
    if out.is_file():
        results = json.loads(out.read_text())
        stored = results.get("config")

        def settings(c: dict) -> dict:
            return json.loads(json.dumps({k: v for k, v in c.items() if k != "out"}))

        if stored is not None and (settings({**(default or {}), **stored})
                                   == settings(config)):
            return results
    return {"config": config}


def save(out, results: dict, indent: int | None = 1, markdown: str | None = None) -> None:
    """Write ``results`` atomically (a killed run loses nothing finished).

    Once the results carry a ``summary``, its Markdown section (`render`) is written
    beside the JSON too, as ``NAME.md``; ``markdown`` is that file's text for results
    without a summary.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    config = results.get("config")
    if isinstance(config, dict) and config.get("out"):  # no machine's own path recorded
        results = {**results, "config": {**config, "out": _portable(config["out"])}}
    atomic_write_text(out, json.dumps(results, indent=indent) + "\n")
    if results.get("summary"):
        markdown = "\n".join(render(results["summary"]))
    if markdown is not None:
        atomic_write_text(out.with_suffix(".md"), markdown)


def _portable(path) -> str:
    """``path`` relative to the repository root when it lies inside it, else absolute."""
    path = Path(path).resolve()
    return path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)


def _absolute(path) -> Path:
    """A recorded ``out`` as an absolute path: relative ones are the repository root's
    (`_portable`)."""
    path = Path(path)
    return path if path.is_absolute() else ROOT / path


def render(s: dict, plot_dir: str = "") -> list[str]:
    """The Markdown lines of one `summary`; plots are linked as ``plot_dir + file``."""
    lines = [f"## {s['title']}", "", f"Command: `{s['command']}`. Paper: {s['paper_scale']}. "
             f"tfbnn: {s['tfbnn_scale']}.", ""]
    lines += s["table"] + ["", f"**Verdict: {s['verdict']}.** {s['why']}"]
    lines += [f"![{p}]({plot_dir}{p})" for p in s.get("plots", [])]
    return lines + [""]


def column(table: dict, k1) -> int | None:
    """The index of the paper ``table``'s column for ``k1`` kernels, None if it has none."""
    return table["columns"].index(str(k1)) if str(k1) in table["columns"] else None


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
    out = config.get("out")
    if out and default.get("out") and (_absolute(out).resolve()
                                       != _absolute(default["out"]).resolve()):
        out = f" --out {_portable(_absolute(out))}"
    else:
        out = ""
    settings = {k: v for k, v in config.items() if k not in ("out", "full")}
    if full and settings == {k: v for k, v in {**default, **full}.items() if k != "out"}:
        return base + " --full" + out
    diff = {k: v for k, v in settings.items() if default.get(k) != v}
    return base + out + (f" (config {json.dumps(diff)})" if diff else "")


OPTIONS = {
    "n": dict(type=int, help="test images"),
    "models": dict(nargs="+", help="models, e.g. A B C"),
    "k1": dict(type=int, help="first-layer kernels of the CNNs"),
    "epochs": dict(type=int, help="training epochs"),
    "seed": dict(type=int, help="random seed"),
    "seeds": dict(type=int, nargs="+", help="training seeds (one model per seed)"),
    "out": dict(help="output JSON file"),
    "width": dict(type=float, help="channel multiplier of the CIFAR networks (1 = full width)"),
    "iterations": dict(type=int, help="training iterations (overrides epochs)"),
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
