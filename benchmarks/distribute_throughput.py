"""What ``tf.distribute`` costs on this machine: 1 vs 2 logical CPU devices.

The CPU is split into two logical devices (`tfbnn.distribute.set_logical_cpus`) at the
start of the process. Both share the same cores and TensorFlow's one thread pool, so a
second device adds no compute: the ratios measure the overhead (or the gain from
running two smaller graphs side by side) of the strategy on CPU, not the speed-up of
two GPUs. Every ratio is taken against a baseline in the same process:

1. **Training.** Images/s of one ``fit`` epoch of tfbnn's ``--variant`` CNN (batch
   ``--batch-size``, the global batch), clean and with ``AdversarialTrainer`` +
   ``MadryPGD`` (``--pgd-iter`` iterations, adversary on in every epoch), under three
   set-ups: no strategy (the baseline), ``MirroredStrategy`` on one logical CPU (the
   strategy's own cost) and on two (the batch split in two replicas). Each model trains
   one warm-up epoch (tracing), then the set-ups' epochs are interleaved over
   ``--repeats`` rounds and the medians compared.

2. **Evaluation.** Examples/s of ``tfbnn.evaluation.evaluate`` (PGD and APGD-CE,
   ``--eval-iter`` iterations, cascade, ``--eval-n`` test images in per-replica
   batches of ``--eval-batch``) with ``strategy=None`` against a ``MirroredStrategy``
   over one and over two logical CPUs, interleaved likewise after a warm-up run. Each
   run's per-example worst case and report are compared with the single-device run's
   (they must be identical: `tfbnn.distribute` hands whole batches to replicas).

Run (from the repository root; about 10 minutes on 2 loaded CPU cores); the results go
to ``benchmarks/results/distribute_throughput.json``, from which the docs section is
rendered, and which can be rendered again without running anything::

    python benchmarks/distribute_throughput.py --write-docs
    python benchmarks/distribute_throughput.py --render-only --write-docs

Smoke check (about a minute; writes no results file unless given ``--json``)::

    python benchmarks/distribute_throughput.py --quick
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import tfbnn  # noqa: F401  (must come first: routes tf.keras to Keras 2 for Larq)
from tfbnn import distribute

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _report import (  # noqa: E402
    clock, finish, parse, positive_int, record, render_only, run_header)

SECTION = "distribute_throughput"
QUICK = {"k1": 8, "steps": 6, "repeats": 1, "pgd_iter": 2, "eval_n": 64, "eval_iter": 3}
SETUPS = ("single", "mirrored x1", "mirrored x2")
"""No strategy; MirroredStrategy on logical CPU 0; on logical CPUs 0 and 1."""


def _strategies(devices):
    import tensorflow as tf

    return {"single": tf.distribute.get_strategy(),
            "mirrored x1": tf.distribute.MirroredStrategy(devices=devices[:1]),
            "mirrored x2": tf.distribute.MirroredStrategy(devices=devices[:2])}


def _median(values):
    return float(statistics.median(values))


def bench_training(args, strategies, data, n_images, adversarial: bool) -> dict:
    """Interleaved epochs of the same model under each set-up."""
    import tf_keras as keras
    from train_throughput import time_epoch

    from tfbnn.models import cleverhans_cnn
    from tfbnn.training import AdversarialTrainer, MadryPGD, compile_model

    trainers, warmup = {}, {}
    for name, strategy in strategies.items():
        with strategy.scope():
            keras.utils.set_random_seed(args.seed)
            model = cleverhans_cnn(args.variant, args.k1)
            if adversarial:
                model = AdversarialTrainer(model, MadryPGD(0.3, 0.01, args.pgd_iter),
                                           last_epochs=None)
            trainers[name] = compile_model(model)
        warmup[name] = time_epoch(trainers[name], data)
    times = {name: [] for name in strategies}
    for round_ in range(args.repeats):
        order = list(strategies) if round_ % 2 == 0 else list(strategies)[::-1]
        for name in order:
            times[name].append(time_epoch(trainers[name], data))
        print(f"training {'PGD' if adversarial else 'clean'} round {round_ + 1}: "
              + ", ".join(f"{n} {times[n][-1]:.2f} s" for n in strategies), file=sys.stderr,
              flush=True)
    medians = {name: _median(t) for name, t in times.items()}
    return {"adversarial": adversarial, "warmup_epoch_s": warmup, "epoch_s": times,
            "median_epoch_s": medians,
            "images_per_s": {name: n_images / m for name, m in medians.items()},
            "ratio": {name: medians["single"] / m for name, m in medians.items()}}


def _strip(results):
    return [{**r, "attacks": [{k: v for k, v in a.items() if k != "seconds"}
                              for a in r["attacks"]]} for r in results]


def bench_evaluation(args, strategies, model, x, y) -> dict:
    """Interleaved evaluations under each set-up, and their agreement with one device."""
    from tfbnn import evaluation

    kwargs = {"eps": [0.1], "attacks": ["pgd", "apgd_ce"], "nb_iter": args.eval_iter,
              "batch_size": args.eval_batch, "run_diagnostics": False, "progress": False,
              "seed": args.seed}

    def run(name):
        strategy = None if name == "single" else strategies[name]
        started = time.perf_counter()
        report = evaluation.evaluate(model, x, y, strategy=strategy, **kwargs)
        return time.perf_counter() - started, report

    warmup = {name: run(name)[0] for name in strategies}
    times, reports = {name: [] for name in strategies}, {}
    for round_ in range(args.repeats):
        order = list(strategies) if round_ % 2 == 0 else list(strategies)[::-1]
        for name in order:
            seconds, reports[name] = run(name)
            times[name].append(seconds)
        print(f"evaluation round {round_ + 1}: "
              + ", ".join(f"{n} {times[n][-1]:.2f} s" for n in strategies), file=sys.stderr,
              flush=True)
    base = reports["single"]
    medians = {name: _median(t) for name, t in times.items()}
    return {
        "config": kwargs, "warmup_s": warmup, "seconds": times, "median_s": medians,
        "examples_per_s": {name: len(x) / m for name, m in medians.items()},
        "ratio": {name: medians["single"] / m for name, m in medians.items()},
        "identical_per_example": {
            name: r["results"][0]["robust_per_example"] == base["results"][0]["robust_per_example"]
            for name, r in reports.items()},
        "identical_report": {name: _strip(r["results"]) == _strip(base["results"])
                             for name, r in reports.items()},
        "robust_accuracy": base["results"][0]["robust_accuracy"],
        "clean_accuracy": base["clean_accuracy"],
    }


# --------------------------------------------------------------------------- reporting


def _round_ratios(times: dict, setup: str = "mirrored x2") -> str:
    """The lowest and highest ratio of one round (single / ``setup`` seconds)."""
    ratios = [a / b for a, b in zip(times["single"], times[setup])]
    return f"{min(ratios):.2f} to {max(ratios):.2f}"


def render(results: dict) -> str:
    """The docs section, from the results alone."""
    cfg = results["config"]
    lines = ["## tf.distribute overhead on CPU (1 vs 2 logical devices)", "",
             *run_header(results),
             "Two logical CPU devices share the same cores: the ratios are what "
             "MirroredStrategy costs (or saves) on CPU, not a GPU speed-up. Ratio = "
             "throughput / the no-strategy baseline in the same process (> 1: faster); "
             f"medians of {cfg['repeats']} interleaved rounds after a warm-up. The machine "
             "was shared with a background training job (see the load average above).",
             "",
             f"Training, {cfg['variant']} CNN at k1={cfg['k1']}, {cfg['n_images']:,} MNIST "
             f"images per epoch, global batch {cfg['batch_size']} (per replica "
             f"{cfg['batch_size'] // 2} with 2 devices):", "",
             "| training | " + " | ".join(f"{s} img/s" for s in SETUPS) + " | "
             + " | ".join(f"{s} ratio" for s in SETUPS[1:]) + " | x2 per-round ratios |",
             "|---|" + "---:|" * (2 * len(SETUPS) - 1) + "---|"]
    for t in results["training"]:
        name = f"PGD-{cfg['pgd_iter']} adversarial" if t["adversarial"] else "clean"
        lines.append(f"| {name} | " + " | ".join(f"{t['images_per_s'][s]:,.0f}" for s in SETUPS)
                     + " | " + " | ".join(f"{t['ratio'][s]:.3f}" for s in SETUPS[1:])
                     + f" | {_round_ratios(t['epoch_s'])} |")
    e = results["evaluation"]
    c = e["config"]
    lines += [
        "",
        f"Evaluation, `evaluate(attacks={c['attacks']}, nb_iter={c['nb_iter']}, eps="
        f"{c['eps']})` on {cfg['eval_n']} MNIST test images of an A model (clean accuracy "
        f"{e['clean_accuracy']:.3f}, robust {e['robust_accuracy']:.3f}), batches of "
        f"{c['batch_size']} per replica:", "",
        "| set-up | examples/s | ratio | per-round ratios | per-example worst case = "
        "single device | report = single device |",
        "|---|---:|---:|---|---|---|",
    ]
    for s in SETUPS:
        rounds = _round_ratios(e["seconds"], s)
        lines.append(f"| {s} | {e['examples_per_s'][s]:,.1f} | {e['ratio'][s]:.3f} | {rounds} "
                     f"| {'yes' if e['identical_per_example'][s] else 'NO'} "
                     f"| {'yes' if e['identical_report'][s] else 'NO'} |")
    lines.append("")
    return "\n".join(lines)


# --------------------------------------------------------------------------- main


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Training and evaluation throughput under MirroredStrategy over 1 and 2 "
        "logical CPU devices against no strategy, in one process.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--variant", default="B", help="cleverhans_cnn variant trained")
    parser.add_argument("--k1", type=positive_int, default=32, help="first-layer kernels")
    parser.add_argument("--batch-size", type=positive_int, default=128,
                        help="global training batch (even: split over 2 replicas)")
    parser.add_argument("--steps", type=positive_int, default=40,
                        help="training batches per timed epoch")
    parser.add_argument("--repeats", type=positive_int, default=3,
                        help="interleaved rounds of timed epochs / evaluations")
    parser.add_argument("--pgd-iter", type=positive_int, default=5,
                        help="PGD iterations of the adversarial training")
    parser.add_argument("--eval-n", type=positive_int, default=400, help="test images")
    parser.add_argument("--eval-batch", type=positive_int, default=50,
                        help="evaluation batch per replica")
    parser.add_argument("--eval-iter", type=positive_int, default=20,
                        help="iterations of each evaluation attack")
    parser.add_argument("--seed", type=int, default=0)
    args = parse(parser, argv, SECTION, QUICK)
    if args.batch_size % 2:
        parser.error(f"--batch-size {args.batch_size} must be even (split over 2 replicas)")
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    if (rendered := render_only(SECTION, args, render)) is not None:
        return rendered
    devices = distribute.set_logical_cpus(2)  # before any other TensorFlow work
    import numpy as np
    import tensorflow as tf

    from tfbnn import models, training
    from tfbnn.data import load_mnist

    elapsed = clock()
    strategies = _strategies(devices)
    (x_train, y_train), (x_test, y_test) = load_mnist()
    n_images = args.steps * args.batch_size
    data = (tf.data.Dataset.from_tensor_slices((x_train[:n_images], y_train[:n_images]))
            .batch(args.batch_size, drop_remainder=True).cache().prefetch(tf.data.AUTOTUNE))
    train = [bench_training(args, strategies, data, n_images, adversarial)
             for adversarial in (False, True)]
    keras_model = training.compile_model(models.cleverhans_cnn("A", k1=16))
    keras_model.fit(x_train[:4096], y_train[:4096], epochs=2, batch_size=128, verbose=0)
    evaluation = bench_evaluation(args, strategies, keras_model,
                                  np.asarray(x_test[:args.eval_n]),
                                  np.asarray(y_test[:args.eval_n]))
    results = {**record(__file__, argv, args, n_images=n_images, devices=devices),
               "training": train, "evaluation": evaluation, **elapsed()}
    return finish(SECTION, results, args, render)


if __name__ == "__main__":
    main()
