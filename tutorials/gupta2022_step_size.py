"""Can a better PGD step size break BNNs? Gupta & Ajanthan, Figure 3.

Mirrors Figure 3 (Appendix C.3) of Gupta & Ajanthan, "Improved Gradient based
Adversarial Attacks for Quantized Networks" (AAAI 2022): L-inf PGD accuracy for a
sweep of step sizes eta at a fixed bound (8/255 on ResNet-18 / CIFAR-10). The paper:
"tuning the step size lowers adversarial accuracy a bit in some cases but still cannot
reach zero for BNNs unlike our proposed variants" (PGD++), because L-inf PGD only uses
the sign of the input gradient, which is zero where the gradient vanishes.

tfbnn's side is MNIST: the cached CleverHans CNNs of `tutorials/_zoo.py` (k1 = 64, 15
epochs): A (full precision), B and C (binary weights and activations in the hidden
layers, the BNN-WAQ pattern; C adds a learned scale). PGD L-inf, eps 0.1, 20
iterations, uniform random start, seed 0, one restart, for steps eps/40, eps/20,
eps/10, eps/4 (the paper's default ratio, Table 6), eps/2, eps and 2 eps (log-spaced
apart from eps/4); PGD++ NJS and HNS at the default step eps/4 for reference.

The verdict applies the rule in paper_numbers/rules/gupta2022_step_size.json
(`_verdicts`): on each binary model, PGD's lowest accuracy over the step sizes stays
above the better PGD++ variant's beyond 2 binomial standard errors of the n images
(both at 0 % counts for nothing). It is tfbnn's finding on MNIST CNNs; the paper's
claim is about CIFAR-10 ResNet-18 (RESULTS.md says so).

Default: the first n = 1000 MNIST test images; about 4-8 minutes on 2 CPU cores once
the models are cached. ``--full``: the whole 10,000-image test set and a denser sweep.
Results are written after every (model, attack), so a killed run resumes.

    python tutorials/gupta2022_step_size.py [--full] [--n 1000] [--models A B C]
"""

from __future__ import annotations

import numpy as np

import tfbnn  # noqa: F401  (Keras 2 set-up before TensorFlow)
import _common
import _verdicts
import _zoo
from _common import RESULTS, markdown_table, mnist_test, paper
from tfbnn import attacks

NAME = "gupta2022_step_size"
DEFAULT = {"models": ["A", "B", "C"], "k1": 64, "epochs": 15, "train_size": 60000,
           "n": 1000, "batch": 250, "eps": 0.1, "iters": 20,
           "step_fractions": [0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0],
           "default_step_fraction": 0.25, "plusplus": ["njs", "hns"], "rand_init": "uniform",
           "seed": 0, "out": str(RESULTS / f"{NAME}.json")}
FULL = {"n": 10000, "step_fractions": [0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.35, 0.5, 0.75,
                                       1.0, 1.5, 2.0]}
LABELS = {"A": "A (full precision)", "B": "B (BNN-WAQ pattern)",
          "C": "C (BNN-WAQ pattern, learned scale)", "W": "W (BNN-WQ pattern)"}
BOX = {"clip_min": 0.0, "clip_max": 1.0}


def units(config):
    """The attacks of the sweep: (group, key, ``f(model_fn, x, y)``)."""
    eps = config["eps"]
    pgd = dict(eps=eps, nb_iter=config["iters"], norm=np.inf, rand_init=config["rand_init"],
               seed=config["seed"], **BOX)
    for fraction in config["step_fractions"]:
        yield "pgd", str(fraction), (lambda f, x, y, s=fraction * eps:
                                     attacks.projected_gradient_descent(f, x, y=y, eps_iter=s,
                                                                        **pgd))
    step = config["default_step_fraction"] * eps
    for variant in config["plusplus"]:
        yield "plusplus", variant.upper(), (lambda f, x, y, v=variant: attacks.pgd_plus_plus(
            f, x, y=y, eps_iter=step, variant=v, **pgd))


def main(config: dict) -> dict:
    run = _common.Run(config, DEFAULT, FULL)
    config, models = run.config, run.section("models")
    x, y = mnist_test(config["n"])
    for variant in config["models"]:
        spec = _zoo.model_spec(variant, config)
        model_fn, info = _zoo.classifier(spec)
        entry = run.entry(models, variant, spec, {"model": info["spec"], "pgd": {},
                                                  "plusplus": {}})
        run.step(entry, "clean_accuracy", lambda: _common.accuracy(model_fn, x, y))
        for group, key, attack in units(config):
            run.step(entry[group], key, lambda: {"accuracy": _common.attack_accuracy(
                attack, model_fn, x, y, config["batch"])}, seconds=True,
                say=lambda r: f"{variant} {group:8s} {key:6s} acc {r['accuracy']:.3f}")
    return run.finish(resummarize(run.results, run.out))


