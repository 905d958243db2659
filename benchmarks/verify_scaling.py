"""Exact verification cost: CP-SAT solve time per example against network size and eps.

For each binary MLP (`tfbnn.models.binary_mlp`) of hidden width ``--widths`` and depth
``--depths``, trained ``--epochs`` on real MNIST the usual way (Adam 1e-3, batch 128, no
verification-friendly option), `tfbnn.verify.verify` answers the first ``--n`` test
images at each ``--eps`` with its defaults: PGD first (examples it breaks are not
solved), neurons fixed by interval bounds left out of the search, the attack's point as
the solver's hint, ``--time-limit`` seconds and ``--workers`` CP-SAT workers per example.

Reported per network and eps: how many examples were certified, broken (by the attack or
by the solver) and left unknown, and the solve time of the examples that reached the
solver (median, mean, max) - in seconds and as a ratio to the smallest network's median
at the same eps, measured in the same process. The time limit caps every solve, so a
row with unknowns has a censored mean: read the unknown count first.

Solve times depend on the load of the machine; the load average at the start and the end
is recorded. Results are written after every network (atomically), so a killed run keeps
what it finished and ``--resume`` goes on from there.

    python benchmarks/verify_scaling.py --write-docs
    python benchmarks/verify_scaling.py --render-only --write-docs
    python benchmarks/verify_scaling.py --quick            # smoke check, no results file
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

import tfbnn  # noqa: F401  (Keras 2 set-up first)
import tf_keras as keras

from tfbnn import data, models, training

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _report import (  # noqa: E402
    loadavg, parse, positive, positive_int, publish, render_only, resumable, write_results)

SECTION = "verify_scaling"
QUICK = {"widths": [8, 16], "depths": [2], "eps": [0.01], "n": 3, "epochs": 1,
         "train_size": 2048, "time_limit": 5.0}


def train(width: int, depth: int, args, x, y) -> tuple[keras.Model, float]:
    """A ``depth`` x ``width`` binary MLP trained the usual way; ``(model, seconds)``."""
    keras.utils.set_random_seed(args.seed)
    model = models.binary_mlp((width,) * depth)
    training.compile_model(model)
    started = time.perf_counter()
    model.fit(x, y, epochs=args.epochs, batch_size=128, verbose=0)
    return model, time.perf_counter() - started


def measure(model, x, y, eps: float, args) -> dict:
    """One cell: `verify`'s summary at ``eps`` on (x, y), and its wall time."""
    from tfbnn import verify

    started = time.perf_counter()
    report = verify.verify(model, x, y, eps, time_limit=args.time_limit,
                           workers=args.workers, seed=args.seed)
    summary = report.summary()
    solved = [r.solve_seconds for r in report.results if r.found_by == "solver"]
    how = {}  # "status by found_by" -> examples
    for r in report.results:
        how[f"{r.status} by {r.found_by}"] = how.get(f"{r.status} by {r.found_by}", 0) + 1
    return {"eps": eps, "counts": summary["counts"], "how": how,
            "solve_seconds": solved, "wall_s": time.perf_counter() - started}


def run(args, argv) -> dict:
    (x_train, y_train), (x_test, y_test) = data.load_mnist()
    x_train, y_train = x_train[:args.train_size], y_train[:args.train_size]
    x, y = x_test[:args.n], y_test[:args.n]
    results = resumable(__file__, argv, args, networks=[])
    done = {(net["width"], net["depth"]) for net in results["networks"]}
    started = time.perf_counter()
    for depth in args.depths:
        for width in args.widths:
            if (width, depth) in done:
                continue
            print(f"[{depth}x{width}] training", file=sys.stderr, flush=True)
            model, seconds = train(width, depth, args, x_train, y_train)
            accuracy = float(np.mean(model.predict(x_test, verbose=0).argmax(-1) == y_test))
            cells = []
            for eps in args.eps:
                cell = measure(model, x, y, eps, args)
                print(f"[{depth}x{width}] eps {eps:g}: {cell['counts']}, "
                      f"{cell['wall_s']:.1f} s", file=sys.stderr, flush=True)
                cells.append(cell)
            results["networks"].append({"width": width, "depth": depth,
                                        "test_accuracy": accuracy, "train_s": seconds,
                                        "cells": cells})
            results["loadavg_end"] = loadavg()
            results["runtime_s"] = results.get("runtime_s", 0.0) + time.perf_counter() - started
            started = time.perf_counter()
            if args.json:
                write_results(args.json, results)
    return results


def _median(values) -> float | None:
    return statistics.median(values) if values else None


