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
and C models of `galloway2018_clean_variants.py` (trained once, shared). Accuracy is
on the first ``n`` test images; "worst case" is the per-example worst case over every
attack of the same norm and eps, the upper bound on robust accuracy that tfbnn reports.

Default: n = 1000, eps 0.1 and 0.3 (L-inf) and 2.0 (L2), seed 0; about 20 minutes on
2 CPU cores once the models are cached. Results are written after every attack, so a
killed run resumes.

    python tutorials/gupta2022_attack_strength.py [--n 1000] [--models A B C]
"""

from __future__ import annotations

import numpy as np

import _common
import _zoo
from _common import mnist_test
from tfbnn import attacks

DEFAULT = {"models": ["A", "B", "C"], "k1": 64, "epochs": 15, "train_size": 60000,
           "n": 1000, "batch": 250,
           "linf_eps": [0.1, 0.3], "l2_eps": [2.0], "iters": 20, "seed": 0,
           "out": str(_common.RESULTS / "gupta2022_attack_strength.json")}


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


def main(config: dict) -> dict:
    # The JSON on one line, as this tutorial has always written it; make_results.py renders
    # its section from the JSON, so NAME.md is this tutorial's own full tables.
    run = _common.Run(config, DEFAULT, indent=None)
    config, models = run.config, run.section("models")
    x, y = mnist_test(config["n"])
    for variant in config["models"]:
        spec = _zoo.model_spec(variant, config)
        model_fn, info = _zoo.classifier(spec)
        clean = _common.correct(model_fn, x, y)
        entry = run.entry(models, variant, spec, {"clean_accuracy": float(clean.mean()),
                                                  "model": info["spec"], "settings": {}})
        for norm, eps, table in _settings(config):
            key = f"{norm} eps={eps}"
            setting = entry["settings"].setdefault(key, {"attacks": {}})
            worst = clean.copy()
            for name, attack in table.items():
                row = run.step(setting["attacks"], name,
                               lambda: measure(attack, model_fn, x, y, config["batch"]),
                               say=lambda r: f"{variant} {key:13s} {name:24s} acc "
                                             f"{r['accuracy']:.3f}")
                worst &= np.array(row["robust"], bool)
            setting["worst_case_accuracy"] = float(worst.mean())
            run.save()
    return run.finish(markdown=markdown(run.results))


def markdown(results: dict) -> str:
    cfg = results["config"]
    lines = [
        "# PGD vs PGD++ (NJS, HNS) vs APGD on MNIST A, B, C",
        "",
        f"Written by `python tutorials/gupta2022_attack_strength.py`. k1={cfg['k1']}, "
        f"{cfg['epochs']} epochs, first {cfg['n']} MNIST test images, {cfg['iters']} "
        f"iterations (L-inf step eps/4, L2 step eps/8), one random start, seed {cfg['seed']}. "
        "Accuracy under attack (lower = stronger attack); worst case = per-example worst "
        "case over the attacks of that row's setting.",
        "",
    ]
    for variant, entry in results["models"].items():
        lines += [f"## {variant} (clean accuracy {entry['clean_accuracy']:.3f})", "",
                  "| setting | attack | accuracy | seconds |", "|---|---|---:|---:|"]
        for key, setting in entry["settings"].items():
            for name, row in setting["attacks"].items():
                lines.append(f"| {key} | {name} | {row['accuracy']:.3f} | {row['seconds']} |")
            if "worst_case_accuracy" in setting:
                lines.append(f"| {key} | **worst case** | **{setting['worst_case_accuracy']:.3f}** | |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main(_common.cli(__doc__, None, ("n", "models", "epochs", "k1", "seed", "out")))
