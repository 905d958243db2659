"""FGSM accuracy of clean, FGSM-trained and PGD-trained A/B/C models (Tables 1 and 2).

Mirrors: Galloway, Taylor, Moussa, "Attacking Binarized Neural Networks" (ICLR 2018),
Table 1 (FGSM at eps 0.1 / 0.2 / 0.3 on A, B, C and their FGSM-trained "+" versions)
and Table 2 (the same attack on the PGD-trained "+*" A and C).

Models (all k1 = 64, 15 epochs, Adam 1e-3, batch 128, seed 1234, cached and shared
through tutorials/_zoo.py):

- Table 1 "+": FGSM adversarial training after Kurakin et al. for the last 5 epochs
  (per-example eps from a truncated normal, eps_max 0.3, the model's own labels, clean
  and adversarial loss mixed half and half), as the paper's caption says.
- Table 2 "+*": PGD adversarial training for the last epochs at eps 0.3, the model's
  own labels, clean and adversarial loss mixed half and half (as the authors'
  CleverHans 2 ``model_train`` does). The paper: 40 iterations for the last 5 epochs
  (step size not stated). Default here, to fit 2 CPU cores: 10 iterations of step
  0.075 (2.5 eps / 10) for the last 2 epochs, the same models as Table 6's '+' rows;
  ``--full`` uses 40 iterations of step 0.01 for the last 5 epochs (about 1 h per model
  on a GPU-less machine).

The attack is FGSM on the whole 10,000-image test set, each model scored once (the
paper: mean ± std over four training runs). Verdict rule: the ordering of the models'
FGSM accuracy at each eps is the paper's (same direction and ordering), for the
models of the table.

    python tutorials/galloway2018_fgsm_tables.py --table 1    # ~25 min: trains A+, B+, C+
    python tutorials/galloway2018_fgsm_tables.py --table 2    # ~25 min: trains A+*, C+*
"""

from __future__ import annotations

import itertools

import numpy as np

import _common
import _zoo
from _common import mnist_test
from _zoo import ADVERSARIES, PGD_LAST_EPOCHS
from tfbnn import attacks

EPS = (0.1, 0.2, 0.3)
TABLES = {
    "1": {"models": ["A", "B", "C", "A+", "B+", "C+"], "paper": "galloway2018_table1"},
    "2": {"models": ["A+*", "C+*"], "paper": "galloway2018_table2"},
}
COLLAPSED = 0.2
"""Clean accuracy below this (chance is 0.1) marks a model whose training collapsed."""
DEFAULT = {"table": "1", "k1": 64, "epochs": 15, "train_size": 60000, "n": 10000,
           "pgd_last_epochs": PGD_LAST_EPOCHS, "full": False}


def spec(name: str, config: dict) -> dict:
    """The cache spec of the table's model ``name`` (`_zoo.model_spec`, shared)."""
    return _zoo.model_spec(name, config, pgd_full=config["full"])


def fgsm(eps: float):
    """FGSM at ``eps`` in the box [0, 1], on the true labels."""
    return lambda f, x, y: attacks.fast_gradient_method(f, x, eps, np.inf, clip_min=0.0,
                                                        clip_max=1.0, y=y)


def measure(name: str, config: dict, x, y) -> dict:
    """One model's row: clean and FGSM accuracy at every eps (crafted 500 at a time)."""
    model_fn, info = _zoo.classifier(spec(name, config))
    return {"clean_accuracy": _common.accuracy(model_fn, x, y),
            "train_seconds": info["train_seconds"], "spec": info["spec"],
            "fgsm_accuracy": {str(e): _common.attack_accuracy(fgsm(e), model_fn, x, y, 500)
                              for e in EPS}}


def _orderings(values: dict, names: list) -> list:
    """Pairs (a, b) with values[a] > values[b], for a stable comparison of orderings."""
    return [(a, b) for a, b in itertools.permutations(names, 2) if values[a] > values[b]]


def main(config: dict) -> dict:
    config = _common.resolve(config, DEFAULT)
    run = _common.Run(config, DEFAULT, name=f"galloway2018_table{config['table']}")
    models = run.section("models")
    x, y = mnist_test(config["n"])
    for name in TABLES[str(config["table"])]["models"]:
        run.step(models, name, lambda: measure(name, config, x, y), spec=spec(name, config),
                 say=lambda row: f"{name} {row['fgsm_accuracy']}")
    return run.finish(summarize(run.results))


def summarize(results: dict) -> dict:
    """The section of docs/RESULTS.md; verdict: the paper's orderings of FGSM accuracy."""
    config = results["config"]
    table = TABLES[str(config["table"])]
    paper = _common.paper(table["paper"])
    column = _common.column(paper, config["k1"])
    rows, agree, total = [], 0, 0
    for eps in EPS:
        ours = {m: results["models"][m]["fgsm_accuracy"][str(eps)] for m in table["models"]}
        theirs = ({m: paper["rows"][f"{m} eps={eps}"][column][0] for m in table["models"]}
                  if column is not None else None)
        for m in table["models"]:
            ref = paper["rows"][f"{m} eps={eps}"][column] if column is not None else None
            rows.append([m, eps, "—" if ref is None else f"{ref[0]} ± {ref[1]}",
                         f"{100 * ours[m]:.1f}"])
        if theirs is not None:
            expected = set(_orderings(theirs, table["models"]))
            got = set(_orderings(ours, table["models"]))
            agree += len(expected & got)
            total += len(expected)
    verdict = "not comparable" if column is None else (
        "reproduced" if agree == total else "not reproduced")
    why = (f"Rule: every pairwise ordering of FGSM accuracy in the paper's k1={config['k1']} "
           f"column holds in tfbnn's; {agree} of {total} hold."
           if column is not None else f"The paper has no k1={config['k1']} column.")
    collapsed = [m for m in table["models"] if results["models"][m]["clean_accuracy"] < COLLAPSED]
    if collapsed:
        verdict = "not comparable"
        why += (f" Not comparable: {', '.join(collapsed)} collapsed to a near-constant "
                f"prediction (clean accuracy below {COLLAPSED}) under tfbnn's training recipe, "
                "so its FGSM accuracy says nothing about the paper's model.")
    adversary = ADVERSARIES["+* full" if config["full"] else "+*"]
    pgd = ("" if config["table"] != "2" else
           f"; '+*' trained with PGD-{adversary['nb_iter']} (step {adversary['eps_iter']}, eps "
           f"{adversary['eps']}) for the last {5 if config['full'] else config['pgd_last_epochs']} "
           "epochs, clean and adversarial loss mixed half and half (the authors' CleverHans 2 "
           "`model_train`)")
    return _common.summary(
        title=f"Galloway et al., Table {config['table']} (FGSM accuracy, "
              f"{', '.join(table['models'])})",
        command=f"python tutorials/galloway2018_fgsm_tables.py --table {config['table']}"
                + (" --full" if config["full"] else ""),
        paper_scale="k1 = 64/128/256, 15 epochs, whole MNIST test set, mean ± std over four "
                    "runs" + ("; '+*' PGD-40 for the last 5 epochs" if config["table"] == "2" else ""),
        tfbnn_scale=f"k1 = {config['k1']}, {config['epochs']} epochs, first {config['n']} test "
                    f"images, one run{pgd}",
        table=_common.markdown_table(["model", "eps", "paper accuracy %", "tfbnn accuracy %"],
                                     rows),
        verdict=verdict, why=why)


if __name__ == "__main__":
    main(_common.cli(__doc__, full={"full": True}, names=("k1", "n"),
                     table=dict(choices=sorted(TABLES), help="which table (default 1)")))