def plot(results, out) -> list:
    plt = _common.pyplot()

    cfg = results["config"]
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for i, (variant, entry) in enumerate(results["models"].items()):
        steps = [f for f in cfg["step_fractions"] if str(f) in entry["pgd"]]
        ax.plot([cfg["eps"] * f for f in steps],
                [100 * entry["pgd"][str(f)]["accuracy"] for f in steps], "o-", color=f"C{i}",
                label=f"{variant}: PGD")
        for marker, (name, row) in zip("s^v", entry["plusplus"].items()):
            ax.plot([cfg["eps"] * cfg["default_step_fraction"]], [100 * row["accuracy"]], marker,
                    color=f"C{i}", markersize=9, label=f"{variant}: PGD++ {name}")
    ax.axvline(cfg["eps"] * cfg["default_step_fraction"], color="grey", lw=0.8, ls=":")
    ax.set(xscale="log", xlabel=f"step size (eps = {cfg['eps']})", ylabel="accuracy (%)",
           ylim=(0, 100),
           title=f"Figure 3 pattern, MNIST: PGD-{cfg['iters']} L-inf vs step size")
    ax.legend(fontsize=7, ncol=2)
    name = _common.save_figure(fig, out, dpi=120)
    return [name]


def estimates(results: dict) -> dict:
    """``"<model> PGD eta=eps*<fraction>"`` and ``"<model> PGD++ <variant>"`` -> accuracy (%)
    as a `_verdicts.Estimate` with the binomial noise of the n images (one training seed)."""
    n, ours = results["config"]["n"], {}
    for variant, entry in results["models"].items():
        for fraction, row in entry["pgd"].items():
            ours[f"{variant} PGD eta=eps*{fraction}"] = _verdicts.Estimate(
                100 * row["accuracy"], n=n)
        for name, row in entry["plusplus"].items():
            ours[f"{variant} PGD++ {name}"] = _verdicts.Estimate(100 * row["accuracy"], n=n)
    return ours


def summarize(results: dict, plots: list) -> dict:
    """Paper and tfbnn side by side, and the verdict of the committed rule."""
    cfg, rows = results["config"], results["models"]
    bound = paper("gupta2022_figures")["rows"][
        "Fig 3: L_inf bound for the step-size sweep (pixels of 255)"][0]
    header = ["model", "paper (ResNet-18, CIFAR-10)", "tfbnn clean %"]
    header += [f"PGD eta=eps*{f:g}" for f in cfg["step_fractions"]]
    header += [f"PGD++ {v.upper()} (eta=eps*{cfg['default_step_fraction']:g})"
               for v in cfg["plusplus"]]
    body = []
    for variant, entry in rows.items():
        claim = "above 0 and above PGD++ at every eta" if variant != "A" else "— (BNN claim only)"
        body.append([LABELS.get(variant, variant), claim,
                     f"{100 * entry['clean_accuracy']:.1f}"]
                    + [f"{100 * entry['pgd'][str(f)]['accuracy']:.1f}"
                       for f in cfg["step_fractions"]]
                    + [f"{100 * entry['plusplus'][v.upper()]['accuracy']:.1f}"
                       for v in cfg["plusplus"]])
    lines = [f"Accuracy % under attack (paper: eps {bound}/255, curve values not in the text; "
             f"tfbnn: eps {cfg['eps']}; no ± is shown: one training seed, whose noise in the "
             f"verdict is the binomial standard error of {cfg['n']} images, at most "
             f"{100 * (0.25 / cfg['n']) ** 0.5:.1f} points):", ""] + markdown_table(header, body)
    judged = _verdicts.judge(_verdicts.load_rule(NAME), estimates(results), {})
    why = judged["why"] + (" This is tfbnn's finding on MNIST CNNs; the paper's claim is "
                           "about CIFAR-10 ResNet-18.")
    return _common.summary(
        title="Gupta & Ajanthan, Figure 3 (PGD step-size sweep on BNNs)",
        command=f"python tutorials/{NAME}.py",
        paper_scale=(f"CIFAR-10, ResNet-18 (REF and BNNs), PGD L-inf eps {bound}/255, varying "
                     "step size; iterations and image count not stated for the figure; curve "
                     "values not in the text"),
        tfbnn_scale=(f"MNIST CleverHans CNNs (k1={cfg['k1']}, {cfg['epochs']} epochs; A full "
                     f"precision, B/C BNN-WAQ pattern), first {cfg['n']} test images, PGD L-inf "
                     f"eps {cfg['eps']}, {cfg['iters']} iterations, {cfg['rand_init']} start, "
                     f"one restart, seed {cfg['seed']}; one training seed"),
        table=lines, verdict=judged["verdict"], why=why, plots=plots)


def resummarize(results: dict, out) -> dict:
    """The summary from stored results alone (``make_results.py --rejudge``): the plot is
    redrawn beside ``out`` from the stored numbers; nothing is trained or attacked."""
    return summarize(results, plot(results, out))


if __name__ == "__main__":
    main(_common.cli(__doc__, FULL, ("n", "models", "k1", "epochs", "seed", "out")))
