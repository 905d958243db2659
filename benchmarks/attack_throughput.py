"""Attack throughput: tfbnn's FGSM, FGSM++, PGD and PGD++ against peer libraries and
against the bare limit, all on one binary (B) MNIST model in one process.

Every method attacks the same ``--n`` MNIST test images in batches of ``--batch``, at
the same L-inf ``--eps``, step ``--step`` and ``--iters`` iterations (one random start
where the method has one):

- ``limit``: ``--iters`` calls of one compiled (``tf.function``) forward+backward pass
  of the cross-entropy with respect to the input: what any PGD must at least spend;
- ``tfbnn`` FGSM, FGSM++ (NJS, HNS), PGD, PGD++ (NJS, HNS);
- CleverHans 4's ``projected_gradient_descent`` as shipped (eager Python loop);
- ART's ``ProjectedGradientDescent`` on a ``TensorFlowV2Classifier``;
- foolbox 3's ``LinfPGD`` on a ``TensorFlowModel``.

ART and foolbox are optional (``pip install -e ".[bench]"``); a missing one is
reported as skipped. Each method is warmed up once on one batch (tracing), then the
methods are timed in a rotating order over ``--repeats`` rounds and the median is
reported, to be fair to drift on a shared machine. Accuracy under each attack is
reported too, as a check that the methods do comparable work (FGSM is one step).

The model is a B (binary) CleverHans CNN at ``--k1`` trained ``--train-epochs`` on
MNIST (``--model PATH`` loads a saved ``.keras`` model instead); throughput does not
depend on how well it is trained.

Run (from the repository root; about 5-10 minutes on 2 CPU cores)::

    python benchmarks/attack_throughput.py --write-docs

The results, with the command, go to ``benchmarks/results/attack_throughput.json``
(``--json PATH`` elsewhere); ``--write-docs`` replaces this benchmark's section of
``docs/benchmarks.md`` with those results rendered, and
``--render-only --write-docs`` does so again from the file without running anything.
``--quick`` is a smoke run (k1=16, 256 images, 5 iterations, 1 round) that writes no
results file unless given ``--json``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
import time
import warnings

import numpy as np

import tfbnn  # noqa: F401  (first: Keras 2 for Larq)
import tensorflow as tf
import tf_keras as keras

from tfbnn import attacks, data, export, models, temperature, training

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _report import (  # noqa: E402
    command, finish, machine_line, parse, render_only, require_positive, settings)

SECTION = "attack_throughput"
QUICK = {"k1": 16, "n": 256, "iters": 5, "repeats": 1, "train_epochs": 1}


def _model(args) -> keras.Model:
    if args.model:
        return keras.models.load_model(args.model, custom_objects=models.custom_objects())
    keras.utils.set_random_seed(args.seed)
    (x_train, y_train), _ = data.load_mnist()
    model = models.cleverhans_cnn("B", k1=args.k1)
    training.compile_model(model)
    model.fit(x_train, y_train, epochs=args.train_epochs, batch_size=128, verbose=0)
    return model


def _methods(model, x_samples, args) -> tuple[dict, float]:
    """name -> attack(x, y) -> x_adv, for one batch; peers that are missing are left out.

    NJS's beta_1 is estimated once per model on ``x_samples`` (the paper: 100 test
    images), as the paper does; its one-off time is returned beside the methods.
    """
    model_fn = lambda t: model(t, training=False)  # noqa: E731
    eps, step, k = args.eps, args.step, args.iters
    box = dict(clip_min=0.0, clip_max=1.0)

    @tf.function
    def grad_once(x, y):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=model_fn(x))
        return tape.gradient(loss, x)

    def limit(x, y):
        x, y = tf.constant(x), tf.constant(y)
        for _ in range(k):
            g = grad_once(x, y)
        return (x + 0.0 * g).numpy()

    started = time.perf_counter()
    beta1 = float(temperature.njs_beta1(model_fn, x_samples, M=100))
    njs_seconds = time.perf_counter() - started
    njs = dict(variant="njs", njs_beta1=beta1)
    hns = dict(variant="hns")
    pgd = dict(eps=eps, eps_iter=step, nb_iter=k, norm=np.inf, seed=args.seed, **box)
    methods = {
        "limit": limit,
        "tfbnn FGSM": lambda x, y: attacks.fast_gradient_method(
            model_fn, x, eps, np.inf, y=y, **box),
        "tfbnn FGSM++ NJS": lambda x, y: attacks.fgsm_plus_plus(
            model_fn, x, eps, np.inf, y=y, **njs, **box),
        "tfbnn FGSM++ HNS": lambda x, y: attacks.fgsm_plus_plus(
            model_fn, x, eps, np.inf, y=y, **hns, **box),
        "tfbnn PGD": lambda x, y: attacks.projected_gradient_descent(model_fn, x, y=y, **pgd),
        "tfbnn PGD++ NJS": lambda x, y: attacks.pgd_plus_plus(model_fn, x, y=y, **pgd, **njs),
        "tfbnn PGD++ HNS": lambda x, y: attacks.pgd_plus_plus(model_fn, x, y=y, **pgd, **hns),
    }
    from cleverhans.tf2.attacks.projected_gradient_descent import projected_gradient_descent

    methods["CleverHans 4 PGD"] = lambda x, y: projected_gradient_descent(
        model_fn, x, eps, step, k, np.inf, y=y, rand_init=True, **box)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from art.attacks.evasion import ProjectedGradientDescent
            from art.estimators.classification import TensorFlowV2Classifier
        classifier = TensorFlowV2Classifier(
            model, nb_classes=10, input_shape=(28, 28, 1), clip_values=(0.0, 1.0),
            loss_object=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        art_pgd = ProjectedGradientDescent(classifier, norm=np.inf, eps=eps, eps_step=step,
                                           max_iter=k, num_random_init=1,
                                           batch_size=args.batch, verbose=False)
        methods["ART PGD"] = lambda x, y: art_pgd.generate(x, np.eye(10, dtype=np.float32)[y])
    except ImportError:
        print("ART not installed: skipped (pip install -e '.[bench]')", file=sys.stderr)
    try:
        import foolbox as fb

        fmodel = fb.TensorFlowModel(model_fn, bounds=(0.0, 1.0))
        fb_pgd = fb.attacks.LinfPGD(abs_stepsize=step, steps=k, random_start=True)
        methods["foolbox 3 PGD"] = lambda x, y: fb_pgd(
            fmodel, tf.constant(x), tf.constant(y), epsilons=eps)[1]
    except ImportError:
        print("foolbox not installed: skipped (pip install -e '.[bench]')", file=sys.stderr)
    return methods, njs_seconds


def _run(method, x, y, batch) -> tuple[float, np.ndarray]:
    started = time.perf_counter()
    adv = [np.asarray(method(x[i:i + batch], y[i:i + batch])) for i in range(0, len(x), batch)]
    return time.perf_counter() - started, np.concatenate(adv)


def benchmark(args) -> dict:
    model = _model(args)
    _, (x_test, y_test) = data.load_mnist()
    x, y = np.array(x_test[: args.n]), np.array(y_test[: args.n]).astype(np.int64)
    model_fn = lambda t: model(t, training=False)  # noqa: E731
    clean = float(np.mean(export.predict_in_batches(model_fn, x).argmax(-1) == y))
    methods, njs_seconds = _methods(model, x[:100], args)
    for name, method in methods.items():  # warm-up: tracing, allocator
        method(x[: args.batch], y[: args.batch])
    times = {name: [] for name in methods}
    accuracy = {}
    names = list(methods)
    for r in range(args.repeats):
        for name in names[r % len(names):] + names[: r % len(names)]:
            seconds, adv = _run(methods[name], x, y, args.batch)
            times[name].append(seconds)
            if name != "limit":
                accuracy[name] = float(np.mean(
                    export.predict_in_batches(model_fn, adv).argmax(-1) == y))
            print(f"round {r + 1}: {name:18s} {seconds:7.2f} s", flush=True)
    median = {name: statistics.median(t) for name, t in times.items()}
    return {
        "config": settings(args), "clean_accuracy": clean, "seconds": times, "median_s": median,
        "examples_per_s": {name: args.n / s for name, s in median.items()},
        "accuracy_under_attack": accuracy, "njs_beta1_seconds": njs_seconds,
    }


def render(result: dict) -> str:
    """The docs section, from the results alone."""
    cfg, med = result["config"], result["median_s"]
    pgd, limit = med["tfbnn PGD"], med["limit"]
    peers = {n: s for n, s in med.items() if not n.startswith(("tfbnn", "limit"))}
    source = (f"loaded from {cfg['model']}" if cfg["model"]
              else f"trained {cfg['train_epochs']} epoch(s) on MNIST, seed {cfg['seed']}")
    lines = [
        "## Attack throughput",
        "",
        f"Command: `{result['command']}`",
        "",
        f"{result['machine']}; {result['date']}. B model (binary), k1={cfg['k1']}, "
        f"{source}; "
        f"{cfg['n']} MNIST test images, batch {cfg['batch']}, L-inf eps {cfg['eps']}, "
        f"step {cfg['step']}, {cfg['iters']} iterations; median of {cfg['repeats']} rotating "
        f"rounds after one warm-up batch per method. "
        f"Clean accuracy {result['clean_accuracy']:.3f}.",
        "",
        "| method | examples/s | time / limit | time / tfbnn PGD | accuracy under attack |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, seconds in med.items():
        acc = result["accuracy_under_attack"].get(name)
        lines.append(f"| {name} | {cfg['n'] / seconds:,.0f} | {seconds / limit:.2f} "
                     f"| {seconds / pgd:.2f} | {'' if acc is None else f'{acc:.3f}'} |")
    lines += ["", f"NJS's beta_1, estimated once per model on 100 test images (10 backward "
              f"passes) before the NJS runs: {result['njs_beta1_seconds']:.2f} s, not included "
              f"above."]
    fastest_peer = min(peers.values()) if peers else float("nan")
    checks = [
        ("tfbnn PGD at least as fast as the fastest peer", pgd <= fastest_peer,
         f"{pgd:.2f} s vs {fastest_peer:.2f} s"),
        ("tfbnn PGD within 1.10x of the limit", pgd <= 1.10 * limit, f"{pgd / limit:.2f}x"),
        ("PGD++ NJS within 1.05x of PGD", med["tfbnn PGD++ NJS"] <= 1.05 * pgd,
         f"{med['tfbnn PGD++ NJS'] / pgd:.2f}x"),
        ("PGD++ HNS within 1.5x of PGD", med["tfbnn PGD++ HNS"] <= 1.5 * pgd,
         f"{med['tfbnn PGD++ HNS'] / pgd:.2f}x"),
    ]
    lines += ["", "| target | met | measured |", "|---|---|---|"]
    lines += [f"| {name} | {'yes' if ok else 'no'} | {value} |" for name, ok, value in checks]
    return "\n".join(lines) + "\n"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--k1", type=int, default=64)
    parser.add_argument("--n", type=int, default=1000, help="test images attacked")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--eps", type=float, default=0.3)
    parser.add_argument("--step", type=float, default=0.01)
    parser.add_argument("--iters", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--train-epochs", type=int, default=1)
    parser.add_argument("--model", default=None, help="a saved .keras B model to load instead")
    parser.add_argument("--seed", type=int, default=0)
    args = parse(parser, argv, SECTION, QUICK)
    require_positive(parser, args, "k1", "n", "batch", "iters", "repeats", "train_epochs")
    if not 0 < args.eps <= 1 or not 0 < args.step <= args.eps:
        parser.error(f"need 0 < --step <= --eps <= 1, got eps={args.eps}, step={args.step}")
    if args.n > 10000:
        parser.error(f"--n {args.n} is larger than the 10000 MNIST test images")
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    if (rendered := render_only(SECTION, args, render)) is not None:
        return rendered
    started = time.time()
    result = benchmark(args)
    # The header predates `record`: its own keys, which the committed file renders from.
    result["machine"] = machine_line()
    result["date"] = datetime.date.today().isoformat()
    result["runtime_s"] = time.time() - started
    result["command"] = command(__file__, argv)
    return finish(SECTION, result, args, render)


if __name__ == "__main__":
    main()
