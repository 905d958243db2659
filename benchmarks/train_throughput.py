"""Training throughput of tfbnn's CleverHans CNNs, and the cost of PGD adversarial training.

Two measurements, each a ratio taken inside one process so that the machine cancels out:

1. **Model overhead.** For each variant A (full precision), B (binary), C (binary with
   a learned scalar) and S (C with a stochastic third convolution) at ``--k1`` kernels,
   the training throughput (images/s of ``model.fit``) of ``tfbnn.models.cleverhans_cnn``
   is compared with the same network written by hand from ``tf_keras.layers`` and
   ``larq.layers.QuantConv2D`` (``input_quantizer="ste_sign"``,
   ``kernel_quantizer="ste_sign"``, ``kernel_constraint="weight_clip"``): same layers,
   same order, same shapes, and the same starting weights (copied over, which also
   checks that every weight shape matches; the parameter counts are checked and
   printed). The hand-built C and S models multiply by a learned scalar with a
   five-line layer defined here; the hand-built S model binarizes its third convolution
   with Larq's ``ste_sign`` by default (``--s-baseline stochastic`` uses tfbnn's
   ``StochasticSign`` there instead, leaving only the model-building code as the
   difference). The ratio is tfbnn / baseline: above 1 means tfbnn trains faster.

2. **PGD adversarial training.** One epoch of
   ``AdversarialTrainer(model, MadryPGD(eps=0.3, eps_iter=0.01, nb_iter=k), last_epochs=None)``
   on the tfbnn ``--pgd-variant`` model (B by default) is timed against a clean
   ``model.fit`` epoch of the same model on the same images. A PGD-k training step runs
   k forward+backward passes for the attack plus one training pass, so the reported
   ``adv / ((k + 1) * clean)`` is about 1 when the attack costs what it should. The same
   trainer with its adversary switched off (``last_epochs=0``) is timed as well, to show
   the cost of the trainer's own ``train_step``.

Timing: every model first trains one warm-up epoch (tracing, graph optimisation,
allocator warm-up), which is not counted (the adversarial trainer warms up on
``--pgd-warmup-steps`` batches only: its graph is already traced by the clean warm-up
epoch of the same trainer). Then each epoch is timed from ``on_epoch_begin`` to
``on_epoch_end`` (Keras syncs the results before ``on_epoch_end``) over a fixed subset
of the MNIST training set: the first ``--steps`` x 128 images, batch 128, no shuffling,
from one cached ``tf.data`` pipeline shared by all models. Baseline and tfbnn epochs
are interleaved in an ABBA order (baseline, tfbnn, tfbnn, baseline, ...), over
``--repeats`` rounds, and the medians are reported, to be fair to drift on a shared
machine.

Run (from the repository root; about 10 minutes on 2 CPU cores); the results go to
``benchmarks/results/train_throughput.json`` (``--json PATH`` elsewhere), from which the
docs section is rendered, and which can be rendered again without running anything::

    python benchmarks/train_throughput.py --write-docs
    python benchmarks/train_throughput.py --render-only --write-docs

Smoke check (under a minute; writes no results file unless given ``--json``)::

    python benchmarks/train_throughput.py --quick

Flags: ``--k1 64``, ``--steps 100``, ``--repeats 3``, ``--pgd-iter 10`` (``40`` is the
paper's), ``--variants A B C S``, ``--quick`` (k1=16, steps=20, repeats=1, pgd-iter=3);
see ``--help`` for the others. The Markdown section goes to stdout.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

import tfbnn  # noqa: F401  (must come first: routes tf.keras to Keras 2 for Larq)
import larq as lq
import tensorflow as tf
import tf_keras as keras

from tfbnn.data import load_mnist
from tfbnn.models import VARIANTS, cleverhans_cnn
from tfbnn.quantizers import StochasticSign
from tfbnn.training import AdversarialTrainer, MadryPGD, compile_model

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _report import (  # noqa: E402
    clock, finish, parse, positive_int, record, render_only, run_header)

BATCH_SIZE = 128
SECTION = "train_throughput"
QUICK = {"k1": 16, "steps": 20, "repeats": 1, "pgd_iter": 3}


# --------------------------------------------------------------------------------------
# The hand-built baseline
# --------------------------------------------------------------------------------------


class _Scalar(keras.layers.Layer):
    """x * s with one trainable scalar s: the hand-built stand-in for C/S's scale."""

    def build(self, input_shape):
        self.s = self.add_weight(
            name="s", shape=(), initializer=keras.initializers.Constant(1e-2)
        )

    def call(self, x):
        return x * self.s


