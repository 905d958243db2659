"""Training throughput of tfbnn's CIFAR ResNet-18 and VGG-16, and what a full epoch costs.

Two measurements:

1. **Model overhead.** For each architecture (``resnet18``, ``vgg16``) and each variant

   - REF (``precision="ref"``: full precision),
   - WQ-BC, WQ-GD, WQ-MD (``"wq"``: binary weights, by BinaryConnect, GD-tanh or
     MD-tanh-S),
   - WAQ (``"waq"``: binary weights and activations),

   at ``--width`` (0.25 by default: the CPU scale) on 32x32x3 inputs, the training
   throughput (images/s of ``model.fit``) of ``tfbnn.models.resnet18`` / ``vgg16`` is
   compared with the same network written by hand in this file from ``tf_keras.layers``
   and ``larq.layers`` (`build_twin`): the same layers in the same order with the same
   shapes (a Normalization layer with the CIFAR-10 mean and standard deviation first;
   batch norm without scale and offset for REF/WQ and with them for WAQ; ReLU for
   REF/WQ and a hard tanh for WAQ; ``QuantConv2D``/``QuantDense`` with Larq's
   ``ste_sign`` kernel quantizer and ``weight_clip`` for BC and WAQ, ``ste_sign`` input
   quantizer on every layer but the first for WAQ). The twin's GD-tanh quantizer is the
   plain function ``tanh(beta * w)`` and its MD-tanh-S quantizer ``tanh(beta * w)`` with a
   ``tf.custom_gradient`` straight-through backward (dL/dw = dL/dq), both with a fixed
   Python float ``beta`` (tfbnn's ``TanhSign`` reads ``beta`` from a non-trainable
   variable, which ``BetaAnnealing`` raises during training: the one thing tfbnn's
   GD/MD networks hold that the twins do not, so their parameter counts differ by one
   scalar per binary layer). The tfbnn model's starting weights are copied into the
   twin (``set_weights``, which also checks that every weight shape matches), and the
   parameter counts are checked and printed. Both are compiled with
   ``tfbnn.training.compile_model`` (Adam 1e-3, cross-entropy from logits). The ratio is
   tfbnn / twin images/s: above 1 means tfbnn trains faster. This tells whether tfbnn's
   model-building code (its quantizer classes and layer choices) costs anything over
   writing the network directly in Larq.

2. **What one full-width epoch costs here.** For each architecture, the REF and WQ-MD
   networks (``--full-variants``) at width 1 (the paper's networks) train
   ``--full-steps`` batches of 128 after one warm-up batch; the images/s are turned into
   the seconds (and hours) of one epoch of the official CIFAR-10 training set (50,000
   images), of one epoch of this project's offline stand-in (20,000 images), and of the
   authors' 100,000 iterations at batch 128: what training the paper's networks would
   take on this machine.

Data: random uniform [0, 1] float32 images of shape (n, 32, 32, 3) and random labels
in 0..9 from a seeded numpy generator (throughput does not depend on the pixel values),
batch 128, no shuffling, one cached ``tf.data`` pipeline shared by all models.

Timing (the helpers of ``benchmarks/train_throughput.py``): every model of part 1 first
trains one warm-up epoch (tracing, graph optimisation, allocator warm-up), not counted;
then each epoch of ``--steps`` batches is timed from ``on_epoch_begin`` to
``on_epoch_end``. Twin and tfbnn epochs are interleaved in an ABBA order (twin, tfbnn,
tfbnn, twin, ...) over ``--repeats`` rounds and the medians are reported, to be fair to
drift on a shared machine.

Run (from the repository root; about 8 minutes on 2 otherwise idle CPU cores, where
ResNet-18 at width 0.25 trains about 590 images/s, VGG-16 about 1,200, and the
full-width ResNet-18 about 16 times slower than at width 0.25, about 35 images/s; a
busy machine is slower and noisier)::

    python benchmarks/cifar_train_throughput.py --write-docs

Smoke check (under a minute; its numbers are noise, two batches an epoch)::

    python benchmarks/cifar_train_throughput.py --quick --architectures resnet18

Flags: ``--width 0.25``, ``--steps 20``, ``--repeats 3``, ``--full-steps 3``,
``--architectures resnet18 vgg16``, ``--variants REF WQ-BC WQ-GD WQ-MD WAQ``,
``--full-variants REF WQ-MD`` (none: skip part 2), ``--write-docs``, ``--quick`` (width
0.0625, steps 2, repeats 1, full-steps 1). Markdown tables go to stdout.

The results, with the command, go to ``benchmarks/results/cifar_train_throughput.json``
(``--json PATH`` elsewhere; a ``--quick`` run writes none unless given one). The docs
section is rendered from that file alone; to render it again without running anything::

    python benchmarks/cifar_train_throughput.py --render-only --write-docs
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

import numpy as np

import tfbnn  # noqa: F401  (must come first: routes tf.keras to Keras 2 for Larq)
import larq as lq
import tensorflow as tf
import tf_keras as keras

from tfbnn.models import resnet18, vgg16
from tfbnn.quantizers import TanhSign
from tfbnn.training import compile_model

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _report import (  # noqa: E402
    clock, finish, parse, positive_int, record, render_only, run_header)
from train_throughput import _median, param_counts, ratio_cells, time_epoch  # noqa: E402

BATCH_SIZE = 128
SECTION = "cifar_train_throughput"
ARCHITECTURES: dict[str, Callable[..., keras.Model]] = {"resnet18": resnet18, "vgg16": vgg16}
VARIANTS: dict[str, tuple[str, str | None]] = {
    "REF": ("ref", None),
    "WQ-BC": ("wq", "bc"),
    "WQ-GD": ("wq", "gd_tanh"),
    "WQ-MD": ("wq", "md_tanh_s"),
    "WAQ": ("waq", None),
}
"""Variant name -> (precision, method) of `tfbnn.models.resnet18` / `vgg16`."""
QUICK = {"width": 0.0625, "steps": 2, "repeats": 1, "full_steps": 1}
EPOCH_IMAGES = {"CIFAR-10 (50,000)": 50_000, "stand-in (20,000)": 20_000}
PAPER_ITERATIONS = 100_000

# The twin's own copy of the authors' normalization (not imported from tfbnn, so that
# the logit test in tests/test_cifar_benchmark.py checks tfbnn's constants too).
_MEAN = (0.4914, 0.4822, 0.4465)
_STD = (0.2023, 0.1994, 0.2010)
_VGG16 = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
          512, 512, 512, "M")


# --------------------------------------------------------------------------------------
# The hand-built twin
# --------------------------------------------------------------------------------------


def gd_tanh_quantizer(beta: float) -> Callable[[tf.Tensor], tf.Tensor]:
    """GD-tanh as a plain function: ``tanh(beta * w)``, its true gradient backward."""
    beta = float(beta)

    def gd_tanh(w: tf.Tensor) -> tf.Tensor:
        return tf.tanh(beta * w)

    return gd_tanh


def md_tanh_quantizer(beta: float) -> Callable[[tf.Tensor], tf.Tensor]:
    """MD-tanh-S as a plain function: ``tanh(beta * w)`` forward, dL/dw = dL/dq backward."""
    beta = float(beta)

    @tf.custom_gradient
    def md_tanh_s(w: tf.Tensor):
        def grad(dy):
            return dy

        return tf.tanh(beta * w), grad

    return md_tanh_s


def hard_tanh(x: tf.Tensor) -> tf.Tensor:
    """BinaryNet's activation before a sign: clip to [-1, 1]."""
    return tf.clip_by_value(x, -1.0, 1.0)


