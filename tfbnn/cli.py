"""The ``tfbnn`` command line: ``tfbnn demo``, ``tfbnn evaluate``, ``tfbnn attack``.

Exit codes: 0 success, 2 bad arguments or input (the message says what to fix),
1 any other failure, 3 (``evaluate --strict`` only) the evaluation finished but a
diagnostic warns of gradient masking.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import zipfile
import zlib
from pathlib import Path

from tfbnn.batching import batch_slices

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_MASKING = 0, 1, 2, 3
DATASETS = ("mnist", "cifar10", "cifar100")


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _eps(text: str) -> float:
    value = float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1] for inputs in [0, 1], got {text}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tfbnn",
        description="Binarized neural networks in Keras/Larq and robustness numbers about them.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser(
        "demo",
        help="train a small binary model on MNIST, evaluate its robustness, export it",
        description=(
            "Train a small binary CleverHans CNN (variant C: binary weights and activations "
            "with the first paper's learned scalar; Adam 1e-3, the last epoch at 1e-4) on "
            "real MNIST, report its clean accuracy "
            "on the 10,000 test images, FGSM and PGD on --n of them, then the main job: "
            "`tfbnn evaluate --version quick` on the same images (the worst case over an "
            "attack ensemble, with 95 % intervals and the cascade's masking check), and "
            "export a SavedModel. About 2-3 minutes on 2 CPU cores with the defaults. "
            "Variant B (no scalar) starts far off: the ReLU of its last binary convolution "
            "sums 1,600 products of +-1, so its first logits have a spread of about 28 and "
            "a cross-entropy near 44, and 4 epochs leave it near 89 %."
        ),
    )
    demo.add_argument("--out", type=Path, default=Path("tfbnn_runs/demo"),
                      help="output directory (default: tfbnn_runs/demo)")
    demo.add_argument("--variant", default="C", choices=["A", "B", "C", "S"],
                      help="model variant (default: C)")
    demo.add_argument("--k1", type=_positive_int, default=32,
                      help="kernels in the first layer (default: 32)")
    demo.add_argument("--epochs", type=_positive_int, default=5, help="training epochs (default: 5)")
    demo.add_argument("--train-size", type=_positive_int, default=60000,
                      help="training images used (default: all 60000)")
    demo.add_argument("--n", type=_positive_int, default=500,
                      help="test images attacked (default: 500)")
    demo.add_argument("--eps", type=_eps, default=0.1, help="L-inf attack radius (default: 0.1)")
    demo.add_argument("--pgd-iter", type=_positive_int, default=20,
                      help="PGD iterations (default: 20)")
    demo.add_argument("--version", default="quick", choices=["quick", "standard", "plus", "none"],
                      help="the evaluation run on the trained model (default: quick; none: "
                           "skip it)")
    demo.add_argument("--seed", type=int, default=1234, help="random seed (default: 1234, as the paper)")
    demo.add_argument("--overwrite", action="store_true", help="replace an earlier demo's outputs")
    demo.add_argument("--quiet", action="store_true", help="no progress bars")
    demo.set_defaults(func=_demo)
    _add_evaluate(sub)
    _add_attack(sub)
    return parser


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _add_data_args(parser, attack_choices=None) -> None:
    parser.add_argument("model", metavar="MODEL",
                        help="a SavedModel directory (e.g. tfbnn_runs/demo/saved_model) or a "
                             ".keras/.h5 file; it must return logits (probabilities are "
                             "detected and their log taken)")
    if attack_choices:
        parser.add_argument("attack", metavar="ATTACK", choices=attack_choices,
                            help=f"one of {', '.join(attack_choices)}")
    parser.add_argument("--data", default="mnist",
                        help=f"one of {', '.join(DATASETS)} (test split), or an .npz file with "
                             "x_test/y_test (or x/y), values in [0, 1] (default: mnist)")
    parser.add_argument("--n", type=_positive_int, default=1000,
                        help="evaluate the first N test examples (default: 1000)")
    parser.add_argument("--norm", choices=("linf", "l2"), default="linf",
                        help="threat model (default: linf)")
    parser.add_argument("--nb-iter", type=_positive_int, default=None,
                        help="iterations per gradient attack (default: 100, or the version's)")
    parser.add_argument("--batch-size", type=_positive_int, default=250,
                        help="examples attacked at a time (default: 250)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument("--eot-draws", type=_positive_int, default=None,
                        help="forward passes averaged for stochastic models (default: 10; "
                             "evaluate --version plus: 20)")
    parser.add_argument("--clip-min", type=float, default=None,
                        help="smallest valid input value (default: the model's recorded range, "
                             "else 0)")
    parser.add_argument("--clip-max", type=float, default=None,
                        help="largest valid input value (default: the model's recorded range, "
                             "else 1)")
    parser.add_argument("--outputs", choices=("auto", "logits", "probabilities"), default="auto",
                        help="what the model returns; auto detects probabilities and takes "
                             "their log (default: auto)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _add_evaluate(sub) -> None:
    from tfbnn.evaluation.catalog import ATTACKS, DEFAULT_VERSION, VERSIONS

    listing = "; ".join(f"{name}: {spec.description}" for name, spec in ATTACKS.items())
    versions = "; ".join(f"{name}: " + ", ".join(stage.describe() for stage in stages)
                         for name, stages in VERSIONS.items())
    parser = sub.add_parser(
        "evaluate",
        help="worst-case robust accuracy over an attack ensemble, with masking diagnostics",
        description=(
            "Attack MODEL with an ensemble of attacks, each on the examples the ones before "
            "left robust, and report per eps the worst-case robust accuracy (an upper bound "
            "that none of the attacks beats), each attack's share, and gradient-masking "
            "diagnostics with PASS/WARN verdicts. Results are written per batch into --out, "
            "so a killed run started again with the same arguments resumes. "
            f"Versions: {versions}. Attacks: {listing}."),
        epilog=("example: tfbnn evaluate tfbnn_runs/demo/saved_model --data mnist --eps 0.1 0.3 "
                "--n 1000 --out tfbnn_runs/eval. Exit codes: 0 finished; 2 bad arguments or "
                "input, found before any attack runs; 1 any other failure; 3 finished but a "
                "diagnostic warns of gradient masking (--strict only). Report format: "
                "docs/evaluation.md."),
    )
    _add_data_args(parser)
    parser.add_argument("--eps", type=_positive_float, nargs="+", default=[0.1, 0.3],
                        help="one or more radii in input units (default: 0.1 0.3)")
    parser.add_argument("--version", choices=sorted(VERSIONS), default=None,
                        help=f"the attacks and budgets to run (default: {DEFAULT_VERSION}; "
                             "quick: cheap, CI-sized; plus: restarts and every target class)")
    parser.add_argument("--attacks", nargs="+", default=None, metavar="NAME",
                        help="instead of a version, these attacks in order, --nb-iter "
                             "iterations each")
    parser.add_argument("--mode", choices=("cascade", "standalone"), default="cascade",
                        help="cascade: attack only still-robust examples (default); "
                             "standalone: every attack on every example, for per-attack accuracy")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--overwrite", action="store_true",
                        help="delete another run's results in --out and start over")
    parser.add_argument("--no-diagnostics", action="store_true", help="skip the masking checks")
    parser.add_argument("--diagnostic-n", type=_positive_int, default=200,
                        help="examples the diagnostics run on (default: 200)")
    parser.add_argument("--strict", action="store_true",
                        help="exit with code 3 when a diagnostic warns of gradient masking")
    parser.set_defaults(func=_evaluate)


def _add_attack(sub) -> None:
    from tfbnn.evaluation.catalog import ATTACKS

    parser = sub.add_parser(
        "attack", help="run one attack and report accuracy under it",
        description="Run one attack of the catalog on MODEL and report clean accuracy and "
                    "accuracy under the attack; optionally save the adversarial examples.",
        epilog="example: tfbnn attack tfbnn_runs/demo/saved_model pgdpp_hns --eps 0.3 --n 500",
    )
    _add_data_args(parser, attack_choices=sorted(ATTACKS))
    parser.add_argument("--eps", type=_positive_float, default=0.3, help="radius (default: 0.3)")
    parser.add_argument("--save", type=Path, default=None,
                        help="write the adversarial examples to this .npz file")
    parser.set_defaults(func=_attack)


def _load_data(name: str, n: int, *, train: bool = False):
    """``(x, y)`` of the test split (or train split) of a named data set or an .npz file."""
    import numpy as np

    from tfbnn import data

    if name in DATASETS:
        loader = {"mnist": data.load_mnist, "cifar10": data.load_cifar10,
                  "cifar100": data.load_cifar100}[name]
        x, y = loader("train" if train else "test")
    else:
        path = Path(name)
        if path.suffix != ".npz" or not path.is_file():
            raise ValueError(f"--data {name!r} is neither one of {DATASETS} nor an existing .npz "
                             "file with x_test/y_test.")
        try:
            with np.load(path, allow_pickle=False) as archive:
                keys = ("x_train", "y_train") if train else ("x_test", "y_test")
                if not all(k in archive for k in keys):
                    keys = ("x", "y")
                if not all(k in archive for k in keys):
                    if train:
                        return None
                    raise ValueError(f"--data {name!r} holds {sorted(archive.files)}; it "
                                     "needs x_test and y_test (or x and y).")
                x, y = archive[keys[0]], archive[keys[1]]
        except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as err:
            raise ValueError(f"--data {name!r} cannot be read as an .npz file ({type(err).__name__}"
                             f": {err}); it is truncated or not an .npz. Write it again with "
                             "numpy.savez(path, x_test=..., y_test=...).") from err
        except ValueError as err:
            if str(err).startswith("--data"):
                raise
            raise ValueError(f"--data {name!r} cannot be read as an .npz of plain arrays "
                             f"({err}); it may be truncated or hold Python objects. Write it "
                             "again with numpy.savez(path, x_test=..., y_test=...).") from err
        if x.dtype == np.uint8:
            x = x.astype(np.float32) / 255.0
    x, y = np.asarray(x, np.float32), np.asarray(y).reshape(-1)
    if train:
        return x[:10000], y[:10000]
    if n > len(x):
        raise ValueError(f"--n {n} is larger than the {len(x)} examples of --data {name}.")
    return x[:n], y[:n]


def _check_shape(metadata: dict, x) -> None:
    shape = metadata.get("input_shape")
    if shape and list(shape) != list(x.shape[1:]):
        raise ValueError(f"The model takes inputs of shape {tuple(shape)} but --data gives "
                         f"{tuple(x.shape[1:])}; choose the data set the model was trained on.")


def _box(args, metadata: dict) -> dict:
    """The valid input range: --clip-min/--clip-max, else the model's recorded range, else [0, 1]."""
    low, high = metadata.get("value_range", (0.0, 1.0))
    low = low if args.clip_min is None else args.clip_min
    high = high if args.clip_max is None else args.clip_max
    if not low < high:
        raise ValueError(f"--clip-min {low} must be smaller than --clip-max {high}.")
    return {"clip_min": float(low), "clip_max": float(high)}


