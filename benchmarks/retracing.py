"""What tracing each compiled attack once saves an evaluation cascade: before and after.

A cascade attacks a different number of examples at every stage and batch. Before
`tfbnn.attacks.core` traced its compiled attacks for an unknown batch dimension, every
attack was traced anew for each new size until TensorFlow's ``reduce_retracing`` relaxed
the shape at the second one (and TensorFlow printed "triggered tf.function retracing"
warnings). ``core.BATCH_POLYMORPHIC = False`` restores that behaviour, so both can be
timed in one process on the same model, data and seed.

Each round runs `tfbnn.evaluation.evaluate` twice, once per setting (in ABBA order over
rounds), each from an empty compile cache so that tracing is counted, and records the
wall time and the number of traces. The per-round ratio before / after is reported
(median and range over rounds), never a ratio of medians: this machine's speed swings
between rounds. The robust accuracies of the two settings must agree (the same graphs,
traced differently).

Run (about 4 minutes on 2 CPU cores with the defaults, on ``tfbnn demo``'s model)::

    tfbnn demo && python benchmarks/retracing.py --write-docs

The rounds, the settings and the command go to ``benchmarks/results/<section>.json``
(``--section``: ``retracing`` by default, one per setting; ``--json PATH`` elsewhere),
and the docs section is rendered from that file alone; ``--render-only --write-docs``
renders it again without running anything::

    python benchmarks/retracing.py --render-only --write-docs
    python benchmarks/retracing.py --section retracing_cifar --render-only --write-docs
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

import tfbnn  # noqa: F401  (Keras 2 set-up first)
from tfbnn import data, evaluation
from tfbnn.attacks import core

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import (  # noqa: E402
    add_output_arguments, command, finish, render_only, require_positive, resolve_json,
    test_images)


def one_run(model_fn, x, y, args, polymorphic: bool) -> dict:
    core.BATCH_POLYMORPHIC = polymorphic
    core._COMPILED.clear()
    started = time.perf_counter()
    counted = []  # every compiled attack this run creates, to count its traces
    original = core.compiled

    def counting(*a, **k):
        function = original(*a, **k)
        if function not in counted:
            counted.append(function)
        return function

    core.compiled = counting
    try:
        report = evaluation.evaluate(model_fn, x, y, eps=args.eps, version=args.version,
                                     batch_size=args.batch_size, seed=args.seed,
                                     run_diagnostics=False, progress=False)
    finally:
        core.compiled = original
        core.BATCH_POLYMORPHIC = True
    seconds = time.perf_counter() - started
    traces = sum(f.function.experimental_get_tracing_count() for f in counted)
    return {"seconds": seconds, "traces": traces,
            "robust": report["results"][0]["robust_accuracy"]}


def render(result: dict) -> str:
    """The docs section, from the results alone."""
    cfg, rounds = result["settings"], result["rounds"]
    ratios = [r["ratio"] for r in rounds]
    return "\n".join([
        "## Retracing across cascade stages: before and after",
        "",
        f"Command: `{result['command']}`. Model `{cfg['model']}`, "
        f"{test_images(cfg['n'], cfg.get('drawn'), cfg['data_title'])}, eps {cfg['eps']}, version "
        f"{cfg['version']}, batch {cfg['batch_size']}, seed {cfg['seed']}; {cfg['machine']}, "
        f"{len(rounds)} rounds in ABBA order, each run from an empty compile cache.",
        "",
        "| round | before: s | before: traces | after: s | after: traces | before / after |",
        "|---:|---:|---:|---:|---:|---:|",
        *[f"| {i + 1} | {r['before']['seconds']:.1f} | {r['before']['traces']} | "
          f"{r['after']['seconds']:.1f} | {r['after']['traces']} | {r['ratio']:.2f} |"
          for i, r in enumerate(rounds)],
        "",
        f"Per-round ratio before / after: median {statistics.median(ratios):.2f}, range "
        f"{min(ratios):.2f} to {max(ratios):.2f}. Robust accuracy identical in every round: "
        f"{'yes' if result['same_robust_accuracy'] else 'NO'} "
        f"({rounds[0]['after']['robust']:.4f}).",
    ])


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tfbnn_runs/demo/saved_model")
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--dataset", choices=("mnist", "cifar10"), default="mnist")
    parser.add_argument("--eps", type=float, default=0.1)
    parser.add_argument("--version", default="quick")
    parser.add_argument("--batch-size", type=int, default=250)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--section", default="retracing",
                        help="the docs/benchmarks.md section written (one per setting); the "
                        "results file is benchmarks/results/<section>.json")
    # Not `parse`: the section, and so the results file, is an argument here.
    add_output_arguments(parser, "<section>")
    args = parser.parse_args(argv)
    require_positive(parser, args, "n", "batch_size", "rounds")
    resolve_json(parser, args, args.section)
    if (rendered := render_only(args.section, args, render)) is not None:
        return rendered
    model_fn, _ = evaluation.load_model(args.model)
    _, (x, y) = data.load_mnist() if args.dataset == "mnist" else data.load_cifar10()
    # the stand-in's test split is ordered by class: its first 500 are all airplanes
    x, y, drawn = data.first_examples(np.asarray(x), np.asarray(y), args.n)
    rounds = []
    for r in range(args.rounds):
        order = (False, True) if r % 2 == 0 else (True, False)
        runs = {p: one_run(model_fn, x, y, args, p) for p in order}
        rounds.append({"before": runs[False], "after": runs[True],
                       "ratio": runs[False]["seconds"] / runs[True]["seconds"]})
        print(f"round {r + 1}: before {runs[False]['seconds']:.1f} s "
              f"({runs[False]['traces']} traces), after {runs[True]['seconds']:.1f} s "
              f"({runs[True]['traces']} traces)", flush=True)
    settings = {
        "model": args.model, "n": len(x), "drawn": drawn, "dataset": args.dataset,
        "data_title": "MNIST" if args.dataset == "mnist" else data.cifar10_title(),
        "eps": args.eps, "version": args.version, "batch_size": args.batch_size,
        "seed": args.seed, "machine": platform.processor() or platform.machine(),
    }
    result = {
        "command": command(__file__, argv), "settings": settings, "rounds": rounds,
        "same_robust_accuracy": all(r["before"]["robust"] == r["after"]["robust"]
                                    for r in rounds),
    }
    return finish(args.section, result, args, render)


if __name__ == "__main__":
    main()