def build_twin(architecture: str, variant: str, width: float, beta: float = 1.0,
               input_shape=(32, 32, 3)) -> keras.Model:
    """tfbnn's ``architecture`` at ``variant`` and ``width``, written directly with
    tf_keras and Larq layers; ``beta`` is the fixed beta of the GD/MD twins."""
    precision, method = VARIANTS[variant]
    state = {"first": True}

    def quant(layer_cls, *args, **kwargs):
        if precision == "ref":
            state["first"] = False
            return getattr(keras.layers, layer_cls)(*args, **kwargs)
        if precision == "waq" or method == "bc":
            kwargs.update(kernel_quantizer="ste_sign", kernel_constraint="weight_clip")
        elif method == "gd_tanh":
            kwargs.update(kernel_quantizer=gd_tanh_quantizer(beta))
        else:
            kwargs.update(kernel_quantizer=md_tanh_quantizer(beta))
        binary_input = precision == "waq" and not state["first"]
        state["first"] = False
        return getattr(lq.layers, "Quant" + layer_cls)(
            *args, input_quantizer="ste_sign" if binary_input else None, **kwargs)

    def conv(x, filters, kernel, strides=1, use_bias=False):
        return quant("Conv2D", filters, kernel, strides=strides, padding="same",
                     use_bias=use_bias)(x)

    def norm(x):
        affine = precision == "waq"
        return keras.layers.BatchNormalization(center=affine, scale=affine)(x)

    def act(x):
        if precision == "waq":
            return keras.layers.Activation(hard_tanh)(x)
        return keras.layers.ReLU()(x)

    def channels(base):
        return max(1, int(round(base * width)))

    inputs = keras.Input(input_shape)
    x = keras.layers.Normalization(mean=list(_MEAN), variance=[s * s for s in _STD])(inputs)
    if architecture == "resnet18":
        widths = [channels(c) for c in (64, 128, 256, 512)]
        x = act(norm(conv(x, widths[0], 3)))
        in_channels = widths[0]
        for stage, out_channels in enumerate(widths):
            for block in range(2):
                strides = 2 if stage > 0 and block == 0 else 1
                y = act(norm(conv(x, out_channels, 3, strides)))
                y = norm(conv(y, out_channels, 3))
                shortcut = x
                if strides != 1 or in_channels != out_channels:
                    shortcut = norm(conv(x, out_channels, 1, strides))
                x = act(keras.layers.Add()([y, shortcut]))
                in_channels = out_channels
        x = keras.layers.GlobalAveragePooling2D()(x)
    elif architecture == "vgg16":
        for item in _VGG16:
            if item == "M":
                x = keras.layers.MaxPooling2D(2)(x)
            else:
                x = act(norm(conv(x, channels(item), 3, use_bias=True)))
        x = keras.layers.Flatten()(x)
        for _ in range(2):
            x = act(norm(quant("Dense", channels(512))(x)))
    else:
        raise ValueError(f"architecture must be one of {tuple(ARCHITECTURES)}, "
                         f"got {architecture!r}.")
    logits = quant("Dense", 10)(x)
    if variant == "WAQ":  # BinaryNet's batch norm after the output layer
        logits = norm(logits)
    return keras.Model(inputs, logits, name=f"twin_{architecture}_{variant}")