def build_baseline(variant: str, k1: int, s_baseline: str = "ste_sign") -> keras.Model:
    """The CleverHans CNN ``variant`` written directly with tf_keras and Larq layers."""
    k2 = 2 * k1
    inputs = keras.Input(shape=(28, 28, 1))
    x = keras.layers.Conv2D(k1, 8, strides=2, padding="same")(inputs)
    x = keras.layers.ReLU()(x)
    if variant == "A":
        x = keras.layers.Conv2D(k2, 6, strides=2, padding="valid")(x)
        x = keras.layers.ReLU()(x)
        x = keras.layers.Conv2D(k2, 5, strides=1, padding="valid")(x)
        x = keras.layers.ReLU()(x)
    else:
        for kernel, stride, last in ((6, 2, False), (5, 1, True)):
            kernel_quantizer = "ste_sign"
            if variant == "S" and last and s_baseline == "stochastic":
                kernel_quantizer = StochasticSign()
            x = keras.layers.BatchNormalization()(x)
            x = lq.layers.QuantConv2D(
                k2,
                kernel,
                strides=stride,
                padding="valid",
                input_quantizer="ste_sign",
                kernel_quantizer=kernel_quantizer,
                kernel_constraint="weight_clip",
            )(x)
            x = keras.layers.ReLU()(x)
            if variant in ("C", "S"):
                x = _Scalar()(x)
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(10)(x)
    return keras.Model(inputs, outputs, name=f"baseline_{variant}{k1}")


def baseline_quantizers(variant: str, s_baseline: str) -> str:
    """How the baseline binarizes, in words, for the table."""
    if variant == "A":
        return "none (full precision)"
    if variant == "S" and s_baseline == "stochastic":
        return "Larq ste_sign; conv3 kernel tfbnn StochasticSign"
    return "Larq ste_sign"


def tfbnn_quantizers(variant: str, estimator: str) -> str:
    if variant == "A":
        return "none (full precision)"
    name = "PassThroughSign" if estimator == "passthrough" else "Larq ste_sign"
    if variant == "S":
        return f"{name}; conv3 kernel StochasticSign"
    return name


def param_counts(model: keras.Model) -> dict:
    trainable = int(sum(np.prod(w.shape) for w in model.trainable_weights))
    total = int(model.count_params())
    return {"total": total, "trainable": trainable, "non_trainable": total - trainable}


# --------------------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------------------


class _EpochTimer(keras.callbacks.Callback):
    """Wall time of each epoch, from on_epoch_begin to on_epoch_end."""

    def __init__(self):
        super().__init__()
        self.times: list[float] = []
        self._start = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.times.append(time.perf_counter() - self._start)


def time_epoch(model: keras.Model, data: tf.data.Dataset, steps: int | None = None) -> float:
    """Seconds for one ``fit`` epoch of ``model`` on ``data`` (``steps`` batches if given)."""
    timer = _EpochTimer()
    model.fit(data, epochs=1, steps_per_epoch=steps, verbose=0, callbacks=[timer])
    return timer.times[0]


def _median(values):
    return float(statistics.median(values))


