"""PGD++ against the other fixes for masked gradients: beta = 0.1, DLR, APGD, Square.

Mirrors the pattern of Gupta & Ajanthan (AAAI 2022), Table 4 (adversarially trained
networks; a heuristic beta = 0.1; FGSM/PGD vs FGSM++/PGD++), Table 5 (the DLR loss,
APGD and the Square attack against FGSM++/PGD++) and Table 8 (the same on VGG-16), on
the MNIST CleverHans CNN instead of CIFAR ResNet/VGG:

| paper | tfbnn model |
|---|---|
| REF (full precision) | A |
| BNN-WQ (binary weights) | W |
| BNN-WAQ (binary weights and activations) | B |
| REF* (PGD-trained) | A+* (the PGD-trained A of galloway2018_fgsm_tables.py) |
| BNN-WQ* | W+* (the W variant, the same PGD training) |

PGD training (tutorials/_zoo.py `pgd_adversary`): eps 0.3, 10 iterations of step 0.075
for the last 2 of 15 epochs, clean and adversarial loss mixed half and half (the paper
trains on CIFAR with PGD for the whole run; its REF* and BNN-WQ* are the CIFAR models).

DeepFool and BBA (Table 4) are not in tfbnn; those columns stay empty. Budget as in
tutorials/gupta2022_attack_strength.py: L-inf, 20 iterations of step eps / 4, one random
start; FGSM one step; APGD 20 iterations; Square 1,000 queries; N test images.

Each model is trained at three seeds (1234, 1235, 1236) and attacked once per seed;
each cell of the table is the mean ± sample standard deviation over the seeds (± as in
the Galloway tables), followed by one row per seed.

The verdict applies the rule in paper_numbers/rules/gupta2022_attack_comparison.json
(`_verdicts`): on every model and eps, the better PGD++ variant is not the weaker attack
against each of PGD, PGD beta = 0.1, PGD (DLR), APGD-DLR and Square, up to a stated
non-inferiority margin of 1 accuracy point and beyond two standard errors of the mean
over the seeds (their spread and the binomial noise of the N test images,
`_verdicts.over_seeds`); pairs where both attacks leave 0 % are saturated and count for
nothing. The models are MNIST CNNs, not the paper's CIFAR networks: the pattern is
compared, and the paper's Table 5 rows are shown beside tfbnn's for reference only.

Default: N = 500, eps 0.1 and 0.3, models A, W, B, A+*, W+*, training seeds 1234, 1235
and 1236; about 12 minutes of attacks on 2 CPU cores with the models cached (3x the
one-seed run's 4 minutes). The models come from the shared zoo (tutorials/_zoo.py): A
and B at the three seeds are trained by galloway2018_clean_variants.py, A+* by
galloway2018_fgsm_tables.py --table 2, W at seed 1234 by gupta2022_signal_propagation.py;
a model not yet cached is trained here (about 5 min per clean and 12-17 min per
PGD-trained model and seed: W at 1235 and 1236 and the three W+* on a fresh cache).
``--full``: all 10,000 test images. Resumable (results saved after every model, seed
and eps).

    python tutorials/gupta2022_attack_comparison.py [--full] [--seeds 1234]
"""

from __future__ import annotations

import numpy as np

import _common
import _verdicts
import _zoo
from _common import mnist_test
from _zoo import PGD_LAST_EPOCHS
from tfbnn import attacks, temperature

DEFAULT = {"models": ["A", "W", "B", "A+*", "W+*"], "k1": 64, "epochs": 15, "train_size": 60000,
           "n": 500, "eps": [0.1, 0.3], "iters": 20, "square_queries": 1000, "seed": 0,
           "pgd_last_epochs": PGD_LAST_EPOCHS, "batch": 250, "seeds": [1234, 1235, 1236],
           "out": str(_common.RESULTS / "gupta2022_attack_comparison.json")}
"""``seed``: the attacks' random starts; ``seeds``: the models' training seeds (one model
each)."""
PAPER_NAMES = {"A": "REF", "W": "BNN-WQ", "B": "BNN-WAQ", "A+*": "REF*", "W+*": "BNN-WQ*"}
RULE = "gupta2022_attack_comparison"
PAPER_COLUMNS = {"APGD (DLR)": "APGD", "Square": "Square Attack"}
"""tfbnn's attack names where Table 5 names the column differently (its APGD uses DLR)."""