def build_tfbnn(architecture: str, variant: str, width: float) -> keras.Model:
    """``tfbnn.models.<architecture>(precision, method, width=width)``."""
    precision, method = VARIANTS[variant]
    return ARCHITECTURES[architecture](precision, method, width=width)


def tanh_betas(model: keras.Model) -> list:
    """The beta variables of the model's `TanhSign` kernel quantizers, in layer order."""
    return [layer.kernel_quantizer.beta for layer in model.layers
            if isinstance(getattr(layer, "kernel_quantizer", None), TanhSign)]


def twin_of(model: keras.Model, architecture: str, variant: str,
            width: float) -> keras.Model:
    """The twin of tfbnn's ``model``, with the same beta and the same starting weights.

    Raises ValueError when the twin is not the same network: trainable parameter counts
    that differ, non-trainable ones that differ by anything but tfbnn's betas, or a weight
    shape that does not match (from ``set_weights``).
    """
    betas = tanh_betas(model)
    values = sorted({float(b.numpy()) for b in betas})
    if len(values) > 1:
        raise ValueError(f"{model.name}: the TanhSign betas differ ({values}); the twin "
                         f"has one fixed beta.")
    twin = build_twin(architecture, variant, width, beta=values[0] if values else 1.0)
    ours, theirs = param_counts(model), param_counts(twin)
    if (ours["trainable"] != theirs["trainable"]
            or ours["non_trainable"] != theirs["non_trainable"] + len(betas)):
        raise ValueError(f"{architecture} {variant}: parameter counts differ, tfbnn {ours} "
                         f"({len(betas)} betas) vs twin {theirs}; not the same network.")
    skip = {b.ref() for b in betas}
    twin.set_weights([w.numpy() for w in model.weights if w.ref() not in skip])
    return twin


# --------------------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------------------


