"""Exact verification of a binary MLP trained normally vs verification-friendly.

Trains ``binary_mlp(--hidden)`` on MNIST twice with the same seed and data: once the usual
way (binary weights, cross-entropy), once verification-friendly (ternary weights,
`tfbnn.verify.friendly.MarginTrainer`'s margin penalty). Then, for each model and each
eps, `tfbnn.verify.verify` (PGD first, interval fixing, hints, CP-SAT with --workers
workers and --time-limit seconds per example) on the first --n MNIST test images:
clean accuracy on 1,000 test images, certified / counterexample / unknown counts, the
share of hidden neurons interval bounds decide over the ball, and solve times.

    python benchmarks/verify_friendly.py --hidden 100 100 --epochs 3 --n 20 \\
        --eps 0.02 0.1 --time-limit 20 --workers 2

Results go to benchmarks/results/verify_friendly.json (written after every model and
eps, so an interrupted run keeps what it measured); ``--write-docs`` renders them into
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _report  # noqa: E402

SECTION = "verify_friendly"


def render(results: dict) -> str:
    s = results["settings"]
    lines = [
        "## Exact verification: normal vs verification-friendly training",
        "",
        f"`python benchmarks/verify_friendly.py --hidden {' '.join(map(str, s['hidden']))} "
        f"--epochs {s['epochs']} --n {s['n']} --eps {' '.join(f'{e:g}' for e in s['eps'])} "
        f"--time-limit {s['time_limit']:g} --workers {s['workers']}` "
        f"({results['machine']['cpu']}, load {results['load']}).",
        "",
        f"binary_mlp {s['hidden']} on MNIST ({s['train_size']} training images, "
        f"{s['epochs']} epochs, Adam {s['learning_rate']:g}); friendly: ternary weights "
        f"(threshold {s['ternary_threshold']:g}) and the margin penalty (weight "
        f"{s['margin_weight']:g}, eps {s['margin_eps']:g}, flip {s['margin_flip']:g}). "
        f"Verified: the first {s['n']} test images, PGD-{s['attack_steps']} first, CP-SAT "
        f"{s['time_limit']:g} s per example.",
        "",
        "| model | clean acc. | zero weights | eps | decided neurons | certified | "
        "counterexample (of them by the solver) | unknown | solver runs | solve s mean / max |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for m in results["models"]:
        for r in m["verify"]:
            c = r["counts"]
            mean = "-" if r["solve_seconds_mean"] is None else f"{r['solve_seconds_mean']:.2f}"
            top = "-" if r["solve_seconds_max"] is None else f"{r['solve_seconds_max']:.2f}"
            by_solver = c["counterexample"] - r["found_by"]["clean"] - r["found_by"]["attack"]
            lines.append(
                f"| {m['name']} | {m['clean_accuracy']:.4f} | {m['zero_weights']:.2f} | "
                f"{r['eps']:g} | {r['decided_fraction']:.2f} | {c['certified']} | "
                f"{c['counterexample']} ({by_solver}) | {c['unknown']} | "
                f"{r['solver_runs']} | {mean} / {top} |")
    return "\n".join(lines)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, nargs="+", default=[100, 100])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--train-size", type=int, default=60000)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--ternary-threshold", type=float, default=0.05)
    parser.add_argument("--margin-weight", type=float, default=3.0)
    parser.add_argument("--margin-eps", type=float, default=0.1)
    parser.add_argument("--margin-flip", type=float, default=0.1)
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--eps", type=float, nargs="+", default=[0.02, 0.1])
    parser.add_argument("--time-limit", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--attack-steps", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--models", nargs="+", choices=("normal", "friendly"),
                        default=["normal", "friendly"])
    args = _report.parse(parser, argv, SECTION)
    done = _report.render_only(SECTION, args, render)
    if done is not None:
        return done

    import numpy as np

    import tfbnn  # noqa: F401
    import tf_keras as keras

    from tfbnn import data, models, training, verify
    from tfbnn.verify import friendly

    (x_train, y_train), (x_test, y_test) = data.load_mnist()
    x_train, y_train = x_train[:args.train_size], y_train[:args.train_size]
    results = {"settings": _report.settings(args), "machine": _report.machine_info(),
               "load": Path("/proc/loadavg").read_text().split()[:3], "models": []}
    for name in args.models:
        keras.utils.set_random_seed(args.seed)
        ternary = name == "friendly"
        model = models.binary_mlp(tuple(args.hidden), weights="ternary" if ternary else "binary",
                                  ternary_threshold=args.ternary_threshold)
        net = (friendly.MarginTrainer(model, weight=args.margin_weight, eps=args.margin_eps,
                                      flip=args.margin_flip) if ternary else model)
        training.compile_model(net, args.learning_rate)
        started = time.time()
        net.fit(x_train, y_train, epochs=args.epochs, batch_size=128, verbose=0)
        train_seconds = time.time() - started
        accuracy = float(np.mean(np.asarray(model(x_test[:1000])).argmax(-1) == y_test[:1000]))
        zeros = friendly.sparsity(model)
        network = verify.extract(model, check_inputs=x_test[:64])
        entry = {"name": name, "clean_accuracy": accuracy, "train_seconds": round(train_seconds, 1),
                 "zero_weights": float(np.mean(list(zeros.values()))), "sparsity": zeros,
                 "verify": []}
        results["models"].append(entry)
        print(f"{name}: clean accuracy {accuracy:.4f}, zero weights {zeros}", flush=True)
        x, y = x_test[:args.n], y_test[:args.n]
        for eps in args.eps:
            started = time.time()
            report = verify.verify(network, x, y, eps, time_limit=args.time_limit,
                                   workers=args.workers, attack_steps=args.attack_steps,
                                   seed=args.seed)
            summary = report.summary()
            summary["decided_fraction"] = friendly.stability(network, x, eps)["decided_fraction"]
            summary["wall_seconds"] = round(time.time() - started, 1)
            summary["load_after"] = Path("/proc/loadavg").read_text().split()[:3]
            entry["verify"].append(summary)
            print(f"  eps {eps:g}: {summary['counts']}, found by {summary['found_by']}, "
                  f"decided {summary['decided_fraction']:.2f}, solve mean "
                  f"{summary['solve_seconds_mean']}, wall {summary['wall_seconds']} s",
                  flush=True)
            _report.write_results(args.json, results)
    _report.publish(SECTION, render(results), args.write_docs)
    return results


if __name__ == "__main__":
    main()
