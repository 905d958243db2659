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

import argparse
import json
import time
from pathlib import Path

import numpy as np

from _common import mnist_test
from _zoo import trained_model
from tfbnn import attacks, export

HERE = Path(__file__).parent
DEFAULT = {"models": ["A", "B", "C"], "k1": 64, "epochs": 15, "train_size": 60000,
           "n": 1000, "batch": 250,
           "linf_eps": [0.1, 0.3], "l2_eps": [2.0], "iters": 20, "seed": 0,
           "out": str(HERE / "results" / "gupta2022_attack_strength.json")}


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


def main(config: dict) -> dict:
    config = {**DEFAULT, **config}
    out = Path(config["out"])
    out.parent.mkdir(parents=True, exist_ok=True)
    results = json.loads(out.read_text()) if out.exists() else None
    if not results or {**DEFAULT, **results["config"]} != config:  # another run's: start over
        results = {"config": config, "models": {}}
    x, y = mnist_test(config["n"])
    for variant in config["models"]:
        model, info = trained_model({"variant": variant, "k1": config["k1"],
                                     "epochs": config["epochs"],
                                     "train_size": config["train_size"]})
        model_fn = lambda t, m=model: m(t, training=False)  # noqa: E731
        clean = export.predict_in_batches(model_fn, x).argmax(-1) == y
        entry = results["models"].setdefault(variant, {"clean_accuracy": float(clean.mean()),
                                                       "model": info["spec"], "settings": {}})
        for norm, eps, table in _settings(config):
            key = f"{norm} eps={eps}"
            setting = entry["settings"].setdefault(key, {"attacks": {}})
            worst = clean.copy()
            for name, attack in table.items():
                if name in setting["attacks"]:
                    robust = np.array(setting["attacks"][name]["robust"], bool)
                else:
                    started = time.time()
                    adv = np.concatenate([
                        np.asarray(attack(model_fn, x[i:i + config["batch"]],
                                          y[i:i + config["batch"]]))
                        for i in range(0, len(x), config["batch"])])
                    robust = export.predict_in_batches(model_fn, adv).argmax(-1) == y
                    setting["attacks"][name] = {
                        "accuracy": float(robust.mean()), "seconds": round(time.time() - started, 1),
                        "robust": robust.astype(int).tolist()}
                    export.atomic_write_text(out, json.dumps(results) + "\n")
                    print(f"{variant} {key:13s} {name:24s} acc {robust.mean():.3f}", flush=True)
                worst &= robust
            setting["worst_case_accuracy"] = float(worst.mean())
            export.atomic_write_text(out, json.dumps(results) + "\n")
    export.atomic_write_text(out.with_suffix(".md"), markdown(results))
    return results


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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=DEFAULT["n"])
    parser.add_argument("--models", nargs="+", default=DEFAULT["models"])
    parser.add_argument("--epochs", type=int, default=DEFAULT["epochs"])
    parser.add_argument("--k1", type=int, default=DEFAULT["k1"])
    parser.add_argument("--seed", type=int, default=DEFAULT["seed"])
    parser.add_argument("--out", default=DEFAULT["out"])
    args = parser.parse_args()
    main({"n": args.n, "models": args.models, "epochs": args.epochs, "k1": args.k1,
          "seed": args.seed, "out": args.out})
