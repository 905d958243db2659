"""Clean MNIST test error of the paper's A, B, C and S models (Table 6, clean rows).

Mirrors: Galloway, Taylor, Moussa, "Attacking Binarized Neural Networks" (ICLR 2018),
Table 6 (A, B, C without adversarial training) and the S model of section 3.

Default config: k1 = 64, the paper's 15 epochs, Adam 1e-3, batch 128, one run per
model, the full 10,000 test images; about 5-6 minutes per model on 2 CPU cores.
`--quick` trains 1 epoch. Each finished model's result is written at once (atomically)
to the output JSON, so a killed run resumes where it stopped.

    python tutorials/galloway2018_clean_variants.py            # paper scale, ~25 min
    python tutorials/galloway2018_clean_variants.py --quick    # 1 epoch per model
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

import tfbnn  # noqa: F401  (Keras 2 set-up first)
import tf_keras
from tfbnn import data, export, models, training

HERE = Path(__file__).parent
PAPER = json.loads((HERE / "paper_numbers" / "galloway2018_table6.json").read_text())
DEFAULT = {"variants": ["A", "B", "C", "S"], "k1": 64, "epochs": 15, "batch_size": 128,
           "learning_rate": 1e-3, "seed": 1234, "train_size": 60000,
           "out": str(HERE / "results" / "galloway2018_clean_variants.json")}


def main(config: dict) -> dict:
    config = {**DEFAULT, **config}
    out = Path(config["out"])
    out.parent.mkdir(parents=True, exist_ok=True)
    results = json.loads(out.read_text()) if out.exists() else {"config": config, "models": {}}
    (x_train, y_train), (x_test, y_test) = data.load_mnist()
    x_train, y_train = x_train[: config["train_size"]], y_train[: config["train_size"]]
    for variant in config["variants"]:
        if variant in results["models"]:
            continue
        tf_keras.utils.set_random_seed(config["seed"])
        model = models.cleverhans_cnn(variant, k1=config["k1"])
        training.compile_model(model, config["learning_rate"])
        started = time.time()
        history = model.fit(x_train, y_train, epochs=config["epochs"],
                            batch_size=config["batch_size"], verbose=2)
        logits = export.predict_in_batches(lambda x: model(x, training=False), x_test)
        if variant == "S":  # stochastic: mean accuracy over 10 draws
            accs = [float(np.mean(np.argmax(export.predict_in_batches(
                lambda x: model(x, training=False), x_test), -1) == y_test)) for _ in range(10)]
        else:
            accs = [float(np.mean(np.argmax(logits, -1) == y_test))]
        paper = PAPER["rows"].get(variant, [None] * 3)[0]
        results["models"][variant] = {
            "k1": config["k1"], "epochs": config["epochs"], "n_test": len(x_test),
            "test_accuracy": float(np.mean(accs)), "test_accuracy_std_over_draws": float(np.std(accs)),
            "test_error_pct": 100 * (1 - float(np.mean(accs))),
            "paper_error_pct": paper, "train_seconds": round(time.time() - started, 1),
            "final_train_loss": float(history.history["loss"][-1]),
            "logit_std": float(np.std(logits)),
        }
        export.atomic_write_text(out, json.dumps(results, indent=2) + "\n")
        print(variant, results["models"][variant], flush=True)
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 epoch per model")
    parser.add_argument("--k1", type=int, default=DEFAULT["k1"])
    parser.add_argument("--epochs", type=int, default=DEFAULT["epochs"])
    parser.add_argument("--out", default=DEFAULT["out"])
    args = parser.parse_args()
    main({"k1": args.k1, "epochs": 1 if args.quick else args.epochs, "out": args.out})