def _evaluate(args) -> int:
    from tfbnn import evaluation
    from tfbnn.evaluation import catalog

    if args.version is not None and args.attacks is not None:
        raise ValueError(f"--version {args.version} and --attacks {' '.join(args.attacks)}: pass "
                         "one of them (a version is a fixed list of attacks with budgets; "
                         "--attacks runs your own list at --nb-iter iterations).")
    _, stages = catalog.stages_of(args.version, args.attacks, args.nb_iter)
    catalog.check_attack_names([stage.attack for stage in stages], args.norm)
    x, y = _load_data(args.data, args.n)
    model_fn, metadata = evaluation.load_model(args.model)
    _check_shape(metadata, x)
    surrogate = None if args.no_diagnostics else _load_data(args.data, 0, train=True)
    box = _box(args, metadata)
    report = evaluation.evaluate(
        model_fn, x, y, eps=args.eps, norm=args.norm, version=args.version,
        attacks=args.attacks,
        nb_iter=args.nb_iter, batch_size=args.batch_size, mode=args.mode, seed=args.seed,
        out_dir=args.out, overwrite=args.overwrite, eot_draws=args.eot_draws,
        run_diagnostics=not args.no_diagnostics, diagnostic_n=args.diagnostic_n,
        x_surrogate=None if surrogate is None else surrogate[0], outputs=args.outputs,
        progress=not args.quiet, model_name=str(args.model), **box)
    from tfbnn.evaluation.report import budgets, interval

    print(f"\nversion {report['config']['version']}: {budgets(report)}")
    print(f"{report['n']} examples of {args.data}, clean accuracy "
          f"{report['clean_accuracy']:.4f} (95 % interval {interval(report['clean_interval'])})")
    for result in report["results"]:
        print(f"eps {result['eps']:g} ({result['norm']}): robust accuracy (worst case) "
              f"{result['robust_accuracy']:.4f} (95 % interval "
              f"{interval(result['robust_interval'])})")
    if "verdict" in report:
        print(report["verdict"])
    print(f"Report: {args.out / 'report.md'} (JSON: {args.out / 'report.json'})")
    warned = any(c["verdict"] == "WARN" for c in report.get("diagnostics", []))
    return EXIT_MASKING if args.strict and warned else EXIT_OK