def bench_variant(variant, args, data, n_images) -> dict:
    """Interleaved throughput of tfbnn's ``variant`` and its hand-built twin."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(args.seed)
    ours = cleverhans_cnn(variant, args.k1, estimator=args.estimator)
    base = build_baseline(variant, args.k1, args.s_baseline)
    counts_ours, counts_base = param_counts(ours), param_counts(base)
    if counts_ours != counts_base:
        raise SystemExit(
            f"variant {variant}: parameter counts differ, tfbnn {counts_ours} vs "
            f"baseline {counts_base}; the baseline is not the same network."
        )
    # Same starting point; set_weights also fails loudly on any shape mismatch.
    base.set_weights(ours.get_weights())
    compile_model(ours)
    compile_model(base)
    print(
        f"[{variant}] params tfbnn {counts_ours['total']:,} = baseline "
        f"{counts_base['total']:,} (trainable {counts_ours['trainable']:,})",
        file=sys.stderr,
        flush=True,
    )

    warmup = {"baseline": time_epoch(base, data), "tfbnn": time_epoch(ours, data)}
    times = {"baseline": [], "tfbnn": []}
    for r in range(args.repeats):
        order = ("baseline", "tfbnn") if r % 2 == 0 else ("tfbnn", "baseline")
        for who in order:
            times[who].append(time_epoch(base if who == "baseline" else ours, data))
        print(
            f"[{variant}] round {r + 1}/{args.repeats}: baseline {times['baseline'][-1]:.2f} s, "
            f"tfbnn {times['tfbnn'][-1]:.2f} s",
            file=sys.stderr,
            flush=True,
        )
    med_base, med_ours = _median(times["baseline"]), _median(times["tfbnn"])
    return {
        "variant": variant,
        "params": counts_ours,
        "params_baseline": counts_base,
        "tfbnn_quantizers": tfbnn_quantizers(variant, args.estimator),
        "baseline_quantizers": baseline_quantizers(variant, args.s_baseline),
        "warmup_epoch_s": warmup,
        "epoch_s": times,
        "median_epoch_s": {"baseline": med_base, "tfbnn": med_ours},
        "images_per_s": {"baseline": n_images / med_base, "tfbnn": n_images / med_ours},
        "ratio": med_base / med_ours,  # (n/med_ours) / (n/med_base)
        "round_ratios": [b / o for b, o in zip(times["baseline"], times["tfbnn"])],
    }


def bench_pgd(args, data, n_images) -> dict:
    """A PGD-k adversarial epoch against clean epochs of the same model."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(args.seed)
    k = args.pgd_iter
    model = cleverhans_cnn(args.pgd_variant, args.pgd_k1, estimator=args.estimator)
    compile_model(model)
    trainer = AdversarialTrainer(
        model, MadryPGD(eps=0.3, eps_iter=0.01, nb_iter=k), last_epochs=None
    )
    compile_model(trainer)

    def trainer_epoch(adversarial: bool, steps=None) -> float:
        # last_epochs=None: adversary on in every epoch; 0: off in every epoch. The
        # switch is a tf.Variable read inside the traced train step: no retracing.
        trainer.last_epochs = None if adversarial else 0
        return time_epoch(trainer, data, steps)

    warm_steps = min(args.pgd_warmup_steps, args.steps)
    warmup = {
        "clean": time_epoch(model, data),
        "trainer_clean": trainer_epoch(False),
        f"adversarial_{warm_steps}_steps": trainer_epoch(True, warm_steps),
    }
    print(f"[PGD-{k}] warm-up done: {warmup}", file=sys.stderr, flush=True)
    times = {"clean": [], "trainer_clean": [], "adversarial": []}
    for r in range(args.pgd_repeats):
        times["clean"].append(time_epoch(model, data))
        times["trainer_clean"].append(trainer_epoch(False))
        times["adversarial"].append(trainer_epoch(True))
        print(
            f"[PGD-{k}] round {r + 1}/{args.pgd_repeats}: "
            + ", ".join(f"{key} {v[-1]:.2f} s" for key, v in times.items()),
            file=sys.stderr,
            flush=True,
        )
    # One more clean epoch after the adversarial ones, so that the clean median
    # brackets them in time.
    times["clean"].append(time_epoch(model, data))
    med = {key: _median(v) for key, v in times.items()}
    return {
        "variant": args.pgd_variant,
        "k1": args.pgd_k1,
        "nb_iter": k,
        "eps": 0.3,
        "eps_iter": 0.01,
        "warmup_epoch_s": warmup,
        "epoch_s": times,
        "median_epoch_s": med,
        "images_per_s": {key: n_images / v for key, v in med.items()},
        "adv_over_clean": med["adversarial"] / med["clean"],
        "ratio": med["adversarial"] / ((k + 1) * med["clean"]),
        "trainer_clean_over_clean": med["trainer_clean"] / med["clean"],
    }


# --------------------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------------------


def ratio_cells(row: dict, other: str) -> str:
    """The last cells of a row of a tfbnn-against-``other`` throughput table (this one and
    the CIFAR benchmark's): both images/s, the ratio of the medians and the per-round
    range of the ratio."""
    rr = row["round_ratios"]
    return (f"| {row['images_per_s']['tfbnn']:,.0f} | {row['images_per_s'][other]:,.0f} "
            f"| {row['ratio']:.3f} | {min(rr):.3f} to {max(rr):.3f} |")


