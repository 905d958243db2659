"""What each evaluation budget buys: robust accuracy and time of quick, standard, plus and
of every attack alone.

For one model and data set, at each eps, this runs `tfbnn.evaluation.evaluate`:

- ``quick``, ``standard`` and ``plus``: the versions of
  `tfbnn.evaluation.catalog.VERSIONS`, as cascades (each attack attacks what the ones
  before left robust); the table gives the worst-case robust accuracy with its 95 % Wilson
  interval, the wall time, the `cascade` diagnostic, and which stage fooled how many;
- ``alone``: the standard version in ``mode="standalone"``: each of its attacks, at its
  standard budget, on every clean-correct example;
- ``alone_other``: the same for the attacks of quick and plus that standard lacks,
  APGD-DLR and untargeted FAB, at 100 iterations and one restart.

This machine's speed swings by up to 2x between minutes, so times are also given as
ratios to a baseline measured in the same round: one forward and backward pass of the
model over the same N examples in batches of ``--batch-size`` (the cost of one step of
PGD on the whole set), timed just before and just after every run. ``x unit`` is the
run's seconds over the mean of the two; its range uses each of the two alone.

Every finished run is written to ``--json`` (by default
``benchmarks/results/evaluation_versions.json``) at once (atomically), and a killed
benchmark resumes from there: a run already in the file for the same model, data, N and
seed is not repeated. ``--write-docs`` renders every model in the file into
docs/benchmarks.md, from the file alone.

    tfbnn demo
    python benchmarks/evaluation_versions.py --name "demo C, k1=32, 5 epochs" \\
        --model tfbnn_runs/demo/saved_model
    python benchmarks/evaluation_versions.py --render-only --write-docs
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import statistics
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

import tfbnn  # noqa: F401  (Keras 2 set-up first)
import tensorflow as tf
from tfbnn import data, evaluation
from tfbnn.evaluation.intervals import wilson_interval
from tfbnn.io import atomic_write_text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import command, parse, publish, require_positive, test_images  # noqa: E402

RUNS = ("quick", "standard", "plus", "alone", "alone_other")
OTHER_ATTACKS = ("apgd_dlr", "fab")
SECTION = "evaluation_versions"


def parse_eps(text: str) -> float:
    """``0.1`` or ``8/255``."""
    try:
        value = float(Fraction(text))
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(
            f"--eps {text!r} is not a number or a fraction such as 8/255") from None
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"--eps {text!r} must lie in (0, 1] (pixel units)")
    return value


def gradient_pass_seconds(model_fn, x, y, batch_size: int, repeats: int = 3) -> float:
    """Median time of one forward and backward pass of ``model_fn`` over all of ``x``."""
    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @tf.function(reduce_retracing=True)
    def step(xb, yb):
        with tf.GradientTape() as tape:
            tape.watch(xb)
            loss = loss_fn(yb, model_fn(xb))
        return tape.gradient(loss, xb)

    batches = [(tf.constant(x[i:i + batch_size]), tf.constant(y[i:i + batch_size]))
               for i in range(0, len(x), batch_size)]
    for xb, yb in batches[:1] + batches[-1:]:  # trace both batch sizes first
        step(xb, yb).numpy()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        for xb, yb in batches:
            step(xb, yb).numpy()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def run_kwargs(run: str) -> dict:
    if run in ("quick", "standard", "plus"):
        return {"version": run, "mode": "cascade"}
    if run == "alone":
        return {"version": "standard", "mode": "standalone"}
    return {"attacks": list(OTHER_ATTACKS), "nb_iter": 100, "mode": "standalone"}


def one_run(model_fn, x, y, eps: float, run: str, args) -> dict:
    before = gradient_pass_seconds(model_fn, x, y, args.batch_size)
    started = time.perf_counter()
    report = evaluation.evaluate(model_fn, x, y, eps=eps, batch_size=args.batch_size,
                                 seed=args.seed, run_diagnostics=False, progress=False,
                                 **run_kwargs(run))
    seconds = time.perf_counter() - started
    after = gradient_pass_seconds(model_fn, x, y, args.batch_size)
    (result,) = report["results"]
    n = result["n"]
    attacks = []
    for row in result["attacks"]:
        entry = {k: row[k] for k in ("name", "budget", "attacked", "fooled", "seconds")}
        if "accuracy" in row:  # standalone: this attack's own robust accuracy
            entry["accuracy"] = row["accuracy"]
            entry["interval"] = list(wilson_interval(round(row["accuracy"] * n), n))
        attacks.append(entry)
    (cascade,) = [d for d in report["diagnostics"] if d["name"] == "cascade"]
    return {
        "run": run, "eps": eps, "n": n, "version": report["config"].get("version"),
        "mode": report["config"].get("mode"),
        "clean_accuracy": result["clean_accuracy"], "clean_interval": result["clean_interval"],
        "robust_accuracy": result["robust_accuracy"], "robust_interval": result["robust_interval"],
        "seconds": seconds, "unit_before": before, "unit_after": after,
        "attacks": attacks, "cascade": {"verdict": cascade["verdict"],
                                        "explanation": cascade["explanation"]},
        "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def load_results(path: Path) -> dict:
    if path.exists():
        return json.loads(path.read_text())
    return {"schema": "tfbnn.benchmarks.evaluation_versions/1", "models": {}}


def _pct(value: float) -> str:
    return f"{100 * value:.1f}"


def _interval(pair) -> str:
    return f"[{100 * pair[0]:.1f}, {100 * pair[1]:.1f}]"


def _ratio(cell: dict, seconds: float | None = None) -> tuple[float, float, float]:
    seconds = cell["seconds"] if seconds is None else seconds
    units = (cell["unit_before"], cell["unit_after"])
    return seconds / statistics.mean(units), seconds / max(units), seconds / min(units)


def _eps_text(eps: float) -> str:
    fraction = Fraction(eps).limit_denominator(1000)
    if fraction.denominator == 255:
        return f"{fraction.numerator}/255"
    return f"{eps:g}"


def render(results: dict) -> str:
    lines = [
        "## What each evaluation budget buys",
        "",
        "Written by `benchmarks/evaluation_versions.py` (one command per model below, then "
        "`python benchmarks/evaluation_versions.py --json JSON --render-only --write-docs`). "
        "Robust accuracy in % with its 95 % Wilson interval, over the first N test images "
        "(clean-incorrect ones count as not robust); wall time in seconds; `x unit`: the run's "
        "time over one forward and backward pass of the model over the same N images, timed "
        "just before and after the run in the same process (the range uses each alone), so "
        "that runs on this machine's swinging load compare. `found by` lists how many "
        "examples each stage of the cascade fooled that the stages before had left.",
    ]
    for name, model in results["models"].items():
        cells = model["cells"]
        meta = model["meta"]
        lines += ["", f"### {name}", "",
                  f"Command: `{meta['command']}`", "",
                  *([f"The model: {meta['about']}.", ""] if meta.get("about") else []),
                  f"Model `{meta['model']}`; {meta['dataset']} ({meta['data_title']}), "
                  f"{test_images(meta['n'], meta.get('drawn'))}, L-inf, batch {meta['batch_size']}, seed "
                  f"{meta['seed']}; {meta['machine']}. One forward and backward pass over the "
                  f"{meta['n']} images took {_unit_range(cells)} s."]
        for eps in meta["eps"]:
            key = _eps_text(eps)
            got = {run: cells.get(f"{eps}|{run}") for run in RUNS}
            clean = next((c for c in got.values() if c), None)
            if clean is None:
                continue
            lines += ["", f"eps {key}: clean accuracy {_pct(clean['clean_accuracy'])} % "
                          f"{_interval(clean['clean_interval'])}.", "",
                      "| version | robust acc. % [95 % CI] | s | x unit (range) | cascade | "
                      "found by (stage: fooled) |",
                      "|---|---|---:|---|---|---|"]
            for run in ("quick", "standard", "plus"):
                cell = got[run]
                if cell is None:
                    lines.append(f"| {run} | not run | | | | |")
                    continue
                ratio, low, high = _ratio(cell)
                found = ", ".join(f"{a['name']} {a['fooled']}" for a in cell["attacks"]
                                  if a["attacked"])
                lines.append(
                    f"| {run} | {_pct(cell['robust_accuracy'])} "
                    f"{_interval(cell['robust_interval'])} | {cell['seconds']:.0f} | "
                    f"{ratio:.0f} ({low:.0f}-{high:.0f}) | {cell['cascade']['verdict']} | "
                    f"{found} |")
            alone = [(a, got[run]) for run in ("alone", "alone_other") if got[run]
                     for a in got[run]["attacks"]]
            if alone:
                lines += ["", "| attack alone | budget | robust acc. % [95 % CI] | s | "
                              "x unit (range) |",
                          "|---|---|---|---:|---|"]
                for attack, cell in alone:
                    ratio, low, high = _ratio(cell, attack["seconds"])
                    lines.append(
                        f"| {attack['name']} | {attack['budget'].split(': ', 1)[-1]} | "
                        f"{_pct(attack['accuracy'])} {_interval(attack['interval'])} | "
                        f"{attack['seconds']:.0f} | {ratio:.1f} ({low:.1f}-{high:.1f}) |")
    return "\n".join(lines)


def _unit_range(cells: dict) -> str:
    units = [u for c in cells.values() for u in (c["unit_before"], c["unit_after"])]
    return f"{min(units):.2f} to {max(units):.2f}" if units else "n/a"


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="SavedModel directory or .keras file")
    parser.add_argument("--name", help="the model's name in the tables (default: --model)")
    parser.add_argument("--about", default="",
                        help="how the model was made, for the docs (the command that trained it)")
    parser.add_argument("--dataset", choices=("mnist", "cifar10"), default="mnist")
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--eps", type=parse_eps, nargs="+", default=None,
                        help="radii (default: 0.1 0.3 on MNIST, 8/255 on CIFAR-10)")
    parser.add_argument("--runs", nargs="+", choices=RUNS, default=list(RUNS))
    parser.add_argument("--batch-size", type=int, default=250)
    parser.add_argument("--seed", type=int, default=0)
    args = parse(parser, argv, SECTION)  # --json: written after every run, resumed from
    require_positive(parser, args, "n", "batch_size")
    if not args.render_only and not args.model:
        parser.error("--model is required unless --render-only is given")
    if args.json.exists():
        try:
            results = load_results(args.json)
        except json.JSONDecodeError as err:
            parser.error(f"--json {str(args.json)!r} is not a results file ({err}); move it "
                         "aside or give another path")
    else:
        results = load_results(args.json)
    if not args.render_only:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        model_fn, _ = evaluation.load_model(args.model)  # a corrupt model fails here
        eps_list = args.eps or ([0.1, 0.3] if args.dataset == "mnist" else [8 / 255])
        if args.dataset == "mnist":
            _, (x, y) = data.load_mnist()
            title = "MNIST"
        else:
            _, (x, y) = data.load_cifar10()
            title = data.cifar10_title()
        # the stand-in's test split is ordered by class: its first 500 are all airplanes
        x, y, drawn = data.first_examples(np.asarray(x), np.asarray(y), args.n)
        name = args.name or args.model
        meta = {"model": args.model, "dataset": args.dataset, "data_title": title,
                "n": len(x), "drawn": drawn, "seed": args.seed, "batch_size": args.batch_size,
                "eps": eps_list, "command": command(__file__, argv), "about": args.about,
                "machine": f"{platform.machine()}, tensorflow {tf.__version__}"}
        model = results["models"].setdefault(name, {"meta": meta, "cells": {}})
        same = {k: model["meta"].get(k, False if k == "drawn" else None)
                for k in ("model", "dataset", "n", "drawn", "seed", "batch_size")}
        if same != {k: meta[k] for k in same}:
            parser.error(f"--json already holds {name!r} with other settings ({same}); give "
                         "another --name or --json")
        model["meta"] = {**meta, "eps": sorted(set(model["meta"]["eps"]) | set(eps_list))}
        for eps in eps_list:
            for run in args.runs:
                key = f"{eps}|{run}"
                if key in model["cells"]:
                    print(f"{name}, eps {_eps_text(eps)}, {run}: already in {args.json}")
                    continue
                cell = one_run(model_fn, x, y, eps, run, args)
                model["cells"][key] = cell
                atomic_write_text(args.json, json.dumps(results, indent=1))
                print(f"{name}, eps {_eps_text(eps)}, {run}: robust "
                      f"{_pct(cell['robust_accuracy'])} % in {cell['seconds']:.0f} s "
                      f"(x{_ratio(cell)[0]:.0f} of one gradient pass)", flush=True)
    publish(SECTION, render(results), args.write_docs)
    return results


if __name__ == "__main__":
    main()
