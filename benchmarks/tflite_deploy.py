"""1-bit deployment: file size and single-thread latency of float TFLite vs Larq Compute
Engine's 1-bit flatbuffer, and the 1-bit file's agreement with Keras on real test images.

For each model, one graph (`tfbnn.deploy.lce_equivalent`, the model's forward pass in the
form LCE recognises) is converted twice: by TensorFlow's own converter (every convolution
float32: the "float TFLite") and by LCE (`tfbnn.deploy.export_tflite`: binary convolutions
as ``LceBconv2d``). Both run in LCE's interpreter with one thread, batch 1, on the same
image: in each round, ``--invocations`` calls of one and then of the other (the order
alternates between rounds), and the round's latency of each is the median of its calls.
The latency ratio is float / LCE within a round; the table gives the median and range of
the per-round ratios, and the size ratio is float bytes / LCE bytes. The 1-bit file's
logits are compared with the Keras model's on ``--n`` real test images.

Models (``--models``):

- ``mnist_b64``: the CleverHans CNN B at k1 = 64, trained ``--epochs`` on real MNIST;
- ``cifar_resnet18_wq``: ResNet-18 BNN-WQ (BC) at width 0.25, untrained, batch-norm
  statistics measured on 2,000 training images (size and latency do not depend on
  training; the agreement check needs statistics that are not the initial ones);
- ``cifar_resnet18_waq``: the same at BNN-WAQ, where LCE has binary ops to use.

On x86, LCE's binary kernels are its portable C++ code, not the ARM (NEON) kernels LCE is
built for, and TFLite's float kernels are well optimised for x86: the latency ratios here
are a lower bound of what an ARM device gives, not a measurement of one.

    python benchmarks/tflite_deploy.py --write-docs
    python benchmarks/tflite_deploy.py --render-only --write-docs
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import tfbnn  # noqa: F401  (Keras 2 set-up first)
import tensorflow as tf
import tf_keras as keras

from tfbnn import data, deploy, models, training
from tfbnn.data.pipeline import SUBSET_SEED

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _report import clock, finish, parse, record, render_only  # noqa: E402

SECTION = "tflite_deploy"
MODELS = ("mnist_b64", "cifar_resnet18_wq", "cifar_resnet18_waq")
QUICK = {"epochs": 1, "n": 50, "rounds": 2, "invocations": 5, "train_size": 2048}


def build(name: str, args) -> tuple[keras.Model, str, np.ndarray, np.ndarray, str]:
    """``(model, how it was made, x_test, y_test, data title)``: ``args.n`` test images,
    the first ones, or a seeded draw from a split ordered by class (the CIFAR-10 stand-in's
    first 1,000 test images are all airplanes; `tfbnn.data.first_examples`)."""
    keras.utils.set_random_seed(args.seed)
    if name == "mnist_b64":
        (x, y), (x_test, y_test) = data.load_mnist()
        x, y = x[:args.train_size], y[:args.train_size]
        model = models.cleverhans_cnn("B", k1=64)
        training.compile_model(model)
        model.fit(x, y, epochs=args.epochs, batch_size=128, verbose=0)
        how = (f"CleverHans CNN B, k1 = 64, passthrough estimator, trained {args.epochs} "
               f"epoch(s) on {len(x):,} MNIST training images (Adam 1e-3, batch 128)")
        return model, how, x_test[:args.n], y_test[:args.n], "MNIST"
    precision = name.rsplit("_", 1)[1]
    (x, y), (x_test, y_test) = data.load_cifar10()
    x_test, y_test, drawn = data.first_examples(x_test, y_test, args.n)
    model = models.resnet18(precision, "bc" if precision == "wq" else None, width=0.25)
    training.recalibrate_batch_norm(model, data.first_examples(x, y, 2000)[0])
    label = "BNN-WQ (BC)" if precision == "wq" else "BNN-WAQ"
    how = (f"ResNet-18 {label}, width 0.25, untrained (Glorot-uniform weights, seed "
           f"{args.seed}); batch-norm statistics measured on 2,000 training images")
    title = data.cifar10_title() + (f" ({args.n:,} drawn with seed {SUBSET_SEED}: the "
                                     "split is ordered by class)" if drawn else "")
    return model, how, x_test, y_test, title


def latency(files: dict[str, bytes], image: np.ndarray, rounds: int, invocations: int) -> dict:
    """Interleaved single-thread latency (s) of each flatbuffer in LCE's interpreter."""
    lce = deploy.require_lce()
    interpreters = {k: lce.testing.Interpreter(b, num_threads=1) for k, b in files.items()}
    for it in interpreters.values():  # warm-up
        for _ in range(3):
            it.predict(image)
    per_round = {k: [] for k in files}
    order = list(files)
    for r in range(rounds):
        for key in (order if r % 2 == 0 else order[::-1]):
            times = []
            for _ in range(invocations):
                started = time.perf_counter()
                interpreters[key].predict(image)
                times.append(time.perf_counter() - started)
            per_round[key].append(statistics.median(times))
    return per_round