def _attack(args) -> int:
    import numpy as np
    import tf_keras as keras

    from tfbnn import evaluation
    from tfbnn.evaluation import catalog

    catalog.check_attack_names([args.attack], args.norm)
    if args.save is not None and args.save.suffix != ".npz":
        raise ValueError(f"--save {str(args.save)!r} must end in .npz.")
    x, y = _load_data(args.data, args.n)
    model_fn, metadata = evaluation.load_model(args.model)
    _check_shape(metadata, x)
    box = _box(args, metadata)
    low, high = float(x.min()), float(x.max())
    if low < box["clip_min"] - 1e-6 or high > box["clip_max"] + 1e-6:
        raise ValueError(f"--data lies in [{low:g}, {high:g}], outside the model's input range "
                         f"[{box['clip_min']}, {box['clip_max']}]; rescale it or pass "
                         "--clip-min/--clip-max.")
    target = evaluation.prepare(model_fn, x[:8], eot_draws=args.eot_draws or 10,
                                outputs=args.outputs)
    spec = catalog.ATTACKS[args.attack]
    bar = None if args.quiet else keras.utils.Progbar(len(x), unit_name="example")
    adv = []
    for part in batch_slices(len(x), args.batch_size):
        adv.append(np.asarray(spec.run(target.attack_fn, x[part], y[part], args.eps, args.norm,
                                       args.nb_iter or 100, args.seed + part.start, box)))
        if bar is not None:
            bar.add(len(adv[-1]))
    adv = np.concatenate(adv)
    clean, attacked = target.scores(x, y).mean(), target.scores(adv, y).mean()
    print(f"{args.attack} eps {args.eps:g} ({args.norm}) on {len(x)} examples of {args.data}: "
          f"clean accuracy {clean:.4f}, under attack {attacked:.4f}"
          + (f" (mean over {target.draws} draws)" if target.stochastic else ""))
    if args.save is not None:
        import io

        from tfbnn.io import atomic_write_bytes

        buffer = io.BytesIO()
        np.savez_compressed(buffer, x_adv=adv, y=y)
        atomic_write_bytes(args.save, buffer.getvalue())
        print(f"Adversarial examples: {args.save}")
    return EXIT_OK


