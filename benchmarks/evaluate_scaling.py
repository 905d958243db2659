"""How `tfbnn evaluate` scales: wall time and peak memory against N, and what the cascade saves.

Three runs of `tfbnn.evaluation.evaluate` with the default ensemble (APGD-CE, PGD++ HNS, PGD++ NJS,
APGD-DLR, Square) at L-inf eps 0.1 and 0.3 on one binary (B) MNIST model, each in its own
process; memory is the peak resident size during `evaluate` (Linux VmHWM, reset once the
data and model are loaded) against the size just before:

1. N = ``--n-small`` (1,000), cascade (the default: each attack sees only the examples
   still robust);
2. N = ``--n-large`` (10,000), cascade: attack time should grow about linearly with N
   (ratio to run 1 about ``n_large / n_small``) and peak memory stay flat (batches of 250
   are attacked and written out one at a time);
3. N = ``--n-small``, ``mode="standalone"``: every attack on every clean-correct example,
   the cost without the cascade. The cascade should take at most half of it.

Diagnostics run in runs 1 and 2 (on 200 examples, a cost that does not grow with N) and
are reported apart from the attack time. The model is a B model at ``--k1`` trained
``--epochs`` epochs on MNIST, as `tfbnn demo` trains it.

The results, with the command, go to ``benchmarks/results/evaluate_scaling.json``
(``--json PATH`` elsewhere; a ``--quick`` run writes none unless given one); the docs
section is rendered from that file alone, and ``--render-only`` renders it again without
running anything::

    python benchmarks/evaluate_scaling.py --write-docs      # about 10-20 minutes on 2 cores
    python benchmarks/evaluate_scaling.py --render-only --write-docs
    python benchmarks/evaluate_scaling.py --quick           # smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from _report import (  # noqa: E402
    command, finish, machine_line, parse, render_only, settings)

SECTION = "evaluate_scaling"

QUICK = {"n_small": 100, "n_large": 400, "k1": 8, "epochs": 1, "nb_iter": 5}

_CHILD = """
import json, sys, time
import tfbnn
import tf_keras as keras
from tfbnn import data, evaluation, models
cfg = json.loads(sys.argv[1])
_, (x, y) = data.load_mnist()
model = keras.models.load_model(cfg["model"], custom_objects=models.custom_objects())
def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) / 1024
before = status("VmRSS:")
open("/proc/self/clear_refs", "w").write("5")  # reset the peak (VmHWM) to the current RSS
started = time.time()
report = evaluation.evaluate(model, x[:cfg["n"]], y[:cfg["n"]], eps=[0.1, 0.3],
                             nb_iter=cfg["nb_iter"], mode=cfg["mode"], out_dir=cfg["out"],
                             run_diagnostics=cfg["diagnostics"], progress=False, seed=0)
wall = time.time() - started
diag = sum(c.get("seconds", 0) for c in report.get("diagnostics", []))
print(json.dumps({"wall_s": wall, "attack_s": report["attack_seconds"], "diagnostics_s": diag,
                  "rss_before_mib": before, "peak_rss_mib": status("VmHWM:"),
                  "robust": [r["robust_accuracy"] for r in report["results"]],
                  "clean": report["clean_accuracy"]}))
"""


def _train(args, path):
    import tfbnn  # noqa: F401
    import tf_keras as keras

    from tfbnn import data, export, models, training

    keras.utils.set_random_seed(0)
    (x, y), _ = data.load_mnist()
    model = models.cleverhans_cnn("B", k1=args.k1)
    training.compile_model(model)
    model.fit(x, y, epochs=args.epochs, batch_size=128, verbose=0)
    export.save_model(model, path)


def _child(cfg: dict) -> dict:
    env = {**os.environ, "PYTHONPATH": os.path.dirname(HERE)}
    done = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(cfg)], env=env,
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def render(result: dict) -> str:
    """The docs section, from the results alone."""
    cfg, runs = result["config"], result["runs"]
    small, large, alone = runs["cascade_small"], runs["cascade_large"], runs["standalone_small"]
    lines = [
        "## Evaluation scaling", "", f"Command: `{result['command']}`", "",
        f"{result['machine']}; {result['date']}. B model, k1={cfg['k1']}, {cfg['epochs']} "
        f"epoch(s) on MNIST; default ensemble at L-inf eps 0.1 and 0.3, {cfg['nb_iter']} "
        "iterations per attack, batch 250, seed 0; each run in its own process.", "",
        "| run | N | mode | attack time (s) | diagnostics (s) | wall (s) | RSS before (MiB) "
        "| peak RSS during evaluation (MiB) | robust acc. eps 0.1 / 0.3 |",
        "|---|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for name, run in runs.items():
        lines.append(f"| {name} | {run['n']} | {run['mode']} | {run['attack_s']:.1f} | "
                     f"{run['diagnostics_s']:.1f} | {run['wall_s']:.1f} | "
                     f"{run['rss_before_mib']:.0f} | {run['peak_rss_mib']:.0f} "
                     f"| {run['robust'][0]:.3f} / {run['robust'][1]:.3f} |")
    time_ratio = large["attack_s"] / small["attack_s"]
    # growth of the peak over the process's size before evaluating, large N vs small N
    memory_ratio = ((large["peak_rss_mib"] - large["rss_before_mib"])
                    / max(small["peak_rss_mib"] - small["rss_before_mib"], 1.0))
    cascade = small["attack_s"] / alone["attack_s"]
    scale = large["n"] / small["n"]
    lines += [
        "", "| target | met | measured |", "|---|---|---|",
        f"| attack time grows about linearly with N (ratio near {scale:.0f}) | "
        f"{'yes' if time_ratio <= 1.3 * scale else 'no'} | {time_ratio:.2f}x for {scale:.0f}x N |",
        f"| memory flat in N: peak growth during evaluation, large N over small N, below 1.5 | "
        f"{'yes' if memory_ratio < 1.5 else 'no'} | {memory_ratio:.2f}x |",
        f"| cascade at most half of standalone | {'yes' if cascade <= 0.5 else 'no'} | "
        f"{cascade:.2f}x |",
    ]
    return "\n".join(lines) + "\n"


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--n-small", type=int, default=1000)
    parser.add_argument("--n-large", type=int, default=10000)
    parser.add_argument("--k1", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--nb-iter", type=int, default=100)
    args = parse(parser, argv, SECTION, QUICK)
    if not 0 < args.n_small < args.n_large <= 10000:
        parser.error("need 0 < --n-small < --n-large <= 10000")
    if (rendered := render_only(SECTION, args, render)) is not None:
        return rendered
    with tempfile.TemporaryDirectory() as tmp:
        model = os.path.join(tmp, "b.keras")
        _train(args, model)
        runs = {}
        for name, n, mode, diagnostics in (("cascade_small", args.n_small, "cascade", True),
                                           ("cascade_large", args.n_large, "cascade", True),
                                           ("standalone_small", args.n_small, "standalone", False)):
            cfg = {"model": model, "n": n, "mode": mode, "nb_iter": args.nb_iter,
                   "diagnostics": diagnostics, "out": os.path.join(tmp, name)}
            runs[name] = {"n": n, "mode": mode, **_child(cfg)}
            print(name, runs[name], flush=True)
    # The header predates `record`: its own keys, which the committed file renders from.
    result = {"command": command(__file__, argv), "config": settings(args), "runs": runs,
              "date": time.strftime("%Y-%m-%d"), "machine": machine_line(),
              "parent_peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    return finish(SECTION, result, args, render)


if __name__ == "__main__":
    main()