def attack_table(eps: float, config: dict) -> dict:
    """The attacks at ``eps``: name -> ``f(model_fn, x, y)``."""
    box = dict(clip_min=0.0, clip_max=1.0)
    pgd = dict(eps=eps, eps_iter=eps / 4, nb_iter=config["iters"], norm=np.inf,
               seed=config["seed"], **box)
    heuristic = temperature.temperature_scaled_loss(0.1)
    return {
        "FGSM": lambda f, x, y: attacks.fast_gradient_method(f, x, eps, np.inf, y=y, **box),
        "FGSM beta=0.1": lambda f, x, y: attacks.fast_gradient_method(
            f, x, eps, np.inf, heuristic, y=y, **box),
        "FGSM (DLR)": lambda f, x, y: attacks.fast_gradient_method(
            f, x, eps, np.inf, attacks.dlr_loss, y=y, **box),
        "FGSM++ NJS": lambda f, x, y: attacks.fgsm_plus_plus(f, x, eps, y=y, variant="njs", **box),
        "FGSM++ HNS": lambda f, x, y: attacks.fgsm_plus_plus(f, x, eps, y=y, variant="hns", **box),
        "PGD": lambda f, x, y: attacks.projected_gradient_descent(f, x, y=y, **pgd),
        "PGD beta=0.1": lambda f, x, y: attacks.projected_gradient_descent(
            f, x, y=y, loss_fn=heuristic, **pgd),
        "PGD (DLR)": lambda f, x, y: attacks.projected_gradient_descent(
            f, x, y=y, loss_fn=attacks.dlr_loss, **pgd),
        "APGD (DLR)": lambda f, x, y: attacks.auto_projected_gradient_descent(
            f, x, eps, config["iters"], np.inf, "dlr", y=y, seed=config["seed"], **box),
        "Square": lambda f, x, y: attacks.square_attack(
            f, x, eps, nb_iter=config["square_queries"], y=y, seed=config["seed"], **box),
        "PGD++ NJS": lambda f, x, y: attacks.pgd_plus_plus(f, x, y=y, variant="njs", **pgd),
        "PGD++ HNS": lambda f, x, y: attacks.pgd_plus_plus(f, x, y=y, variant="hns", **pgd),
    }


def _seeded(results: dict) -> tuple[dict, bool]:
    """``results`` with ``models`` as ``{model: {seed: entry}}``, and whether it had to be
    converted: a result of before the seeded tutorial (one entry per model) is its one
    training seed, `_zoo.DEFAULT_SPEC`'s (`_common.by_seed`)."""
    models, legacy = _common.by_seed(results.get("models", {}), _zoo.DEFAULT_SPEC["seed"])
    return {**results, "models": models}, legacy


def measure(eps: float, config: dict, model_fn, x, y, seconds: dict) -> dict:
    """Every attack of `attack_table` at ``eps``: attack -> accuracy; the seconds each took
    go to ``seconds[str(eps)]``."""
    timed = {a: _common.timed(_common.attack_accuracy, attack, model_fn, x, y, config["batch"])
             for a, attack in attack_table(eps, config).items()}
    seconds[str(eps)] = {a: took for a, (_, took) in timed.items()}
    return {a: accuracy for a, (accuracy, _) in timed.items()}


def main(config: dict) -> dict:
    run = _common.Run(config, DEFAULT)
    config = run.config
    run.results = _seeded(run.results)[0]  # a one-seed result resumes as its seed
    models = run.section("models")
    x, y = mnist_test(config["n"])
    for name in config["models"]:
        per_seed = models.setdefault(name, {})
        for seed in config["seeds"]:
            spec = _zoo.model_spec(name, config, seed=seed)
            entry = run.entry(per_seed, str(seed), spec, {"eps": {}, "seconds": {}})
            if all(str(e) in entry["eps"] for e in config["eps"]):
                continue  # finished by an earlier run: the model is not even loaded
            model_fn, info = _zoo.classifier(spec)
            entry["key"] = info["key"]
            entry["clean_accuracy"] = _common.accuracy(model_fn, x, y)
            for eps in config["eps"]:
                run.step(entry["eps"], str(eps),
                         lambda: measure(eps, config, model_fn, x, y, entry["seconds"]),
                         say=lambda row: f"{name} seed {seed} eps {eps} {row}")
    return run.finish(resummarize(run.results, run.out))


def estimates(results: dict) -> dict:
    """``"<model> eps=<eps> <attack>"`` (``"W+* eps=0.1 PGD++ HNS"``) -> accuracy (%) under
    that attack over the training seeds run, a `_verdicts.Estimate`: mean ± sample std over
    the seeds, with the binomial noise of the N test images (`_verdicts.over_seeds`). A
    one-seed result of before the seeded tutorial counts as its one seed (`_seeded`)."""
    n = results["config"]["n"]
    values: dict[str, list[float]] = {}
    for name, per_seed in _seeded(results)[0]["models"].items():
        for entry in per_seed.values():
            for key, row in entry["eps"].items():
                for attack, accuracy in row.items():
                    values.setdefault(f"{name} eps={key} {attack}", []).append(100 * accuracy)
    return {cell: _verdicts.over_seeds(v, n=n) for cell, v in values.items()}


