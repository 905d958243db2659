"""Clean MNIST test error of the paper's A, B, C and S models (Table 6, clean rows).

Mirrors: Galloway, Taylor, Moussa, "Attacking Binarized Neural Networks" (ICLR 2018),
Table 6 (A, B, C without adversarial training) and the S model of section 3 (which
Table 6 does not list; the paper only says S "trains more slowly").

Default config: k1 = 64, the paper's 15 epochs, Adam 1e-3, batch 128, one run per
model, the full 10,000 test images; about 5-6 minutes per clean model on 2 CPU cores.
The S model is scored as the mean accuracy over 10 draws of its stochastic weights.
The "+" rows are PGD-trained at eps 0.3 at the end of training, clean and adversarial
loss mixed half and half as in the authors' code: the paper used 20 iterations for the
last 5 epochs (``--full``, step 2.5 eps / 20, about 35 min per model here); the default
uses 10 iterations of step 0.075 for the last 2 epochs (about 12 min per model), the
same models as Table 2's '+*' in galloway2018_fgsm_tables.py.
Models come from the shared cache (tutorials/_zoo.py), so later tutorials reuse them,
and each finished model's result is written at once (atomically) to the output JSON,
so a killed run resumes where it stopped.

    python tutorials/galloway2018_clean_variants.py            # paper scale, ~25 min
    python tutorials/galloway2018_clean_variants.py --epochs 1 # a quick look
"""

from __future__ import annotations

import numpy as np

import tfbnn  # noqa: F401  (Keras 2 set-up before TensorFlow)
import tf_keras
import _common
import _zoo
from _common import RESULTS, markdown_table, mnist_test, paper
from _zoo import PGD_LAST_EPOCHS, pgd_adversary
from tfbnn import export

PAPER = paper("galloway2018_table6")
DEFAULT = {"variants": ["A", "B", "C", "S", "A+", "B+", "C+"], "k1": 64, "epochs": 15,
           "seed": 1234, "train_size": 60000, "n_test": 10000, "draws": 10,
           "plus_pgd_iter": 10, "plus_last_epochs": PGD_LAST_EPOCHS,
           "out": str(RESULTS / "galloway2018_clean_variants.json")}
FULL = {"plus_pgd_iter": 20, "plus_last_epochs": 5}
"""The paper's '+' models of Table 6: PGD-20 at eps 0.3 for the last 5 epochs."""


def spec(name: str, config: dict) -> dict:
    """The cache spec of a Table 6 row: ``"B"`` clean, ``"B+"`` PGD-trained at the end."""
    cache_spec = {"variant": name[0], "k1": config["k1"], "epochs": config["epochs"],
                  "seed": config["seed"], "train_size": config["train_size"]}
    if name.endswith("+"):
        cache_spec.update(adversary=pgd_adversary(config["plus_pgd_iter"]),
                          last_epochs=config["plus_last_epochs"])
    return cache_spec


def _accuracy(model_fn, x, y, draws: int) -> tuple[list[float], np.ndarray]:
    """Accuracy on (x, y); one value per draw for a stochastic model, else one value."""
    first = export.predict_in_batches(model_fn, x)
    accs = [float(np.mean(first.argmax(-1) == y))]
    stochastic = not np.array_equal(first[:64], export.predict_in_batches(model_fn, x[:64]))
    for _ in range(draws - 1 if stochastic else 0):
        accs.append(_common.accuracy(model_fn, x, y))
    return accs, first


def measure(variant: str, config: dict, x_test, y_test) -> dict:
    """One row of Table 6: the clean test error of the model (mean over draws for S)."""
    model_fn, info = _zoo.classifier(spec(variant, config))
    tf_keras.utils.set_random_seed(config["seed"])  # S's weight draws
    accs, logits = _accuracy(model_fn, x_test, y_test, config["draws"])
    ref = PAPER["rows"].get(variant)
    column = _common.column(PAPER, config["k1"])
    return {
        "k1": config["k1"], "epochs": config["epochs"], "n_test": len(x_test),
        "draws": len(accs), "test_accuracy": float(np.mean(accs)),
        "test_accuracy_std_over_draws": float(np.std(accs)),
        "test_error_pct": 100 * (1 - float(np.mean(accs))),
        "paper_error_pct": ref[column] if ref and column is not None else None,
        "train_seconds": info["train_seconds"], "key": info["key"],
        "final_train_loss": info["history"]["loss"][-1],
        "mean_abs_logit": float(np.mean(np.abs(logits))),
    }


