"""The ``tfbnn`` command line: ``tfbnn demo`` and ``tfbnn train``.

Exit codes: 0 success, 2 bad arguments or input (the message says what to fix),
1 any other failure.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


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
        help="train a small binary (B) model on MNIST, attack it, export it",
        description=(
            "Train a small binary CleverHans CNN (variant B) on real MNIST, report clean, "
            "FGSM and PGD accuracy on test images, and export a SavedModel. About 2-5 "
            "minutes on 2 CPU cores with the defaults."
        ),
    )
    demo.add_argument("--out", type=Path, default=Path("tfbnn_runs/demo"),
                      help="output directory (default: tfbnn_runs/demo)")
    demo.add_argument("--variant", default="B", choices=["A", "B", "C", "S"],
                      help="model variant (default: B)")
    demo.add_argument("--k1", type=_positive_int, default=32,
                      help="kernels in the first layer (default: 32)")
    demo.add_argument("--epochs", type=_positive_int, default=2, help="training epochs (default: 2)")
    demo.add_argument("--train-size", type=_positive_int, default=60000,
                      help="training images used (default: all 60000)")
    demo.add_argument("--n", type=_positive_int, default=1000,
                      help="test images attacked (default: 1000)")
    demo.add_argument("--eps", type=_eps, default=0.1, help="L-inf attack radius (default: 0.1)")
    demo.add_argument("--pgd-iter", type=_positive_int, default=20,
                      help="PGD iterations (default: 20)")
    demo.add_argument("--seed", type=int, default=1234, help="random seed (default: 1234, as the paper)")
    demo.add_argument("--overwrite", action="store_true", help="replace an earlier demo's outputs")
    demo.add_argument("--quiet", action="store_true", help="no progress bars")
    demo.set_defaults(func=_demo)
    return parser


def _demo(args) -> int:
    import numpy as np
    import tensorflow as tf

    import tfbnn
    from tfbnn import attacks, data, export, models, training

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
    model.fit(x_train, y_train, epochs=args.epochs, batch_size=128,
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
        for i in range(0, args.n, 250):
            adv.append(np.asarray(attack(x_eval[i : i + 250], y_eval[i : i + 250])))
            if bar is not None:
                bar.add(len(adv[-1]))
        return np.concatenate(adv)

    clean_acc = accuracy(x_eval)
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
    result = {
        "variant": args.variant,
        "k1": args.k1,
        "epochs": args.epochs,
        "train_size": len(x_train),
        "n_test": args.n,
        "seed": args.seed,
        "train_seconds": round(train_seconds, 1),
        "accuracy": {name: acc for name, acc in rows},
        "saved_model": str(saved_model),
        "note": "FGSM/PGD accuracies are upper bounds on robust accuracy from single attacks.",
    }
    export.atomic_write_text(out / "demo.json", json.dumps(result, indent=2) + "\n")

    width = max(len(name) for name, _ in rows)
    print(f"\nMNIST, model {args.variant}{args.k1}, {args.n} test images")
    print(f"{'attack'.ljust(width)}  accuracy")
    for name, acc in rows:
        print(f"{name.ljust(width)}  {acc:8.2%}")
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
