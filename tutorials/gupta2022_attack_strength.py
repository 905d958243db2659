"""PGD against PGD++ (NJS, HNS) and APGD at the same budget, on the MNIST A, B and C models.

Mirrors the pattern of Gupta & Ajanthan, "Improved Gradient based Adversarial Attacks
for Quantized Networks" (AAAI 2022), Tables 2 and 3 (FGSM, FGSM++, PGD L-inf and L2,
PGD++ with NJS and HNS) and Table 8 (APGD), on the first paper's MNIST models instead
of the second paper's CIFAR networks. Two of tfbnn's own questions are measured on
the way:

- the HNS grid: the paper's 100 linearly spaced betas against a log-spaced grid
  between the same bounds (which one finds the stronger beta);
- the random start: the paper's Uniform(-1, 1) noise projected onto the eps-box
  (``rand_init="paper"``, mostly corners) against the usual uniform start inside the
  box (``rand_init="uniform"``).

Budget, as the paper's Table 6 sets it relative to eps: L-inf, T = 20 iterations of
step eps / 4; L2, T = 20 of step eps / 8; one random start; FGSM one step of eps.
APGD runs the same 20 iterations. The models are the cached 15-epoch k1 = 64 A, B
and C models of `galloway2018_clean_variants.py` at its three training seeds (1234,
1235, 1236; trained once, shared through tutorials/_zoo.py). Accuracy is on the first
``n`` test images, measured once per training seed; each cell of the tables is the mean
± sample standard deviation over the seeds (± as in the Galloway tables), followed by
one row per seed; "worst case" is the per-example worst case over every attack of the
same norm and eps, the upper bound on robust accuracy that tfbnn reports.

The verdict applies the rule in paper_numbers/rules/gupta2022_attack_strength.json
(`_verdicts`): on A, B and C (the paper claims it for REF and binary networks alike), the
better PGD++ variant (NJS, or HNS on the paper's linear grid) leaves a lower accuracy than
L-inf PGD, L2 PGD and APGD-DLR, beyond two standard errors of the mean over the seeds
(their spread and the binomial noise of the n test images, `_verdicts.over_seeds`); pairs
where both attacks leave 0 % are saturated and count for nothing. The models are MNIST
CNNs, not the paper's CIFAR networks, so the pattern is compared, never the numbers.

Default: n = 1000, eps 0.1 and 0.3 (L-inf) and 2.0 (L2), attack seed 0, training seeds
1234, 1235 and 1236; about an hour on 2 CPU cores once the models are cached (3x the
one-seed run's 20 minutes; the models themselves, if not cached, about 5 min per model
and seed). Results are written after every attack of every model and seed, so a killed
run resumes.

    python tutorials/gupta2022_attack_strength.py [--n 1000] [--models A B C] [--seeds 1234]
"""

from __future__ import annotations

import numpy as np

import _common
import _verdicts
import _zoo
from _common import mnist_test
from tfbnn import attacks

RULE = "gupta2022_attack_strength"
DEFAULT = {"models": ["A", "B", "C"], "k1": 64, "epochs": 15, "train_size": 60000,
           "n": 1000, "batch": 250,
           "linf_eps": [0.1, 0.3], "l2_eps": [2.0], "iters": 20, "seed": 0,
           "seeds": [1234, 1235, 1236],
           "out": str(_common.RESULTS / "gupta2022_attack_strength.json")}
"""``seed``: the attacks' random starts; ``seeds``: the models' training seeds (one model
each)."""


def _linf_attacks(eps, iters, seed):
    step = eps / 4
    box = dict(clip_min=0.0, clip_max=1.0)
    pgd = dict(eps=eps, eps_iter=step, nb_iter=iters, norm=np.inf, seed=seed, **box)
    return {
        "FGSM": lambda f, x, y: attacks.fast_gradient_method(f, x, eps, np.inf, y=y, **box),
        "FGSM++ NJS": lambda f, x, y: attacks.fgsm_plus_plus(f, x, eps, np.inf, y=y,
                                                             variant="njs", **box),
        "FGSM++ HNS": lambda f, x, y: attacks.fgsm_plus_plus(f, x, eps, np.inf, y=y,
                                                             variant="hns", **box),
        "PGD (paper start)": lambda f, x, y: attacks.projected_gradient_descent(
            f, x, y=y, rand_init="paper", **pgd),
        "PGD (uniform start)": lambda f, x, y: attacks.projected_gradient_descent(
            f, x, y=y, rand_init="uniform", **pgd),
        "PGD++ NJS": lambda f, x, y: attacks.pgd_plus_plus(f, x, y=y, variant="njs",
                                                           rand_init="paper", **pgd),
        "PGD++ HNS (linear grid)": lambda f, x, y: attacks.pgd_plus_plus(
            f, x, y=y, variant="hns", hns_spacing="linear", rand_init="paper", **pgd),
        "PGD++ HNS (log grid)": lambda f, x, y: attacks.pgd_plus_plus(
            f, x, y=y, variant="hns", hns_spacing="log", rand_init="paper", **pgd),
        "APGD-CE": lambda f, x, y: attacks.auto_projected_gradient_descent(
            f, x, eps, iters, np.inf, "ce", y=y, seed=seed, **box),
        "APGD-DLR": lambda f, x, y: attacks.auto_projected_gradient_descent(
            f, x, eps, iters, np.inf, "dlr", y=y, seed=seed, **box),
    }


