"""Clean MNIST test error of the paper's A, B, C and S models (Table 6, clean rows).

Mirrors: Galloway, Taylor, Moussa, "Attacking Binarized Neural Networks" (ICLR 2018),
Table 6 (A, B, C without adversarial training) and the S model of section 3 (which
Table 6 does not list; the paper only says S "trains more slowly").

Default config: k1 = 64, the paper's 15 epochs, Adam 1e-3, batch 128, one run per
model, the full 10,000 test images; about 5-6 minutes per clean model on 2 CPU cores.
The S model is scored as the mean accuracy over 10 draws of its stochastic weights.
The "+" rows are PGD-trained at eps 0.3 at the end of training: the paper used 20
iterations for the last 5 epochs (``--full``, about 35 min per model here); the
default uses 7 iterations of step 2.5 eps / 7 for the last 2 epochs (about 10 min per
model).
Models come from the shared cache (tutorials/_zoo.py), so later tutorials reuse them,
and each finished model's result is written at once (atomically) to the output JSON,
so a killed run resumes where it stopped.

    python tutorials/galloway2018_clean_variants.py            # paper scale, ~25 min
    python tutorials/galloway2018_clean_variants.py --epochs 1 # a quick look
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from _zoo import trained_model
from tfbnn import data, export

HERE = Path(__file__).parent
PAPER = json.loads((HERE / "paper_numbers" / "galloway2018_table6.json").read_text())
DEFAULT = {"variants": ["A", "B", "C", "S", "A+", "B+", "C+"], "k1": 64, "epochs": 15,
           "seed": 1234, "train_size": 60000, "n_test": 10000, "draws": 10,
           "plus_pgd_iter": 7, "plus_last_epochs": 2,
           "out": str(HERE / "results" / "galloway2018_clean_variants.json")}
FULL = {"plus_pgd_iter": 20, "plus_last_epochs": 5}
"""The paper's '+' models of Table 6: PGD-20 at eps 0.3 for the last 5 epochs."""


def _spec(name: str, config: dict) -> dict:
    """The cache spec of a Table 6 row: ``"B"`` clean, ``"B+"`` PGD-trained at the end."""
    spec = {"variant": name[0], "k1": config["k1"], "epochs": config["epochs"],
            "seed": config["seed"], "train_size": config["train_size"]}
    if name.endswith("+"):
        k = config["plus_pgd_iter"]
        spec.update(adversary={"kind": "pgd", "eps": 0.3, "eps_iter": round(2.5 * 0.3 / k, 6),
                               "nb_iter": k},
                    last_epochs=config["plus_last_epochs"])
    return spec


def _accuracy(model, x, y, draws: int) -> tuple[list[float], np.ndarray]:
    """Accuracy on (x, y); one value per draw for a stochastic model, else one value."""
    model_fn = lambda t: model(t, training=False)  # noqa: E731
    first = export.predict_in_batches(model_fn, x)
    accs = [float(np.mean(first.argmax(-1) == y))]
    stochastic = not np.array_equal(first[:64], export.predict_in_batches(model_fn, x[:64]))
    for _ in range(draws - 1 if stochastic else 0):
        accs.append(float(np.mean(export.predict_in_batches(model_fn, x).argmax(-1) == y)))
    return accs, first


def main(config: dict) -> dict:
    config = {**DEFAULT, **config}
    out = Path(config["out"])
    out.parent.mkdir(parents=True, exist_ok=True)
    results = json.loads(out.read_text()) if out.exists() else {"config": config, "models": {}}
    if {**DEFAULT, **results["config"]} != config:  # another run's: start over, do not mix
        results = {"config": config, "models": {}}
    _, (x_test, y_test) = data.load_mnist()
    x_test, y_test = x_test[: config["n_test"]], y_test[: config["n_test"]]
    for variant in config["variants"]:
        if variant in results["models"]:
            continue
        model, info = trained_model(_spec(variant, config))
        accs, logits = _accuracy(model, x_test, y_test, config["draws"])
        paper = PAPER["rows"].get(variant)
        column = PAPER["columns"].index(str(config["k1"])) if str(config["k1"]) in PAPER["columns"] else None
        results["models"][variant] = {
            "k1": config["k1"], "epochs": config["epochs"], "n_test": len(x_test),
            "draws": len(accs), "test_accuracy": float(np.mean(accs)),
            "test_accuracy_std_over_draws": float(np.std(accs)),
            "test_error_pct": 100 * (1 - float(np.mean(accs))),
            "paper_error_pct": paper[column] if paper and column is not None else None,
            "train_seconds": info["train_seconds"],
            "final_train_loss": info["history"]["loss"][-1],
            "mean_abs_logit": float(np.mean(np.abs(logits))),
        }
        export.atomic_write_text(out, json.dumps(results, indent=2) + "\n")
        print(variant, results["models"][variant], flush=True)
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k1", type=int, default=DEFAULT["k1"])
    parser.add_argument("--epochs", type=int, default=DEFAULT["epochs"])
    parser.add_argument("--variants", nargs="+", default=DEFAULT["variants"])
    parser.add_argument("--out", default=DEFAULT["out"])
    parser.add_argument("--full", action="store_true",
                        help="the paper's '+' training: PGD-20 for the last 5 epochs")
    args = parser.parse_args()
    main({"k1": args.k1, "epochs": args.epochs, "variants": args.variants, "out": args.out,
          **(FULL if args.full else {})})
