"""Exact verification: what each tractability device of `tfbnn.verify` buys.

Issue 15 names the devices the literature uses to make exact BNN verification tractable
(Jia & Rinard, NeurIPS 2020; Khalil et al., ICLR 2019), and asks that each be measured:
run an attack first and verify only what it leaves robust; fix every neuron whose sign
interval bounds decide over the ball and leave it out of the search; give the solver the
best attack point as a hint. (The fourth, native linear constraints over Booleans rather
than clause expansions, is how `tfbnn.verify.encoding` always encodes: CP-SAT takes
them natively, and no expansion exists to compare with.)

For each network (by default the verification-friendly 5 x 100 MLP and conv-small of
``tutorials/gupta2022_exact_gap.py``, from its model cache: trained there if missing) and
each configuration of `tfbnn.verify.verify` below, on the first ``--n`` MNIST test images
at ``--eps``, with ``--time-limit`` seconds and ``--workers`` CP-SAT workers per example:

- ``all``: attack first, bound fixing, hint (tfbnn's default);
- ``no hint``, ``no fixing``, ``no attack``: one device off;
- ``plain``: all three off (the plain encoding the issue started from).

Reported: certified / counterexample / unknown, solver runs, solve time (median, mean,
max; the time limit censors the unknowns, so read their count first), wall time for the
whole set, and its ratio to ``all`` in the same process; free neurons left to the solver
(median). Every pair of configurations must agree wherever both decide an example (a
certified answer in one and a counterexample in another would be a bug): the table
counts such disagreements, and the run fails if there is one.

Results are written after every configuration (atomically), so a killed run keeps what
it finished; ``--resume`` goes on from there.

    python benchmarks/verify_ablation.py --write-docs
    python benchmarks/verify_ablation.py --render-only --write-docs
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

import tfbnn  # noqa: F401  (Keras 2 set-up first)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _report import (  # noqa: E402
    finish, loadavg, parse, positive, positive_int, render_only, resumable, write_results)

SECTION = "verify_ablation"
CONFIGS = {
    "all": {"attack": True, "fixing": True, "hint": True},
    "no hint": {"attack": True, "fixing": True, "hint": False},
    "no fixing": {"attack": True, "fixing": False, "hint": True},
    "no attack": {"attack": False, "fixing": True, "hint": True},
    "plain": {"attack": False, "fixing": False, "hint": False},
}
"""`tfbnn.verify.verify` keyword arguments of each configuration; ``all`` is the baseline
of the ratios and must come first."""
MODELS = ("mlp5x100-friendly", "conv-small-friendly")


def load_network(name: str, epochs: int, seed: int):
    """The exact-gap tutorial's model ``name`` (trained and cached there if missing) and
    its spec key."""
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, os.path.join(os.path.dirname(here), "tutorials"))
    import _zoo
    import gupta2022_exact_gap as tutorial

    config = {**tutorial.DEFAULT, "epochs": epochs, "train_seed": seed}
    model, info = _zoo.trained_model(tutorial.spec(name, config))
    return model, info["key"]


def measure(network, x, y, eps: float, args, options: dict) -> dict:
    """One configuration on (x, y): per-example statuses and the summary."""
    from tfbnn import verify

    started = time.perf_counter()
    report = verify.verify(network, x, y, eps, time_limit=args.time_limit,
                           workers=args.workers, seed=args.seed, **options)
    wall = time.perf_counter() - started
    solved = [r.solve_seconds for r in report.results if r.found_by == "solver"]
    free = [r.free_neurons for r in report.results if r.found_by == "solver"]
    return {"options": options, "counts": report.counts(),
            "status": [r.status for r in report.results],
            "found_by": report.summary()["found_by"], "solver_runs": len(solved),
            "solve_seconds": solved, "free_neurons_median": _median(free),
            "wall_s": wall}


def disagreements(cells: dict) -> int:
    """Examples that one configuration certifies and another breaks (must be 0)."""
    columns = list(zip(*(cell["status"] for cell in cells.values())))
    return sum({"certified", "counterexample"} <= set(statuses) for statuses in columns)


def run(args, argv) -> dict:
    from tfbnn import data, verify

    _, (x_test, y_test) = data.load_mnist()
    x, y = np.asarray(x_test[:args.n], np.float32), np.asarray(y_test[:args.n])
    results = resumable(__file__, argv, args, models={})
    for name in args.models:
        model, key = load_network(name, args.epochs, args.train_seed)
        network = verify.extract(model, check_inputs=x[:64])
        entry = results["models"].setdefault(name, {"key": key, "configs": {}})
        for label in args.configs:
            if label in entry["configs"]:
                continue
            print(f"[{name}] {label}", file=sys.stderr, flush=True)
            entry["configs"][label] = cell = measure(network, x, y, args.eps, args,
                                                     CONFIGS[label])
            print(f"[{name}] {label}: {cell['counts']}, {cell['wall_s']:.1f} s",
                  file=sys.stderr, flush=True)
            entry["disagreements"] = disagreements(entry["configs"])
            results["loadavg_end"] = loadavg()
            if args.json:
                write_results(args.json, results)
            if entry["disagreements"]:
                raise SystemExit(f"[{name}] configurations disagree on "
                                 f"{entry['disagreements']} example(s): a bug in tfbnn.verify "
                                 f"(results kept in {args.json}).")
    return results


def _median(values) -> float | None:
    return float(statistics.median(values)) if values else None


def render(results: dict) -> str:
    cfg = results["config"]
    lines = [
        "## Exact verification: what each tractability device buys", "",
        f"Command: `{results['command']}`", "",
        f"Machine: {results['machine']['cpu']}, {results['machine']['cpus_usable']} CPU cores; "
        f"{results['date']}; load average at the start {results['loadavg_start']}, at the "
        f"end {results.get('loadavg_end')}.", "",
        f"The verification-friendly networks of `tutorials/gupta2022_exact_gap.py` "
        f"({cfg['epochs']} epochs, training seed {cfg['train_seed']}); `tfbnn.verify.verify` "
        f"on the first {cfg['n']} MNIST test images at eps {cfg['eps']:g}, "
        f"{cfg['time_limit']:g} s and {cfg['workers']} CP-SAT workers per example. Devices: "
        "attack (PGD-40 first; what it breaks is not solved), fixing (neurons interval bounds "
        "decide are constants), hint (the attack's point, else the clean input, with all its "
        "activations). Wall ratio = the configuration's wall time / `all`'s, same process "
        "(> 1: slower without the device). Solve times are censored at the limit: read the "
        "unknown count first. Disagreements (one configuration certifies what another "
        "breaks): must be 0.", "",
        "| network | configuration | attack / fixing / hint | certified | counterexample "
        "(clean + attack + solver) | unknown | solver runs | free neurons (median) | solve "
        "s median / mean / max | wall s | wall ratio |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, entry in results["models"].items():
        base = entry["configs"].get("all", {}).get("wall_s")
        for label, cell in entry["configs"].items():
            c, how, opt = cell["counts"], cell["found_by"], cell["options"]
            solved = cell["solve_seconds"]
            times = ("—" if not solved else f"{statistics.median(solved):.2f} / "
                     f"{statistics.mean(solved):.2f} / {max(solved):.2f}")
            by_solver = c["counterexample"] - how["clean"] - how["attack"]
            free = cell["free_neurons_median"]
            lines.append(
                f"| {name} | {label} | "
                + " / ".join("on" if opt[k] else "off" for k in ("attack", "fixing", "hint"))
                + f" | {c['certified']} | {c['counterexample']} ({how['clean']} + "
                f"{how['attack']} + {by_solver}) | {c['unknown']} | {cell['solver_runs']} | "
                f"{'—' if free is None else format(free, '.0f')} | {times} | "
                f"{cell['wall_s']:.1f} | "
                f"{'—' if not base else format(cell['wall_s'] / base, '.2f') + 'x'} |")
        lines.append(f"| {name} | disagreements | | {entry['disagreements']} | | | | | | | |")
    return "\n".join(lines) + "\n"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--configs", nargs="+", choices=tuple(CONFIGS), default=list(CONFIGS),
                        help="configurations, 'all' first (the ratios' baseline)")
    parser.add_argument("--n", type=positive_int, default=50, help="MNIST test images")
    parser.add_argument("--eps", type=positive(float), default=0.1, help="L-inf radius")
    parser.add_argument("--time-limit", type=positive(float), default=10.0,
                        help="CP-SAT seconds per example")
    parser.add_argument("--workers", type=positive_int, default=2,
                        help="CP-SAT workers per example")
    parser.add_argument("--epochs", type=positive_int, default=10,
                        help="training epochs of the tutorial's networks")
    parser.add_argument("--train-seed", type=int, default=1234)
    parser.add_argument("--seed", type=int, default=0, help="attack and solver seed")
    parser.add_argument("--resume", action="store_true",
                        help="keep the configurations already in --json (same settings only)")
    args = parse(parser, argv, SECTION)
    if args.eps > 1:
        parser.error(f"--eps: the radius is in [0, 1] pixel units, got {args.eps}")
    if args.configs[0] != "all":
        parser.error(f"--configs must start with 'all' (the ratios' baseline), got "
                     f"{args.configs}")
    return args


def main(argv=None) -> dict:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    if (rendered := render_only(SECTION, args, render)) is not None:
        return rendered
    return finish(SECTION, run(args, argv), args, render)


if __name__ == "__main__":
    main()
