"""FGSM accuracy of clean, FGSM-trained and PGD-trained A/B/C models (Tables 1 and 2).

Mirrors: Galloway, Taylor, Moussa, "Attacking Binarized Neural Networks" (ICLR 2018),
Table 1 (FGSM at eps 0.1 / 0.2 / 0.3 on A, B, C and their FGSM-trained "+" versions)
and Table 2 (the same attack on the PGD-trained "+*" A and C).

Models (all k1 = 64, 15 epochs, Adam 1e-3, batch 128, three training seeds 1234, 1235,
1236 by default, cached and shared through tutorials/_zoo.py):

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

The attack is FGSM on the whole 10,000-image test set, each model scored once per seed;
each cell is the mean ± sample std over the seeds, beside the paper's mean ± std over its
four training runs. The verdict applies the committed rule of
paper_numbers/rules/galloway2018_table{1,2}.json (`_verdicts`): at each eps, every pair
of models the paper's own noise separates keeps its direction beyond our noise, and every
cell lies within 3 of the paper's standard deviations.

    python tutorials/galloway2018_fgsm_tables.py --table 1    # ~2 h: A, B, C, A+, B+, C+ x 3 seeds
    python tutorials/galloway2018_fgsm_tables.py --table 2    # ~1.5 h: A+*, C+* x 3 seeds
"""

from __future__ import annotations

import numpy as np

import _common
import _verdicts
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
           "pgd_last_epochs": PGD_LAST_EPOCHS, "full": False, "seeds": [1234, 1235, 1236]}


def spec(name: str, config: dict, seed: int = _zoo.DEFAULT_SPEC["seed"]) -> dict:
    """The cache spec of the table's model ``name`` at a training ``seed``
    (`_zoo.model_spec`, shared)."""
    return _zoo.model_spec(name, config, pgd_full=config["full"], seed=seed)


def fgsm(eps: float):
    """FGSM at ``eps`` in the box [0, 1], on the true labels."""
    return lambda f, x, y: attacks.fast_gradient_method(f, x, eps, np.inf, clip_min=0.0,
                                                        clip_max=1.0, y=y)


def measure(name: str, seed: int, config: dict, x, y) -> dict:
    """One model's row at one training seed: clean and FGSM accuracy at every eps
    (crafted 500 at a time)."""
    model_fn, info = _zoo.classifier(spec(name, config, seed))
    return {"clean_accuracy": _common.accuracy(model_fn, x, y),
            "train_seconds": info["train_seconds"], "spec": info["spec"],
            "fgsm_accuracy": {str(e): _common.attack_accuracy(fgsm(e), model_fn, x, y, 500)
                              for e in EPS}}


def main(config: dict) -> dict:
    config = _common.resolve(config, DEFAULT)
    run = _common.Run(config, DEFAULT, name=f"galloway2018_table{config['table']}")
    models = run.section("models")
    x, y = mnist_test(config["n"])
    for name in TABLES[str(config["table"])]["models"]:
        per_seed = models.setdefault(name, {})
        for seed in config["seeds"]:
            run.step(per_seed, str(seed), lambda: measure(name, seed, config, x, y),
                     spec=spec(name, config, seed),
                     say=lambda row: f"{name} seed {seed}: {row['fgsm_accuracy']}")
    return run.finish(resummarize(run.results, run.out))


def estimates(results: dict) -> dict:
    """``"<model> eps=<eps>"`` -> FGSM accuracy (%) over the seeds run, a `_verdicts.Estimate`."""
    n = results["config"]["n"]
    return {f"{m} eps={eps}": _verdicts.over_seeds(
        [100 * row["fgsm_accuracy"][str(eps)] for row in per_seed.values()], n=n)
        for m, per_seed in results["models"].items() if per_seed for eps in EPS}


def summarize(results: dict) -> dict:
    """The section of docs/RESULTS.md; verdict: the committed rule of the table."""
    config = results["config"]
    table = TABLES[str(config["table"])]
    paper = _common.paper(table["paper"])
    column = _common.column(paper, config["k1"])
    rule = _verdicts.load_rule(f"galloway2018_table{config['table']}")
    ours = estimates(results)
    theirs = ({cell: _verdicts.paper_cell(values[column], rule["paper_runs"])
               for cell, values in paper["rows"].items()} if column is not None else {})
    rows = []
    for eps in EPS:
        for m in table["models"]:
            cell = f"{m} eps={eps}"
            per_seed = results["models"][m]
            printed = paper["rows"][cell][column] if column is not None else None
            rows.append([m, eps, "—" if printed is None else f"{printed[0]} ± {printed[1]}",
                         ours[cell].text(1),
                ", ".join(f"{100 * r['fgsm_accuracy'][str(eps)]:.1f}"
                          for r in per_seed.values())])
    if column is None:
        verdict, why = "not comparable", f"The paper has no k1={config['k1']} column."
    else:
        judged = _verdicts.judge(rule, ours, theirs)
        verdict, why = judged["verdict"], judged["why"]
    collapsed = sorted({f"{m} (seed {seed})" for m, per_seed in results["models"].items()
                        for seed, row in per_seed.items()
                        if row["clean_accuracy"] < COLLAPSED})
    if collapsed:
        verdict = "not comparable"
        why += (f" Not comparable: {', '.join(collapsed)} collapsed to a near-constant "
                f"prediction (clean accuracy below {COLLAPSED}) under tfbnn's training recipe, "
                "so its FGSM accuracy says nothing about the paper's model.")
    seeds = sorted({int(s) for per_seed in results["models"].values() for s in per_seed})
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
                    f"images, training seeds {', '.join(map(str, seeds))}; ± is the sample "
                    f"standard deviation over the seeds, as the paper's is over its runs{pgd}",
        table=_common.markdown_table(["model", "eps", "paper accuracy % (mean ± std, 4 runs)",
                                      "tfbnn accuracy % (mean ± std over seeds)", "per seed"],
                                     rows),
        verdict=verdict, why=why)


def resummarize(results: dict, out=None) -> dict:
    """The summary from stored results alone (``make_results.py --rejudge``); a one-seed
    result of before the seeded rerun is judged as that one seed, and says so."""
    models, legacy = _common.by_seed(results["models"], _zoo.DEFAULT_SPEC["seed"])
    return _common.provisional(summarize({**results, "models": models}), legacy,
                               _zoo.DEFAULT_SPEC["seed"])


if __name__ == "__main__":
    main(_common.cli(__doc__, full={"full": True}, names=("k1", "n", "seeds", "out"),
                     table=dict(choices=sorted(TABLES), help="which table (default 1)")))