def bench_pair(architecture: str, variant: str, args, data, n_images: int) -> dict:
    """Interleaved throughput of tfbnn's ``architecture``/``variant`` and its twin."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(args.seed)
    ours = build_tfbnn(architecture, variant, args.width)
    twin = twin_of(ours, architecture, variant, args.width)
    counts_ours, counts_twin = param_counts(ours), param_counts(twin)
    compile_model(ours)
    compile_model(twin)
    tag = f"[{architecture} {variant}]"
    print(f"{tag} params tfbnn {counts_ours['total']:,}, twin {counts_twin['total']:,} "
          f"(trainable {counts_ours['trainable']:,} both)", file=sys.stderr, flush=True)

    models = {"twin": twin, "tfbnn": ours}
    warmup = {who: time_epoch(m, data, args.steps) for who, m in models.items()}
    times: dict[str, list[float]] = {"twin": [], "tfbnn": []}
    for r in range(args.repeats):
        order = ("twin", "tfbnn") if r % 2 == 0 else ("tfbnn", "twin")
        for who in order:
            times[who].append(time_epoch(models[who], data, args.steps))
        print(f"{tag} round {r + 1}/{args.repeats}: twin {times['twin'][-1]:.2f} s, "
              f"tfbnn {times['tfbnn'][-1]:.2f} s", file=sys.stderr, flush=True)
    med_twin, med_ours = _median(times["twin"]), _median(times["tfbnn"])
    return {
        "architecture": architecture,
        "variant": variant,
        "precision_method": list(VARIANTS[variant]),
        "params": counts_ours,
        "params_twin": counts_twin,
        "tanh_betas": len(tanh_betas(ours)),
        "warmup_epoch_s": warmup,
        "epoch_s": times,
        "median_epoch_s": {"twin": med_twin, "tfbnn": med_ours},
        "images_per_s": {"twin": n_images / med_twin, "tfbnn": n_images / med_ours},
        "ratio": med_twin / med_ours,  # (n / med_ours) / (n / med_twin)
        "round_ratios": [t / o for t, o in zip(times["twin"], times["tfbnn"])],
    }


def bench_full_width(architecture: str, variant: str, args, data) -> dict:
    """Images/s of tfbnn's width-1 network over ``--full-steps`` batches, extrapolated."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(args.seed)
    model = compile_model(build_tfbnn(architecture, variant, 1.0))
    warmup = time_epoch(model, data, 1)
    seconds = time_epoch(model, data, args.full_steps)
    images_per_s = args.full_steps * BATCH_SIZE / seconds
    print(f"[full width {architecture} {variant}] warm-up batch {warmup:.1f} s, "
          f"{args.full_steps} batch(es) {seconds:.1f} s: {images_per_s:.1f} images/s",
          file=sys.stderr, flush=True)
    return {
        "architecture": architecture,
        "variant": variant,
        "params": param_counts(model),
        "warmup_batch_s": warmup,
        "steps": args.full_steps,
        "seconds": seconds,
        "images_per_s": images_per_s,
        "epoch_s": {name: n / images_per_s for name, n in EPOCH_IMAGES.items()},
        "paper_iterations_s": PAPER_ITERATIONS * BATCH_SIZE / images_per_s,
    }


# --------------------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------------------


def _hours(seconds: float) -> str:
    return f"{seconds:,.0f} s ({seconds / 3600:,.1f} h)"