def _cells(runs: list, attacks: list, n: int) -> list[str]:
    """Each attack's accuracy (%) over ``runs`` (one ``{attack: accuracy}`` per training
    seed), as mean ± sample std."""
    return [_verdicts.over_seeds([100 * r[a] for r in runs if a in r], n=n).text(1)
            if any(a in r for r in runs) else "—" for a in attacks]


_SPREAD = ("each model's first row per eps is the mean ± sample standard deviation over the "
           "training seeds (± as in the Galloway tables), the rows below it one per seed; the "
           "verdict takes each cell's noise as that spread plus the binomial standard error of "
           "an accuracy on {n} images (the same images for every seed, so that part does not "
           "shrink with the seeds)")
_ONE_SEED = ("one training seed, so no ± is printed: the verdict takes each cell's noise as "
             "the binomial standard error of an accuracy on {n} images")
"""What ± means in the table (several seeds), or why there is none (one seed)."""


def summarize(results: dict) -> dict:
    """The section of docs/RESULTS.md (the paper's Table 5 rows beside tfbnn's: per model
    and eps, the mean ± sample std over the training seeds, then one row per seed), and the
    committed rule's verdict (`RULE`)."""
    config, n = results["config"], results["config"]["n"]
    paper5 = _common.paper("gupta2022_table5")
    attacks = list(dict.fromkeys(a for per_seed in results["models"].values()
                                 for entry in per_seed.values()
                                 for row in entry["eps"].values() for a in row))
    rows = []
    for name, per_seed in results["models"].items():
        ref = paper5["rows"].get(PAPER_NAMES.get(name, ""))
        if ref:
            cells = {c: v for c, v in zip(paper5["columns"], ref)}
            rows.append([f"paper {PAPER_NAMES[name]} (CIFAR-10 ResNet-18, 8/255)", "—", "—"]
                        + [("—" if cells.get(PAPER_COLUMNS.get(a, a)) is None
                            else f"{cells[PAPER_COLUMNS.get(a, a)]:.2f}") for a in attacks])
        label = f"tfbnn {name} ({PAPER_NAMES.get(name, name)})"
        for key in dict.fromkeys(k for entry in per_seed.values() for k in entry["eps"]):
            runs = {seed: entry["eps"][key] for seed, entry in per_seed.items()
                    if key in entry["eps"]}
            if len(runs) > 1:
                rows.append([label, key, f"mean ± std ({len(runs)} seeds)"]
                            + _cells(list(runs.values()), attacks, n))
            rows += [[label, key, seed] + _cells([row], attacks, n) for seed, row in runs.items()]
    judged = _verdicts.judge(_verdicts.load_rule(RULE), estimates(results), {})
    seeds = sorted({int(s) for per_seed in results["models"].values() for s in per_seed})
    return _common.summary(
        title="Gupta & Ajanthan, Tables 4, 5 and 8 pattern (PGD++ vs beta = 0.1, DLR, APGD, "
              "Square)",
        command="python tutorials/gupta2022_attack_comparison.py",
        paper_scale="CIFAR-10 ResNet-18 (Tables 4, 5) and VGG-16 (Table 8), L-inf 8/255, the "
                    "whole test set; accuracy %, one number per cell, no spread; DeepFool and "
                    "BBA not in tfbnn",
        tfbnn_scale=f"MNIST CleverHans CNN k1={config['k1']}, {config['epochs']} epochs, "
                    f"training seed{'s' if len(seeds) > 1 else ''} "
                    f"{', '.join(map(str, seeds))}, first {config['n']} test images, "
                    f"{config['iters']} iterations of step eps/4, Square "
                    f"{config['square_queries']} queries, attack seed {config['seed']}; "
                    "accuracy %; " + (_SPREAD if len(seeds) > 1 else _ONE_SEED).format(n=n),
        table=_common.markdown_table(["model (paper)", "eps", "training seed"] + attacks, rows),
        verdict=judged["verdict"], why=judged["why"])


def resummarize(results: dict, out=None) -> dict:
    """The summary from stored results alone (``make_results.py --rejudge``); a one-seed
    result of before the seeded tutorial is judged as that one seed, and says so."""
    results, legacy = _seeded(results)
    return _common.provisional(summarize(results), legacy, _zoo.DEFAULT_SPEC["seed"])


if __name__ == "__main__":
    main(_common.cli(__doc__, full={"n": 10000}, names=("n", "models", "seeds", "out")))