def _l2_attacks(eps, iters, seed):
    pgd = dict(eps=eps, eps_iter=eps / 8, nb_iter=iters, norm=2, seed=seed,
               clip_min=0.0, clip_max=1.0)
    return {
        "PGD L2": lambda f, x, y: attacks.projected_gradient_descent(f, x, y=y, **pgd),
        "PGD++ NJS L2": lambda f, x, y: attacks.pgd_plus_plus(f, x, y=y, variant="njs", **pgd),
        "PGD++ HNS L2": lambda f, x, y: attacks.pgd_plus_plus(f, x, y=y, variant="hns", **pgd),
    }


def _settings(config):
    for eps in config["linf_eps"]:
        yield "linf", eps, _linf_attacks(eps, config["iters"], config["seed"])
    for eps in config["l2_eps"]:
        yield "l2", eps, _l2_attacks(eps, config["iters"], config["seed"])


def measure(attack, model_fn, x, y, batch: int) -> dict:
    """One attack: accuracy, seconds, and which examples it left correctly classified."""
    robust, seconds = _common.timed(_common.attack_correct, attack, model_fn, x, y, batch)
    return {"accuracy": float(robust.mean()), "seconds": seconds,
            "robust": robust.astype(int).tolist()}


def _seeded(results: dict) -> tuple[dict, bool]:
    """``results`` with ``models`` as ``{model: {seed: entry}}``, and whether it had to be
    converted: a result of before the seeded tutorial (one entry per model) is its one
    training seed, `_zoo.DEFAULT_SPEC`'s (`_common.by_seed`)."""
    models, legacy = _common.by_seed(results.get("models", {}), _zoo.DEFAULT_SPEC["seed"])
    return {**results, "models": models}, legacy


def main(config: dict) -> dict:
    # The JSON on one line, as this tutorial has always written it.
    run = _common.Run(config, DEFAULT, indent=None)
    config = run.config
    run.results = _seeded(run.results)[0]  # a one-seed result resumes as its seed
    models = run.section("models")
    x, y = mnist_test(config["n"])
    for variant in config["models"]:
        per_seed = models.setdefault(variant, {})
        for seed in config["seeds"]:
            spec = _zoo.model_spec(variant, config, seed=seed)
            model_fn, info = _zoo.classifier(spec)
            clean = _common.correct(model_fn, x, y)
            entry = run.entry(per_seed, str(seed), spec, {
                "clean_accuracy": float(clean.mean()), "model": info["spec"], "settings": {}})
            for norm, eps, table in _settings(config):
                key = f"{norm} eps={eps}"
                setting = entry["settings"].setdefault(key, {"attacks": {}})
                worst = clean.copy()
                for name, attack in table.items():
                    row = run.step(setting["attacks"], name,
                                   lambda: measure(attack, model_fn, x, y, config["batch"]),
                                   say=lambda r: f"{variant} seed {seed} {key:13s} {name:24s} "
                                                 f"acc {r['accuracy']:.3f}")
                    worst &= np.array(row["robust"], bool)
                setting["worst_case_accuracy"] = float(worst.mean())
                run.save()
    return run.finish(resummarize(run.results, run.out))


def estimates(results: dict) -> dict:
    """``"<model> <setting> <attack>"`` (``"B linf eps=0.1 PGD++ NJS"``) -> accuracy (%)
    under that attack over the training seeds run, a `_verdicts.Estimate`: mean ± sample
    std over the seeds, with the binomial noise of the n test images (`_verdicts.over_seeds`).
    A one-seed result of before the seeded tutorial counts as its one seed (`_seeded`)."""
    n = results["config"]["n"]
    values: dict[str, list[float]] = {}
    for model, per_seed in _seeded(results)[0]["models"].items():
        for entry in per_seed.values():
            for key, setting in entry["settings"].items():
                for name, row in setting["attacks"].items():
                    values.setdefault(f"{model} {key} {name}", []).append(100 * row["accuracy"])
    return {cell: _verdicts.over_seeds(v, n=n) for cell, v in values.items()}