def render(results: dict) -> str:
    """The docs section, from the results alone: the command, the machine, the tables."""
    cfg = results["config"]
    batch, iterations = cfg["batch_size"], cfg["paper_iterations"]
    lines = ["## CIFAR training throughput", "", *run_header(results)]
    if results["throughput"]:
        lines += [
            f"Training throughput at width {cfg['width']:g} on random 32x32x3 images, "
            f"{cfg['n_images']:,} images ({cfg['steps']} steps of {batch}) per epoch, "
            f"median of {cfg['repeats']} interleaved epochs after one warm-up epoch each; "
            f"the twin is the same network written directly with tf_keras and Larq layers; "
            f"ratio = tfbnn / twin images/s (> 1: tfbnn faster), with the per-round range. "
            f"tfbnn's WQ-GD and WQ-MD networks hold one more (non-trainable) parameter per "
            f"binary layer than their twins: the annealed beta of each TanhSign.",
            "",
            "| architecture | variant | params tfbnn / twin | images/s tfbnn "
            "| images/s twin | ratio | per-round ratios |",
            "|---|---|---:|---:|---:|---:|---|",
        ]
        for r in results["throughput"]:
            lines.append(f"| {r['architecture']} | {r['variant']} | {r['params']['total']:,} / "
                         f"{r['params_twin']['total']:,} " + ratio_cells(r, "twin"))
        lines.append("")
    if results["full_width"]:
        names = list(results["full_width"][0]["epoch_s"])
        lines += [
            f"What one full-width (width 1) epoch costs here: tfbnn's networks timed over "
            f"{cfg['full_steps']} training batch(es) of {batch} after one warm-up "
            f"batch, extrapolated to one epoch and to the authors' {iterations:,} "
            f"iterations at batch {batch}.",
            "",
            "| architecture | variant | params | images/s | "
            + " | ".join(f"one epoch of {n}" for n in names)
            + f" | {iterations:,} iterations |",
            "|---|---|---:|---:|" + "---:|" * (len(names) + 1),
        ]
        for r in results["full_width"]:
            lines.append(
                f"| {r['architecture']} | {r['variant']} | {r['params']['total']:,} "
                f"| {r['images_per_s']:,.1f} | "
                + " | ".join(_hours(r["epoch_s"][n]) for n in names)
                + f" | {_hours(r['paper_iterations_s'])} |"
            )
        lines.append("")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not (value > 0 and np.isfinite(value)):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _unique(items: list) -> list:
    return list(dict.fromkeys(items))


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Training throughput of tfbnn's CIFAR ResNet-18/VGG-16 (REF, BNN-WQ, "
        "BNN-WAQ) against hand-built Keras/Larq twins, and the cost of a full-width epoch.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--width", type=_positive_float, default=0.25,
                        help="channel multiplier of the part-1 networks")
    parser.add_argument("--steps", type=positive_int, default=20,
                        help=f"batches of {BATCH_SIZE} per timed epoch")
    parser.add_argument("--repeats", type=positive_int, default=3,
                        help="interleaved timed epochs per model")
    parser.add_argument("--full-steps", type=positive_int, default=3,
                        help=f"timed batches of {BATCH_SIZE} of each full-width network")
    parser.add_argument("--architectures", nargs="+", choices=tuple(ARCHITECTURES),
                        default=list(ARCHITECTURES))
    parser.add_argument("--variants", nargs="+", choices=tuple(VARIANTS),
                        default=list(VARIANTS), help="variants timed against their twins")
    parser.add_argument("--full-variants", nargs="*", choices=tuple(VARIANTS),
                        default=["REF", "WQ-MD"],
                        help="variants timed at full width (none: skip that part)")
    parser.add_argument("--seed", type=int, default=0)
    args = parse(parser, argv, SECTION, QUICK)
    args.architectures = _unique(args.architectures)
    args.variants = _unique(args.variants)
    args.full_variants = _unique(args.full_variants)
    return args


def random_cifar(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random uniform [0, 1] float32 32x32x3 images and random labels 0..9."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, 32, 32, 3), dtype=np.float32)
    y = rng.integers(0, 10, size=n).astype(np.int32)
    return x, y


def _dataset(x: np.ndarray, y: np.ndarray) -> tf.data.Dataset:
    return (tf.data.Dataset.from_tensor_slices((x, y)).batch(BATCH_SIZE, drop_remainder=True)
            .cache().prefetch(tf.data.AUTOTUNE))


def main(argv=None) -> dict:
    args = parse_args(argv)
    if (rendered := render_only(SECTION, args, render)) is not None:
        return rendered
    elapsed = clock()
    n_images = args.steps * BATCH_SIZE
    x, y = random_cifar(max(args.steps, args.full_steps) * BATCH_SIZE, args.seed)
    data = _dataset(x[:n_images], y[:n_images])
    n_full = args.full_steps * BATCH_SIZE
    data_full = _dataset(x[:n_full], y[:n_full])

    throughput = [bench_pair(a, v, args, data, n_images)
                  for a in args.architectures for v in args.variants]
    full_width = [bench_full_width(a, v, args, data_full)
                  for a in args.architectures for v in args.full_variants]

    header = record(__file__, argv, args, n_images=n_images, batch_size=BATCH_SIZE,
                    paper_iterations=PAPER_ITERATIONS,
                    data="random uniform [0, 1] images, random labels")
    results = {**header, **elapsed(), "throughput": throughput, "full_width": full_width}
    return finish(SECTION, results, args, render)


if __name__ == "__main__":
    main()