def bench_model(name: str, args) -> dict:
    print(f"[{name}] building", file=sys.stderr, flush=True)
    model, how, x_test, y_test, title = build(name, args)
    rewritten = deploy.lce_equivalent(model)
    float_file = tf.lite.TFLiteConverter.from_keras_model(rewritten).convert()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{name}.tflite"
        report = deploy.export_tflite(model, path, x_check=x_test, y_check=y_test)
        lce_file = path.read_bytes()
    print(f"[{name}] check {report['check']}", file=sys.stderr, flush=True)
    rounds = latency({"float": float_file, "lce": lce_file}, x_test[:1], args.rounds,
                     args.invocations)
    ratios = [f / b for f, b in zip(rounds["float"], rounds["lce"])]
    return {
        "name": name, "model": how, "data": title, "parameters": int(model.count_params()),
        "bytes": {"float": len(float_file), "lce": len(lce_file)},
        "size_ratio": len(float_file) / len(lce_file),
        "ops_float": deploy.tflite_ops(float_file), "ops_lce": report["ops"],
        "convolutions": report["convolutions"], "dense": report["dense"],
        "float_layers_why": sorted({r["why"] for r in report["layers"] if r["kind"] == "float"}),
        "latency_s": rounds,
        "median_latency_ms": {k: 1e3 * statistics.median(v) for k, v in rounds.items()},
        "round_ratios": ratios, "latency_ratio": statistics.median(ratios),
        "check": report["check"],
    }


def render(results: dict) -> str:
    """The docs section, from the results alone."""
    cfg, machine = results["config"], results["machine"]
    lines = [
        "## 1-bit TFLite (Larq Compute Engine)", "",
        f"Command: `{results['command']}`", "",
        f"Machine: {machine['cpu']} ({machine['machine']}), {machine['cpus_usable']} CPU cores; "
        + ", ".join(f"{k} {v}" for k, v in results["versions"].items())
        + f"; {results['date']}; total {results['runtime_s'] / 60:.1f} min.", "",
        "One graph per model (`tfbnn.deploy.lce_equivalent`) converted by TensorFlow's "
        "converter (float TFLite) and by LCE (`tfbnn.deploy.export_tflite`). Size ratio = "
        "float bytes / LCE bytes. Latency: LCE's interpreter, one thread, batch 1, "
        f"{cfg['rounds']} interleaved rounds of {cfg['invocations']} calls each (median per "
        "round); ratio = float / LCE within a round, median and range over rounds (> 1: "
        f"1-bit faster). Agreement: the 1-bit file's logits against Keras on "
        f"{cfg['n']:,} real test images (the first, unless the model's line below says "
        "they were drawn).", "",
        "| model | convolutions binary / float | size float -> 1-bit | size ratio "
        "| latency float / 1-bit (ms) | latency ratio (range) | max abs logit diff "
        "| argmax agreement |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for m in results["models"]:
        ms, rr, check = m["median_latency_ms"], m["round_ratios"], m["check"]
        conv = f"{m['convolutions']['binary']} / {m['convolutions']['float']}"
        if m["dense"]["binary"]:
            conv += f" (+ {m['dense']['binary']} binary dense)"
        lines.append(
            f"| {m['name']} | {conv} | {m['bytes']['float'] / 1024:,.0f} KB -> "
            f"{m['bytes']['lce'] / 1024:,.0f} KB | {m['size_ratio']:.1f}x "
            f"| {ms['float']:.2f} / {ms['lce']:.2f} | {m['latency_ratio']:.2f}x "
            f"({min(rr):.2f} to {max(rr):.2f}) | {check['max_abs_diff']:.2g} "
            f"(of {check['max_abs_logit']:.3g}) | {check['argmax_agreement']:.1%} of "
            f"{check['n']:,} |")
    lines += ["", "How each model was made, and why its float layers are float:", ""]
    for m in results["models"]:
        why = "; ".join(m["float_layers_why"]) or "none"
        lines.append(f"- {m['name']}: {m['model']}; test images: {m['data']}; accuracy "
                     f"Keras {m['check']['accuracy_keras']:.1%}, 1-bit "
                     f"{m['check']['accuracy_tflite']:.1%}. Float layers: {why}.")
    lines += ["", results["note"], ""]
    return "\n".join(lines)


NOTE = (
    "What the numbers mean: the sizes are exact and hold on any device. On this x86 "
    "machine LCE's binary kernels are its portable C++ code, not the ARM NEON kernels it is "
    "built for, while TFLite's float kernels are optimised for x86: the latency ratios are "
    "a measurement of a phone or a Raspberry Pi, where LCE's optimised kernels run. "
    "BNN-WQ keeps float activations, and LCE has binary ops only for binary inputs and "
    "weights, so its convolutions stay float32 and its file is as large as the float one; "
    "BNN-WAQ and the CleverHans B are where 1-bit deployment pays. The first convolution "
    "(float inputs) and any layer with float inputs stay float in every model.")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--epochs", type=int, default=1, help="MNIST B training epochs")
    parser.add_argument("--train-size", type=int, default=60000,
                        help="MNIST training images")
    parser.add_argument("--n", type=int, default=1000, help="test images compared")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved latency rounds")
    parser.add_argument("--invocations", type=int, default=30, help="calls per round")
    parser.add_argument("--seed", type=int, default=0)
    return parse(parser, argv, SECTION, QUICK)


def main(argv=None) -> dict:
    args = parse_args(argv)
    if (rendered := render_only(SECTION, args, render)) is not None:
        return rendered
    elapsed = clock()
    results = {
        **record(__file__, argv, args, extra_modules=("larq_compute_engine",)),
        "models": [bench_model(name, args) for name in args.models], "note": NOTE,
    }
    return finish(SECTION, {**results, **elapsed()}, args, render)


if __name__ == "__main__":
    main()