def _demo(args) -> int:
    import numpy as np
    import tensorflow as tf

    import tfbnn
    from tfbnn import attacks, data, export, io, models, training

    out: Path = args.out
    saved_model = out / "saved_model"
    if saved_model.exists() and not args.overwrite:
        print(
            f"error: {saved_model} exists from an earlier demo; pass --overwrite or choose "
            "another --out.",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if args.n > 10000:
        print(f"error: --n {args.n} is larger than the 10000 MNIST test images.", file=sys.stderr)
        return EXIT_USAGE
    out.mkdir(parents=True, exist_ok=True)
    tf.keras.utils.set_random_seed(args.seed)

    print(f"tfbnn {tfbnn.__version__}: demo, variant {args.variant}, k1={args.k1}, "
          f"{args.epochs} epoch(s), seed {args.seed}")
    (x_train, y_train), (x_test, y_test) = data.load_mnist()
    x_train, y_train = x_train[: args.train_size], y_train[: args.train_size]
    x_eval, y_eval = x_test[: args.n], y_test[: args.n]

    model = models.cleverhans_cnn(args.variant, k1=args.k1)
    training.compile_model(model)
    started = time.time()
    # The last epoch at a tenth of the learning rate: a binary network's test accuracy
    # swings by a point or more from epoch to epoch at 1e-3 (C32, seed 1234: 97.25 % after
    # 4 epochs, 95.95 % after 5); the smaller final steps settle it (98.01 % after 5).
    last = tf.keras.callbacks.LearningRateScheduler(
        lambda epoch, lr: 1e-4 if epoch == args.epochs - 1 and args.epochs > 1 else 1e-3)
    model.fit(x_train, y_train, epochs=args.epochs, batch_size=128, callbacks=[last],
              verbose=0 if args.quiet else 1)
    train_seconds = time.time() - started

    def model_fn(x):
        return model(x, training=False)

    def accuracy(x):
        logits = export.predict_in_batches(model_fn, x)
        return float(np.mean(np.argmax(logits, -1) == y_eval))

    def attacked(attack):
        attack = tf.function(attack)
        bar = None if args.quiet else tf.keras.utils.Progbar(args.n, unit_name="image")
        adv = []
        for part in batch_slices(args.n, 250):
            adv.append(np.asarray(attack(x_eval[part], y_eval[part])))
            if bar is not None:
                bar.add(len(adv[-1]))
        return np.concatenate(adv)

    clean_acc = accuracy(x_eval)
    full_logits = export.predict_in_batches(model_fn, x_test)
    test_acc = float(np.mean(np.argmax(full_logits, -1) == y_test))
    print(f"clean accuracy on all {len(x_test)} MNIST test images: {test_acc:.2%}")
    print(f"FGSM eps={args.eps} on {args.n} test images")
    x_fgsm = attacked(lambda x, y: attacks.fast_gradient_method(
        model_fn, x, args.eps, np.inf, clip_min=0.0, clip_max=1.0, y=y))
    print(f"PGD-{args.pgd_iter} eps={args.eps} on {args.n} test images")
    x_pgd = attacked(lambda x, y: attacks.projected_gradient_descent(
        model_fn, x, args.eps, args.eps / 4, args.pgd_iter, np.inf,
        clip_min=0.0, clip_max=1.0, y=y, seed=args.seed))
    rows = [
        ("clean", clean_acc),
        (f"FGSM eps={args.eps}", accuracy(x_fgsm)),
        (f"PGD-{args.pgd_iter} eps={args.eps} step={args.eps / 4:g}", accuracy(x_pgd)),
    ]

    export.export_saved_model(model, saved_model, overwrite=args.overwrite,
                              metadata={"variant": args.variant, "k1": args.k1})
    evaluation_summary = None
    if args.version != "none":
        from tfbnn import evaluation
        from tfbnn.evaluation.report import budgets

        print(f"\ntfbnn evaluate --version {args.version} on {args.n} test images, eps {args.eps}")
        started_eval = time.time()
        report = evaluation.evaluate(
            model_fn, x_eval, y_eval, eps=args.eps, version=args.version, seed=args.seed,
            out_dir=out / "evaluation", overwrite=True, run_diagnostics=False,
            progress=not args.quiet, model_name=f"demo {args.variant}{args.k1}")
        r = report["results"][0]
        evaluation_summary = {
            "version": args.version, "attacks": budgets(report), "eps": args.eps,
            "clean_accuracy": report["clean_accuracy"], "robust_accuracy": r["robust_accuracy"],
            "robust_interval": r["robust_interval"], "verdict": report["verdict"],
            "seconds": round(time.time() - started_eval, 1),
            "report": str(out / "evaluation" / "report.md")}
        rows.append((f"worst case, evaluate --version {args.version}", r["robust_accuracy"]))
    result = {
        "variant": args.variant,
        "k1": args.k1,
        "epochs": args.epochs,
        "train_size": len(x_train),
        "n_test": args.n,
        "seed": args.seed,
        "train_seconds": round(train_seconds, 1),
        "test_accuracy": test_acc,
        "accuracy": {name: acc for name, acc in rows},
        "evaluation": evaluation_summary,
        "saved_model": str(saved_model),
        "note": "FGSM/PGD accuracies are upper bounds on robust accuracy from single attacks; "
                "the evaluation's worst case over its ensemble is the tighter upper bound.",
    }
    io.atomic_write_text(out / "demo.json", json.dumps(result, indent=2) + "\n")

    width = max(len(name) for name, _ in rows)
    print(f"\nMNIST, model {args.variant}{args.k1} ({test_acc:.2%} on all {len(x_test)} test "
          f"images), {args.n} test images attacked at eps {args.eps}")
    print(f"{'attack'.ljust(width)}  accuracy")
    for name, acc in rows:
        print(f"{name.ljust(width)}  {acc:8.2%}")
    if evaluation_summary:
        low, high = evaluation_summary["robust_interval"]
        print(f"\nWorst case over {evaluation_summary['attacks']}: "
              f"{evaluation_summary['robust_accuracy']:.2%} (95 % interval {low:.2%} to "
              f"{high:.2%}). {evaluation_summary['verdict']}")
        print(f"Report: {evaluation_summary['report']}")
    print(f"\nSavedModel: {saved_model}\nResults:    {out / 'demo.json'}")
    return EXIT_OK


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError, FileExistsError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