def render(results: dict) -> str:
    """The docs section, from the results alone."""
    cfg = results["config"]
    lines = ["## Training throughput", "", *run_header(results)]
    if results["throughput"]:
        lines += [
            f"Training throughput, k1={cfg['k1']}, {cfg['n_images']:,} MNIST images "
            f"({cfg['steps']} steps of {cfg['batch_size']}) per epoch, median of {cfg['repeats']} "
            f"interleaved epochs after one warm-up epoch each; ratio = tfbnn / baseline "
            f"images/s (> 1: tfbnn faster), with the per-round range.",
            "",
            "| variant | params (both) | tfbnn quantizers | baseline quantizers "
            "| tfbnn img/s | baseline img/s | ratio | per-round ratios |",
            "|---|---:|---|---|---:|---:|---:|---|",
        ]
        for r in results["throughput"]:
            lines.append(f"| {r['variant']} | {r['params']['total']:,} | {r['tfbnn_quantizers']} "
                         f"| {r['baseline_quantizers']} " + ratio_cells(r, "baseline"))
        lines.append("")
    p = results.get("pgd")
    if p:
        k = p["nb_iter"]
        lines += [
            f"PGD adversarial training, {p['variant']} at k1={p['k1']}, MadryPGD(eps=0.3, "
            f"eps_iter=0.01, nb_iter={k}), adversary on in every epoch; median epoch times "
            f"over {cfg['pgd_repeats']} adversarial epoch(s) and "
            f"{len(p['epoch_s']['clean'])} clean epochs; ideal ratio about 1.",
            "",
            "| k | clean epoch (s) | trainer, adversary off (s) | PGD-k epoch (s) "
            "| adv / clean | adv / ((k+1) clean) |",
            "|---:|---:|---:|---:|---:|---:|",
            f"| {k} | {p['median_epoch_s']['clean']:.2f} "
            f"| {p['median_epoch_s']['trainer_clean']:.2f} "
            f"| {p['median_epoch_s']['adversarial']:.2f} | {p['adv_over_clean']:.2f} "
            f"| {p['ratio']:.3f} |",
            "",
        ]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Training throughput of tfbnn's A/B/C/S CNNs against hand-built "
        "Keras/Larq twins, and a PGD-k adversarial epoch against (k+1) clean epochs.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--k1", type=positive_int, default=64, help="first-layer kernels")
    parser.add_argument("--steps", type=positive_int, default=100,
                        help=f"batches of {BATCH_SIZE} per timed epoch")
    parser.add_argument("--repeats", type=positive_int, default=3,
                        help="interleaved timed epochs per model")
    parser.add_argument("--variants", nargs="*", choices=VARIANTS, default=list(VARIANTS),
                        help="variants to time (none: PGD part only)")
    parser.add_argument("--estimator", choices=("passthrough", "ste_sign"),
                        default="passthrough",
                        help="straight-through estimator of the tfbnn models")
    parser.add_argument("--s-baseline", choices=("ste_sign", "stochastic"), default="ste_sign",
                        help="kernel quantizer of the hand-built S model's third conv")
    parser.add_argument("--pgd-iter", type=int, default=10,
                        help="PGD iterations k (the paper: 40); 0 skips the PGD part")
    parser.add_argument("--pgd-variant", choices=VARIANTS, default="B")
    parser.add_argument("--pgd-k1", type=positive_int, default=None,
                        help="k1 of the PGD model; None: --k1")
    parser.add_argument("--pgd-repeats", type=positive_int, default=None,
                        help="rounds of (clean, adversary off, PGD-k) timed epochs"
                        "; None: --repeats")
    parser.add_argument("--pgd-warmup-steps", type=positive_int, default=10,
                        help="batches of the adversarial warm-up")
    parser.add_argument("--seed", type=int, default=0)
    args = parse(parser, argv, SECTION, QUICK)
    if args.pgd_iter < 0:
        parser.error("--pgd-iter must be >= 0")
    if args.pgd_k1 is None:
        args.pgd_k1 = args.k1
    if args.pgd_repeats is None:
        args.pgd_repeats = args.repeats
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    if (rendered := render_only(SECTION, args, render)) is not None:
        return rendered
    elapsed = clock()
    n_images = args.steps * BATCH_SIZE
    x_train, y_train = load_mnist("train")
    if n_images > len(x_train):
        raise SystemExit(f"--steps {args.steps} needs {n_images} images; MNIST has {len(x_train)}.")
    data = (
        tf.data.Dataset.from_tensor_slices((x_train[:n_images], y_train[:n_images]))
        .batch(BATCH_SIZE, drop_remainder=True)
        .cache()
        .prefetch(tf.data.AUTOTUNE)
    )

    throughput = [bench_variant(v, args, data, n_images) for v in args.variants]
    pgd = bench_pgd(args, data, n_images) if args.pgd_iter > 0 else None

    results = {**record(__file__, argv, args, n_images=n_images, batch_size=BATCH_SIZE),
               **elapsed(), "throughput": throughput, "pgd": pgd}
    return finish(SECTION, results, args, render)


if __name__ == "__main__":
    main()