def main(config: dict) -> dict:
    run = _common.Run(config, DEFAULT, FULL)  # another run's results are not mixed in
    config, models = run.config, run.section("models")
    x_test, y_test = mnist_test(config["n_test"])
    for variant in config["variants"]:
        run.step(models, variant, lambda: measure(variant, config, x_test, y_test),
                 spec=spec(variant, config), say=lambda row: f"{variant} {row}")
    return run.finish(summarize(run.results))


def summarize(results: dict) -> dict:
    """Paper and tfbnn side by side, and the verdict: the same ordering of clean error."""
    rows, cfg = results["models"], results["config"]
    k1 = str(cfg["k1"])
    column = _common.column(PAPER, k1)
    lines = []
    for name, row in rows.items():
        ref = PAPER["rows"].get(name)
        ref_text = f"{ref[column][0]} ± {ref[column][1]}" if ref and column is not None else "—"
        std = row.get("test_accuracy_std_over_draws", 0.0)
        ours = f"{row['test_error_pct']:.2f}" + (f" ± {100 * std:.2f}" if row["draws"] > 1 else "")
        lines.append([name, ref_text, ours, f"{row['train_seconds']:.0f}"])
    groups = [g for g in (("A", "B", "C"), ("A+", "B+", "C+")) if all(v in rows for v in g)]
    if column is None or not groups:
        verdict = "not comparable"
        why = (f"The paper has no k1={k1} column." if column is None else
               "Neither A, B, C nor A+, B+, C+ were all run.")
    else:
        def order(error):
            return ["<".join(sorted(g, key=error)) for g in groups]

        paper_order = order(lambda v: PAPER["rows"][v][column][0])
        ours_order = order(lambda v: rows[v]["test_error_pct"])
        verdict = "reproduced" if paper_order == ours_order else "not reproduced"
        gaps = {v: rows[v]["test_error_pct"] - PAPER["rows"][v][column][0]
                for g in groups for v in g}
        worst = max(gaps, key=lambda v: abs(gaps[v]))
        sigmas = abs(gaps[worst]) / max(PAPER["rows"][worst][column][1], 1e-9)
        why = (f"Rule: the same ordering of clean error over A, B, C, and over A+, B+, C+ where "
               f"run. Paper order {'; '.join(paper_order)}, tfbnn order {'; '.join(ours_order)}. "
               f"Largest gap: {worst}, {gaps[worst]:+.2f} points from the paper's mean "
               f"({sigmas:.1f} of its standard deviations), from one tfbnn run against the "
               "paper's mean over runs.")
    plus = ""
    if any(k.endswith("+") for k in rows):
        plus = (f"; '+' rows: PGD-{cfg['plus_pgd_iter']} at eps 0.3 (step "
                f"{pgd_adversary(cfg['plus_pgd_iter'])['eps_iter']}) for the last "
                f"{cfg['plus_last_epochs']} epochs, clean and adversarial loss mixed half and "
                "half (the authors' CleverHans 2 `model_train`)")
    command = "python tutorials/galloway2018_clean_variants.py"
    if cfg["plus_pgd_iter"] == FULL["plus_pgd_iter"]:
        command += " --full"
    draws = rows.get("S", {}).get("draws")
    return _common.summary(
        title="Galloway et al., Table 6 (clean test error, A / B / C with '+' rows, and S)",
        command=command,
        paper_scale=PAPER["setup"] + "; mean ± std over its runs",
        tfbnn_scale=(f"k1={k1}, {cfg['epochs']} epochs, one training run each, the first "
                     f"{cfg['n_test']} test images"
                     + (f" (S: mean ± std over {draws} draws of its stochastic weights)"
                        if draws else "") + plus),
        table=markdown_table(["model", f"paper error % (k1={k1})", "tfbnn error %",
                              "train time (s)"], lines),
        verdict=verdict, why=why)


if __name__ == "__main__":
    main(_common.cli(__doc__, full=FULL, names=("k1", "epochs", "out"),
                     variants=dict(nargs="+", help="rows, e.g. A B+ S")))
