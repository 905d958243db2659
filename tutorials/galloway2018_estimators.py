"""Which straight-through estimator reproduces the paper's binary (B) model?

Mirrors: Galloway et al. (ICLR 2018), Table 1 (FGSM accuracy of A and B, k1 = 64) and
section 4's observation that the binary model's logits are about 4x larger than the
full-precision model's (shown here; judged in galloway2018_logits.py). Trains A and two
B models that differ only in the gradient estimator of their binary layers:
"passthrough" (upstream gradient everywhere, clipped to [-1, 1], as the paper's code)
and Larq's "ste_sign" (zero where |x| > 1).

Default: k1 = 64, 15 epochs (the paper's), one seed, FGSM on the first 1,000 test
images; `--epochs` to shorten. Models are cached (tutorials/_zoo.py); about 6 minutes
when A and the pass-through B are cached. The verdict applies the rule in
paper_numbers/rules/galloway2018_estimators.json (`_verdicts`) to A and the better B (the
estimator whose B has the higher mean FGSM accuracy): where Table 1's own noise separates
B from A (eps 0.2 and 0.3 at k1 = 64), B keeps its side beyond the binomial noise of the
test images, and both lie within 3 of the paper's standard deviations.

    python tutorials/galloway2018_estimators.py [--epochs 15] [--n 1000]
"""

from __future__ import annotations

import numpy as np

import _common
import _verdicts
import _zoo
from _common import mnist_test
from tfbnn import attacks, export

DEFAULT = {"k1": 64, "epochs": 15, "train_size": 60000, "n": 1000, "eps": [0.1, 0.2, 0.3],
           "out": str(_common.RESULTS / "galloway2018_estimators.json")}
MODELS = [("A", "A", "passthrough"), ("B passthrough", "B", "passthrough"),
          ("B ste_sign", "B", "ste_sign")]
RULE = "galloway2018_estimators"


def spec(variant: str, estimator: str, config: dict) -> dict:
    """The cache spec of a model of the comparison."""
    return {"variant": variant, "k1": config["k1"], "epochs": config["epochs"],
            "estimator": estimator, "train_size": config["train_size"]}


def measure(variant: str, estimator: str, config: dict, x, y) -> dict:
    """One model's row: clean accuracy, logit scale, FGSM accuracy at every eps."""
    model_fn, info = _zoo.classifier(spec(variant, estimator, config))
    logits = export.predict_in_batches(model_fn, x)
    return {"clean_accuracy": float(np.mean(logits.argmax(-1) == y)),
            "mean_abs_logit": float(np.mean(np.abs(logits))),
            "train_seconds": info["train_seconds"],
            "fgsm_accuracy": {str(eps): _common.attack_accuracy(
                lambda f, a, b, e=eps: attacks.fast_gradient_method(
                    f, a, e, np.inf, clip_min=0.0, clip_max=1.0, y=b), model_fn, x, y, 250)
                for eps in config["eps"]}}


def main(config: dict) -> dict:
    run = _common.Run(config, DEFAULT)
    config, rows = run.config, run.section("models")
    x, y = mnist_test(config["n"])
    for name, variant, estimator in MODELS:  # rows record no model key: measured every run
        run.step(rows, name, lambda: measure(variant, estimator, config, x, y),
                 spec=spec(variant, estimator, config), say=lambda row: f"{name} {row}")
    for name in rows:
        rows[name]["logit_scale_vs_A"] = rows[name]["mean_abs_logit"] / rows["A"]["mean_abs_logit"]
    return run.finish(resummarize(run.results, run.out))


def _best_b(rows: dict) -> str | None:
    """The B row with the higher mean FGSM accuracy over the eps run (None without a B)."""
    bs = [name for name in rows if name.startswith("B ")]
    return max(bs, key=lambda name: np.mean(list(rows[name]["fgsm_accuracy"].values())),
               default=None)


def estimates(results: dict) -> dict:
    """``"<row> eps=<eps>"`` -> FGSM accuracy (%) on the n test images, a `_verdicts.Estimate`
    (one training run: binomial noise only), for every row, and ``"B eps=<eps>"`` for the
    better B (`_best_b`), the cell Table 1's B is compared with."""
    rows, n = results["models"], results["config"]["n"]
    ours = {f"{name} eps={eps}": _verdicts.Estimate(100 * acc, n=n)
            for name, row in rows.items() for eps, acc in row["fgsm_accuracy"].items()}
    best = _best_b(rows)
    if best is not None:
        ours.update({f"B eps={eps}": ours[f"{best} eps={eps}"]
                     for eps in rows[best]["fgsm_accuracy"]})
    return ours


def summarize(results: dict) -> dict:
    """Table 1's A and B beside tfbnn's A and both B's; the verdict of the committed rule."""
    config, rows = results["config"], results["models"]
    paper = _common.paper("galloway2018_table1")
    column = _common.column(paper, config["k1"])
    rule = _verdicts.load_rule(RULE)
    ours = estimates(results)
    theirs = ({cell: _verdicts.paper_cell(values[column], rule["paper_runs"])
               for cell, values in paper["rows"].items()} if column is not None else {})
    table = []
    for name, row in rows.items():
        cells = [f"{name.split()[0]} eps={eps}" for eps in row["fgsm_accuracy"]]
        table.append([name, " / ".join(theirs[c].text(0) if c in theirs else "—" for c in cells),
                      " / ".join(f"{100 * v:.1f}" for v in row["fgsm_accuracy"].values()),
                      f"{row['logit_scale_vs_A']:.2f}"])
    best = _best_b(rows)
    if column is None:
        verdict, why = "not comparable", f"The paper has no k1={config['k1']} column."
    else:
        judged = _verdicts.judge(rule, ours, theirs)
        verdict, why = judged["verdict"], judged["why"]
        if best is not None:
            why += f" The better B is {best}."
    return _common.summary(
        title="Which straight-through estimator gives the paper's FGSM-robust B (Table 1, Sec. 4)",
        command="python tutorials/galloway2018_estimators.py",
        paper_scale="k1 = 64/128/256, 15 epochs, whole test set; mean ± std over its four runs; "
                    "estimator of the released code: pass-through, clipped to [-1, 1]",
        tfbnn_scale=f"k1 = {config['k1']}, {config['epochs']} epochs, first {config['n']} test "
                    "images, one training run per estimator, so no ±: the binomial standard "
                    f"error of {config['n']} images is at most {50 / np.sqrt(config['n']):.1f} "
                    "points; the verdict compares A with the better B"
                    + (f" ({best})" if best else ""),
        table=_common.markdown_table(["model", "paper FGSM % eps 0.1 / 0.2 / 0.3 (mean ± std)",
                                      "tfbnn FGSM % eps 0.1 / 0.2 / 0.3 (one run)",
                                      "mean abs logit / A's"], table),
        verdict=verdict, why=why)


def resummarize(results: dict, out=None) -> dict:
    """The summary from stored results alone (``make_results.py --rejudge``)."""
    return summarize(results)


if __name__ == "__main__":
    main(_common.cli(__doc__, None, ("n", "k1", "epochs", "out")))
