"""Which straight-through estimator reproduces the paper's binary (B) model?

Mirrors: Galloway et al. (ICLR 2018), Table 1 (FGSM accuracy of A and B, k1 = 64) and
section 4's observation that the binary model's logits are about 4x larger than the
full-precision model's. Trains A and two B models that differ only in the gradient
estimator of their binary layers: "passthrough" (upstream gradient everywhere, clipped
to [-1, 1], as the paper's code) and Larq's "ste_sign" (zero where |x| > 1).

Default: k1 = 64, 15 epochs (the paper's), one seed, FGSM on the first 1,000 test
images; `--epochs` to shorten. Models are cached (tutorials/_zoo.py).

    python tutorials/galloway2018_estimators.py [--epochs 15] [--n 1000]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from _zoo import trained_model
from tfbnn import attacks, data, export

HERE = Path(__file__).parent
DEFAULT = {"k1": 64, "epochs": 15, "train_size": 60000, "n": 1000, "eps": [0.1, 0.2, 0.3],
           "out": str(HERE / "results" / "galloway2018_estimators.json")}
PAPER_TABLE1_K64 = {"A": [74, 39, 22], "B": [75, 64, 59]}  # FGSM accuracy %, eps 0.1/0.2/0.3


def main(config: dict) -> dict:
    config = {**DEFAULT, **config}
    _, (x_test, y_test) = data.load_mnist()
    x, y = x_test[: config["n"]], y_test[: config["n"]]
    rows = {}
    for name, variant, estimator in [("A", "A", "passthrough"), ("B passthrough", "B", "passthrough"),
                                     ("B ste_sign", "B", "ste_sign")]:
        model, info = trained_model({"variant": variant, "k1": config["k1"],
                                     "epochs": config["epochs"], "estimator": estimator,
                                     "train_size": config["train_size"]})
        model_fn = lambda t, m=model: m(t, training=False)  # noqa: E731
        logits = export.predict_in_batches(model_fn, x)
        row = {"clean_accuracy": float(np.mean(logits.argmax(-1) == y)),
               "mean_abs_logit": float(np.mean(np.abs(logits))),
               "train_seconds": info["train_seconds"], "fgsm_accuracy": {}}
        for eps in config["eps"]:
            x_adv = np.concatenate([np.asarray(attacks.fast_gradient_method(
                model_fn, x[i:i + 250], eps, np.inf, clip_min=0.0, clip_max=1.0, y=y[i:i + 250]))
                for i in range(0, len(x), 250)])
            adv_logits = export.predict_in_batches(model_fn, x_adv)
            row["fgsm_accuracy"][str(eps)] = float(np.mean(adv_logits.argmax(-1) == y))
        rows[name] = row
        print(name, row, flush=True)
    for name in rows:
        rows[name]["logit_scale_vs_A"] = rows[name]["mean_abs_logit"] / rows["A"]["mean_abs_logit"]
    result = {"config": config, "paper_table1_k64_fgsm_accuracy_pct": PAPER_TABLE1_K64,
              "paper_logit_scale_B_vs_A": "about 4x (section 4)", "models": rows}
    Path(config["out"]).parent.mkdir(parents=True, exist_ok=True)
    export.atomic_write_text(config["out"], json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=DEFAULT["epochs"])
    parser.add_argument("--n", type=int, default=DEFAULT["n"])
    parser.add_argument("--k1", type=int, default=DEFAULT["k1"])
    parser.add_argument("--out", default=DEFAULT["out"])
    args = parser.parse_args()
    main({"epochs": args.epochs, "n": args.n, "k1": args.k1, "out": args.out})