def _row(label: str, runs: list, names: tuple, n: int) -> list[str]:
    """One table row over ``runs`` (``(entry, setting)`` per training seed): the clean
    accuracy, each attack's and the worst case, as mean ± sample std over the runs (%)."""
    def cell(values):
        values = [100 * v for v in values if v is not None]
        return _verdicts.over_seeds(values, n=n).text(1) if values else "—"

    return ([label, cell([entry["clean_accuracy"] for entry, _ in runs])]
            + [cell([s["attacks"].get(a, {}).get("accuracy") for _, s in runs]) for a in names]
            + [cell([s.get("worst_case_accuracy") for _, s in runs])])


def _tables(results: dict) -> list[str]:
    """One Markdown table per set of attacks (L-inf, L2): per model and setting, a row of
    means ± sample std over the training seeds (with several seeds), then one row per seed."""
    n = results["config"]["n"]
    tables: dict[tuple, list[str]] = {}
    for variant, per_seed in results["models"].items():
        for key in dict.fromkeys(k for entry in per_seed.values() for k in entry["settings"]):
            runs = {seed: (entry, entry["settings"][key]) for seed, entry in per_seed.items()
                    if key in entry["settings"]}
            names = tuple(next(iter(runs.values()))[1]["attacks"])
            rows = tables.setdefault(names, [])
            if len(runs) > 1:
                rows.append([variant, key] + _row(f"mean ± std ({len(runs)} seeds)",
                                                  list(runs.values()), names, n))
            rows += [[variant, key] + _row(seed, [run], names, n) for seed, run in runs.items()]
    lines = []
    for names, rows in tables.items():
        header = ["model", "setting", "training seed", "clean"] + list(names) + ["worst case"]
        lines += _common.markdown_table(header, rows) + [""]
    return lines[:-1]


_SPREAD = ("each model's first row per setting is the mean ± sample standard deviation over "
           "the training seeds (± as in the Galloway tables), the rows below it one per seed; "
           "the verdict takes each cell's noise as that spread plus the binomial standard "
           "error of an accuracy on {n} images (the same images for every seed, so that part "
           "does not shrink with the seeds)")
_ONE_SEED = ("one training seed, so no ± is printed: the verdict takes each cell's noise as "
             "the binomial standard error of an accuracy on {n} images")
"""What ± means in the tables (several seeds), or why there is none (one seed)."""


def summarize(results: dict) -> dict:
    """The section of docs/RESULTS.md: every attack's accuracy over the training seeds, and
    the committed rule's verdict (`RULE`)."""
    cfg = results["config"]
    judged = _verdicts.judge(_verdicts.load_rule(RULE), estimates(results), {})
    seeds = sorted({int(s) for per_seed in results["models"].values() for s in per_seed})
    return _common.summary(
        title="Gupta & Ajanthan, Tables 2, 3 and 8 pattern (PGD vs PGD++ vs APGD, MNIST)",
        command="python tutorials/gupta2022_attack_strength.py",
        paper_scale="CIFAR-10/100 networks (not MNIST) at the budgets of its Table 6, one "
                    "random start, the whole test set; one number per cell, no spread; only "
                    "the pattern is compared: PGD++ beats PGD and APGD (binary and REF "
                    "networks)",
        tfbnn_scale=f"the cached k1={cfg['k1']}, {cfg['epochs']}-epoch models at training "
                    f"seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))}, first "
                    f"{cfg['n']} MNIST test images, {cfg['iters']} iterations (L-inf step "
                    f"eps/4, L2 step eps/8), one random start, attack seed {cfg['seed']}; "
                    "accuracy % under attack (lower = stronger attack); "
                    + (_SPREAD if len(seeds) > 1 else _ONE_SEED).format(n=cfg["n"])
                    + "; worst case = per-example worst case over the attacks of that row",
        table=_tables(results), verdict=judged["verdict"], why=judged["why"])


def resummarize(results: dict, out=None) -> dict:
    """The summary from stored results alone (``make_results.py --rejudge``); a one-seed
    result of before the seeded tutorial is judged as that one seed, and says so."""
    results, legacy = _seeded(results)
    return _common.provisional(summarize(results), legacy, _zoo.DEFAULT_SPEC["seed"])


if __name__ == "__main__":
    main(_common.cli(__doc__, None, ("n", "models", "epochs", "k1", "seed", "seeds", "out")))
