"""The ``tfbnn`` command line: ``tfbnn demo``, ``tfbnn evaluate``, ``tfbnn attack``,
``tfbnn certify``, ``tfbnn export``.

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
    _add_certify(sub)
    _add_export(sub)
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
                        help="evaluate the first N test examples (default: 1000); from a split "
                             "ordered by class, N drawn with seed 0 instead")
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
    parser.add_argument("--strategy", choices=("default", "mirrored", "multiworker"),
                        default=None,
                        help="spread the batches over this machine's GPUs (else its logical "
                             "CPUs: mirrored) or over the workers of TF_CONFIG, merged "
                             "through --out (multiworker: one command per worker); "
                             "--batch-size is then per replica, and the results are those "
                             "of a single-device run (docs/distributed.md)")
    parser.add_argument("--no-diagnostics", action="store_true", help="skip the masking checks")
    parser.add_argument("--diagnostic-n", type=_positive_int, default=200,
                        help="examples the diagnostics run on (default: 200)")
    parser.add_argument("--strict", action="store_true",
                        help="exit with code 3 when a diagnostic warns of gradient masking")
    parser.add_argument("--certify", action="store_true",
                        help="also verify exactly (OR-Tools CP-SAT) every example the attacks "
                             "leave robust, and report per eps the certified lower bound, the "
                             "attack upper bound (counterexamples included), the gap and the "
                             "unknown fraction; MODEL must be the .keras/.h5 file of a BNN "
                             "that tfbnn certify supports (checked before any attack runs)")
    parser.add_argument("--certify-time-limit", type=_positive_float, default=10.0,
                        metavar="SECONDS", help="--certify: CP-SAT seconds per example "
                                                "(default: 10)")
    parser.add_argument("--certify-workers", type=_positive_int, default=1,
                        help="--certify: CP-SAT workers per example (default: 1)")
    parser.add_argument("--certify-jobs", type=_positive_int, default=1,
                        help="--certify: examples solved at the same time (default: 1)")
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


def _add_certify(sub) -> None:
    parser = sub.add_parser(
        "certify", help="exact robustness of a small BNN (CP-SAT): a certified lower bound",
        description=(
            "Decide for each of the first --n examples whether some input in the L-inf ball "
            "of radius --eps is misclassified: certified (none is: a lower bound on robust "
            "accuracy), counterexample (one is, replayed through the Keras model) or unknown "
            "(the time limit ran out). MODEL must be a supported BNN: an InputQuantizer onto "
            "the 8-bit grid, binary weights in every layer, batch norm, sign activations "
            "(tfbnn.models.binary_mlp, tfbnn.models.conv_small); another model is refused "
            "naming its first unsupported layer. PGD runs first and only what it leaves "
            "robust goes to the solver. Needs OR-Tools: pip install -e \".[verify]\"."),
        epilog=("example: tfbnn certify mlp.keras --data mnist --eps 0.02 0.1 --n 20 "
                "--time-limit 20 --workers 2 --out certify.json. Exit codes: 0 finished; 2 "
                "bad arguments, input or an unsupported model, found before any solving; 1 "
                "any other failure."),
    )
    parser.add_argument("model", metavar="MODEL",
                        help="a .keras or .h5 file of the model (its layers are read)")
    parser.add_argument("--data", default="mnist",
                        help=f"one of {', '.join(DATASETS)} (test split), or an .npz file with "
                             "x_test/y_test (or x/y), values in [0, 1] (default: mnist)")
    parser.add_argument("--n", type=_positive_int, default=20,
                        help="verify the first N test examples (default: 20); from a split "
                             "ordered by class, N drawn with seed 0 instead")
    parser.add_argument("--eps", type=float, nargs="+", default=[0.1],
                        help="one or more L-inf radii in [0, 1] (default: 0.1)")
    parser.add_argument("--time-limit", type=float, default=10.0,
                        help="CP-SAT seconds per example (default: 10)")
    parser.add_argument("--workers", type=int, default=1,
                        help="CP-SAT workers per example (default: 1)")
    parser.add_argument("--jobs", type=int, default=1,
                        help="examples solved at the same time (default: 1)")
    parser.add_argument("--attack-steps", type=int, default=40,
                        help="PGD iterations before solving; 0: no attack (default: 40)")
    parser.add_argument("--no-fixing", action="store_true",
                        help="do not fix the neurons interval bounds decide (slower; for "
                             "comparison)")
    parser.add_argument("--no-hint", action="store_true",
                        help="do not hint the solver with the attack's point")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument("--out", type=Path, required=True, help="JSON file of the results")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    parser.set_defaults(func=_certify)


def _certify(args) -> int:
    import numpy as np

    out: Path = args.out
    if out.suffix != ".json":
        raise ValueError(f"--out {str(out)!r} must be a .json file, e.g. --out certify.json.")
    if not out.parent.is_dir():
        raise ValueError(f"--out {str(out)!r}: the folder {str(out.parent)!r} does not exist; "
                         "create it first.")
    if out.exists() and not args.overwrite:
        raise ValueError(f"--out {str(out)!r} exists; pass --overwrite or choose another file.")
    for eps in args.eps:
        if not (np.isfinite(eps) and 0 <= eps <= 1):
            raise ValueError(f"--eps {eps:g} must be in [0, 1] for inputs in [0, 1]; for a "
                             "radius in grey levels divide by 255 (e.g. --eps 0.02 for 5 "
                             "levels).")
    if len(set(args.eps)) != len(args.eps):
        raise ValueError(f"--eps holds a radius twice: {args.eps}; give each once.")
    if not (np.isfinite(args.time_limit) and args.time_limit > 0):
        raise ValueError(f"--time-limit {args.time_limit:g} must be a number of seconds > 0, "
                         "e.g. --time-limit 20.")
    for name, value, minimum in (("--workers", args.workers, 1), ("--jobs", args.jobs, 1),
                                 ("--attack-steps", args.attack_steps, 0)):
        if value < minimum:
            raise ValueError(f"{name} {value} must be an integer >= {minimum}.")
    try:
        import ortools  # noqa: F401
    except ImportError as err:
        raise ValueError("tfbnn certify needs OR-Tools, which is not installed: run "
                         "pip install -e \".[verify]\".") from err
    from tfbnn import io, verify
    from tfbnn.evaluation import certified

    model, _ = certified.load_model(args.model)  # refuses a missing or unreadable file
    x, y = _load_data(args.data, args.n)
    if tuple(model.input_shape[1:]) != tuple(x.shape[1:]):
        raise ValueError(f"The model takes inputs of shape {tuple(model.input_shape[1:])} but "
                         f"--data gives {tuple(x.shape[1:])}; choose the data set the model was "
                         "trained on.")
    if x.min() < 0 or x.max() > 1:
        raise ValueError(f"--data lies in [{x.min():g}, {x.max():g}]; certify needs inputs in "
                         "[0, 1] (pixels / 255).")
    network = verify.extract(model, check_inputs=x[:64])  # refuses unsupported models
    started = time.time()
    reports = []
    for eps in args.eps:
        report = verify.verify(network, x, y, eps, time_limit=args.time_limit,
                               workers=args.workers, jobs=args.jobs, fixing=not args.no_fixing,
                               hint=not args.no_hint, attack=args.attack_steps > 0,
                               attack_steps=max(args.attack_steps, 1), seed=args.seed)
        reports.append(report)
        s = report.summary()
        median = ("-" if s["solve_seconds_median"] is None
                  else f"{s['solve_seconds_median']:.2f} s")
        print(f"eps {eps:g}: certified {s['counts']['certified']}, counterexample "
              f"{s['counts']['counterexample']}, unknown {s['counts']['unknown']} of {s['n']} "
              f"(robust accuracy in [{s['robust_accuracy_lower']:.2%}, "
              f"{s['robust_accuracy_upper']:.2%}]; median solve {median})")
    result = {
        "schema": "tfbnn.certify/1", "model": str(args.model), "data": args.data,
        "n": len(x), "network": network.describe(), "seconds": round(time.time() - started, 2),
        "results": [r.to_json() for r in reports],
    }
    io.atomic_write_text(out, json.dumps(result, indent=2) + "\n")
    print(f"Results: {out}")
    return EXIT_OK


def _add_export(sub) -> None:
    parser = sub.add_parser(
        "export", help="export a Keras model as a 1-bit TFLite flatbuffer (Larq Compute Engine)",
        description=(
            "Convert MODEL (a .keras/.h5 file) with Larq Compute Engine so that every "
            "convolution with binary inputs and weights is a 1-bit LceBconv2d, check the "
            "flatbuffer's logits against the Keras model's on --n real test images, and say "
            "which convolutions stayed float and why. Needs pip install -e \".[deploy]\"."),
        epilog="example: tfbnn export b64.keras --tflite b64.tflite --data mnist --n 1000",
    )
    parser.add_argument("model", metavar="MODEL", type=Path,
                        help="a .keras or .h5 file (a SavedModel has lost the Larq layers "
                             "that the conversion rewrites)")
    parser.add_argument("--tflite", type=Path, required=True, metavar="OUT",
                        help="the .tflite file to write")
    parser.add_argument("--data", default=None,
                        help=f"test images for the check: one of {', '.join(DATASETS)} or an "
                             ".npz with x_test/y_test (default: mnist for 28x28x1 inputs, "
                             "cifar10 for 32x32x3)")
    parser.add_argument("--n", type=_positive_int, default=1000,
                        help="test images compared (default: 1000)")
    parser.add_argument("--stochastic", choices=("mean", "draw"), default=None,
                        help="for a stochastic model (S): export its mean network or one "
                             "fixed draw of its signs (LCE has no random ops)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of --stochastic draw (default: 0)")
    parser.add_argument("--report", type=Path, default=None,
                        help="also write the conversion report to this .json file")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing OUT")
    parser.set_defaults(func=_export)


def _export(args) -> int:
    if args.tflite.suffix != ".tflite":
        raise ValueError(f"--tflite {str(args.tflite)!r} must end in .tflite.")
    if args.tflite.exists() and not args.overwrite:
        raise FileExistsError(f"--tflite {str(args.tflite)!r} exists; pass --overwrite or "
                              "choose another path.")
    if args.report is not None and args.report.suffix != ".json":
        raise ValueError(f"--report {str(args.report)!r} must end in .json.")
    if args.model.is_dir() or args.model.suffix not in (".keras", ".h5"):
        raise ValueError(f"MODEL {str(args.model)!r} must be a .keras or .h5 file; a SavedModel "
                         "keeps only TensorFlow ops, not the Larq layers the conversion "
                         "rewrites. Save the model with tfbnn.export.save_model(model, "
                         "'model.keras').")
    if not args.model.is_file():
        raise FileNotFoundError(f"MODEL {str(args.model)!r} does not exist.")
    from tfbnn import deploy

    deploy.require_lce()
    import tf_keras as keras

    from tfbnn import models

    try:
        model = keras.models.load_model(args.model, custom_objects=models.custom_objects(),
                                        compile=False)
    except Exception as err:  # noqa: BLE001 - Keras raises many kinds for a bad file
        raise ValueError(f"MODEL {str(args.model)!r} could not be loaded as a Keras model "
                         f"({type(err).__name__}: {err}).") from err
    if args.stochastic is not None:
        model = deploy.freeze_stochastic(model, args.stochastic, seed=args.seed)
    shape = tuple(model.input_shape[1:])
    name = args.data or {(28, 28, 1): "mnist", (32, 32, 3): "cifar10"}.get(shape)
    if name is None:
        raise ValueError(f"--data is needed: the model takes inputs of shape {shape}, neither "
                         "MNIST's (28, 28, 1) nor CIFAR's (32, 32, 3).")
    x, y = _load_data(name, args.n)
    _check_shape({"input_shape": list(shape)}, x)
    report = deploy.export_tflite(model, args.tflite, x_check=x, y_check=y,
                                  overwrite=args.overwrite)
    report["data"] = name
    check = report["check"]
    print(f"wrote {args.tflite} ({report['bytes']:,} bytes)")
    print(f"convolutions: {report['convolutions']['binary']} binary (LceBconv2d), "
          f"{report['convolutions']['float']} float; dense: {report['dense']['binary']} binary, "
          f"{report['dense']['float']} float")
    for row in report["layers"]:
        print(f"  {row['layer']}: {row['kind']} ({row['why']})")
    print(f"check on {check['n']} {name} test images: max |logit difference| "
          f"{check['max_abs_diff']:.3g} (largest |logit| {check['max_abs_logit']:.3g}), argmax "
          f"agreement {check['argmax_agreement']:.2%}, accuracy Keras "
          f"{check['accuracy_keras']:.2%}, TFLite {check['accuracy_tflite']:.2%}")
    if args.report is not None:
        from tfbnn.io import atomic_write_text

        atomic_write_text(args.report, json.dumps(report, indent=2) + "\n")
        print(f"report: {args.report}")
    return EXIT_OK


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
        return _first(x, y, min(10000, len(x)), name)
    if n > len(x):
        raise ValueError(f"--n {n} is larger than the {len(x)} examples of --data {name}.")
    return _first(x, y, n, name)


def _first(x, y, n: int, name: str):
    """`tfbnn.data.first_examples`, with a note on stderr when it drew the examples."""
    from tfbnn import data

    x, y, drawn = data.first_examples(x, y, n)
    if drawn:
        print(f"note: --data {name} is ordered by class; using {n} examples drawn with seed "
              f"{data.pipeline.SUBSET_SEED} instead of the first {n}.", file=sys.stderr)
    return x, y


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
    certify = None
    if args.certify:  # the verifier reads the Keras layers: load the model itself
        from tfbnn.evaluation import certified

        model_fn, metadata = certified.load_model(args.model)
        certify = {"time_limit": args.certify_time_limit, "workers": args.certify_workers,
                   "jobs": args.certify_jobs}
    else:
        model_fn, metadata = evaluation.load_model(args.model)
    _check_shape(metadata, x)
    surrogate = None if args.no_diagnostics else _load_data(args.data, 0, train=True)
    box = _box(args, metadata)
    report = evaluation.evaluate(
        model_fn, x, y, eps=args.eps, norm=args.norm, version=args.version,
        attacks=args.attacks,
        nb_iter=args.nb_iter, batch_size=args.batch_size, mode=args.mode, seed=args.seed,
        out_dir=args.out, overwrite=args.overwrite, eot_draws=args.eot_draws,
        strategy=args.strategy,
        run_diagnostics=not args.no_diagnostics, diagnostic_n=args.diagnostic_n,
        x_surrogate=None if surrogate is None else surrogate[0], outputs=args.outputs,
        progress=not args.quiet, model_name=str(args.model), certify=certify, **box)
    from tfbnn.evaluation.report import budgets, interval

    print(f"\nversion {report['config']['version']}: {budgets(report)}")
    print(f"{report['n']} examples of {args.data}, clean accuracy "
          f"{report['clean_accuracy']:.4f} (95 % interval {interval(report['clean_interval'])})")
    for result in report["results"]:
        print(f"eps {result['eps']:g} ({result['norm']}): robust accuracy (worst case) "
              f"{result['robust_accuracy']:.4f} (95 % interval "
              f"{interval(result['robust_interval'])})")
        c = result.get("certification")
        if c is not None:
            print(f"  exact (CP-SAT): certified lower bound {c['lower']:.4f}, attack upper "
                  f"bound {c['upper']:.4f} (attacks alone {c['ensemble_upper']:.4f}), gap "
                  f"{c['gap']:.4f}, unknown {c['unknown_fraction']:.4f}; "
                  f"{c['counterexamples']} counterexample(s), {c['solver_runs']} solver "
                  "run(s)" + ("" if c["solve_seconds_median"] is None else
                              f", median {c['solve_seconds_median']:.2f} s"))
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
    except (ValueError, FileNotFoundError, FileExistsError, ImportError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