def render(results: dict) -> str:
    """The docs section, from the results alone."""
    cfg, machine = results["config"], results["machine"]
    networks = sorted(results["networks"], key=lambda n: (n["depth"], n["width"]))
    baseline = {}  # eps -> the smallest network's median solve time
    for net in networks:
        for cell in net["cells"]:
            median = _median(cell["solve_seconds"])
            if median is not None:
                baseline.setdefault(cell["eps"], (f"{net['depth']}x{net['width']}", median))
    lines = [
        "## Exact verification: solve time against network size", "",
        f"Command: `{results['command']}`", "",
        f"Machine: {machine['cpu']}, {machine['cpus_usable']} CPU cores, Python "
        f"{machine['python']}; {results['date']}; load average at the start "
        f"{results['loadavg_start']}, at the end {results.get('loadavg_end')}; total "
        f"{results.get('runtime_s', 0) / 60:.1f} min.", "",
        f"Binary MLPs (`tfbnn.models.binary_mlp`, depth x width) trained {cfg['epochs']} "
        f"epoch(s) on {cfg['train_size']:,} MNIST images the usual way; `tfbnn.verify.verify` "
        f"on the first {cfg['n']} test images with its defaults (PGD first, interval-bound "
        f"fixing, the attack point as hint), {cfg['time_limit']:g} s and {cfg['workers']} "
        "CP-SAT worker(s) per example. Of the n examples: misclassified clean, certified "
        "(by interval bounds alone + by the solver), broken (by PGD + by a solver "
        "counterexample), unknown (time limit). Solve times over the "
        "examples that reached the solver; a row with unknowns has censored times. Ratio: the "
        "median over the smallest network's median at the same eps "
        + ", ".join(f"(eps {eps:g}: {name})" for eps, (name, _) in baseline.items()) + ".", "",
        "| network | clean acc | eps | misclassified | certified (bounds + solver) "
        "| broken (PGD + solver) | unknown | solved | solve s median / mean / max "
        "| median ratio |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for net in networks:
        for cell in net["cells"]:
            counts, how, times = cell["counts"], cell["how"], cell["solve_seconds"]
            median = _median(times)
            stats = (f"{median:.2f} / {statistics.mean(times):.2f} / {max(times):.2f}"
                     if times else "—")
            ratio = (f"{median / baseline[cell['eps']][1]:.1f}x"
                     if median is not None and baseline[cell["eps"]][1] > 0 else "—")
            bounds, solver = (how.get(f"certified by {k}", 0) for k in ("bounds", "solver"))
            pgd = how.get("counterexample by attack", 0)
            exact = counts["counterexample"] - pgd - how.get("counterexample by clean", 0)
            lines.append(
                f"| {net['depth']}x{net['width']} | {net['test_accuracy']:.1%} "
                f"| {cell['eps']:g} | {how.get('counterexample by clean', 0)} "
                f"| {bounds + solver} ({bounds} + {solver}) | {pgd + exact} ({pgd} + {exact}) "
                f"| {counts['unknown']} | {len(times)} | {stats} | {ratio} |")
    return "\n".join(lines) + "\n"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--widths", type=positive_int, nargs="+", default=[25, 50, 100, 200],
                        help="hidden widths (default: 25 50 100 200)")
    parser.add_argument("--depths", type=positive_int, nargs="+", default=[2, 5],
                        help="hidden layers (default: 2 5)")
    parser.add_argument("--eps", type=positive(float), nargs="+",
                        default=[2 / 255, 0.02, 0.1],
                        help="L-inf radii (default: 2/255 0.02 0.1)")
    parser.add_argument("--n", type=positive_int, default=10,
                        help="test images per cell (default: 10)")
    parser.add_argument("--epochs", type=positive_int, default=2)
    parser.add_argument("--train-size", type=positive_int, default=60000)
    parser.add_argument("--time-limit", type=positive(float), default=20.0,
                        help="CP-SAT seconds per example (default: 20)")
    parser.add_argument("--workers", type=positive_int, default=2,
                        help="CP-SAT workers per example (default: 2)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resume", action="store_true",
                        help="keep the networks already in --json (same settings only)")
    args = parse(parser, argv, SECTION, QUICK)
    if any(e > 1 for e in args.eps):
        parser.error(f"--eps: radii are in [0, 1] pixel units, got {args.eps}")
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    if (rendered := render_only(SECTION, args, render)) is not None:
        return rendered
    results = run(args, argv)
    publish(SECTION, render(results), args.write_docs)
    return results


if __name__ == "__main__":
    main()
