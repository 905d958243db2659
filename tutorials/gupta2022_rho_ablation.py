"""PGD++ accuracy against rho: NJS (Table 12) and the Proposition-1 beta alone (Table 14).

Mirrors: Gupta & Ajanthan, "Improved Gradient based Adversarial Attacks for Quantized
Networks" (AAAI 2022), Appendix C.4 and C.6:

- Table 12: L-inf PGD++ with NJS for rho in {1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 2e-1}. rho
  only matters where the softmax of ``beta_1 a`` saturates (``1 - p'_k <= rho``, then
  ``beta_2 < 1``); the share of clean images where that happens is recorded per rho.
  ``beta_1`` is estimated once per model from the first 100 of the attacked images.
- Table 14: L-inf PGD++ whose per-image ``beta`` is Proposition 1's bound alone
  (``beta = -log(rho / ((d - 1)(1 - rho))) / gamma``, ``gamma`` the max - min logit gap,
  so that ``1 - softmax(beta a)_k >= rho``; no NJS ``beta_1``), for rho in {1e-15, 1e-9,
  1e-5, 1e-1, 2e-1, 5e-1}. The paper does not say when ``beta`` is computed; here it is
  computed once at the clean image (as HNS's), for correctly classified images only
  (misclassified ones keep ``beta = 1``), and fixed for the 20 iterations.

Plain PGD at the same budget is run as the reference. Budget as in
tutorials/gupta2022_attack_strength.py: L-inf eps 0.1, 20 iterations of step eps / 4,
one random start (the paper's Uniform(-1, 1) projected, ``rand_init="paper"``), seed 0.

The paper's networks are CIFAR-10 ResNet-18s (REF, BNN-WQ, BNN-WAQ and, in Table 14,
the adversarially trained REF* and BNN-WQ*); tfbnn's are the MNIST CleverHans CNNs of
tutorials/_zoo.py: A (~REF), W (binary weights only, ~BNN-WQ), B and C (binary weights
and activations, ~BNN-WAQ). ``--full`` adds PGD-trained A* and W* (L-inf PGD, 7
iterations of step eps / 4 at the attack's eps 0.1 for every epoch, as the paper's '*'
models use 7 iterations of step eps / 4 at its attack eps) and the whole test set.

Default: A, B, C, W (k1 = 64, 15 epochs), the first 500 test images, 13 attacks per
model: about 6 minutes on 2 CPU cores once the models are cached (W trains on first
use, about 5 more minutes; shared with gupta2022_signal_propagation.py). ``--full``:
10,000 images and two adversarially trained models, several hours on CPU. Results are
saved after every attack, so a killed run resumes.

The verdict applies the rule of paper_numbers/rules/gupta2022_rho_ablation.json
(`_verdicts`): Table 12, on each model, the NJS accuracy varies by at most 2 points over
the rhos, counted only where rho can change the attack (``beta_2 < 1`` on at least 2 %
of the attacked images, accuracies off 0 and 100 %; elsewhere 'not run', with the
reason); Table 14, on W (~BNN-WQ) rho 1e-15 leaves more accuracy than every other rho,
and on A* and W* each large rho more than the best small one, beyond the binomial noise
of the attacked images. B and C have no row in Table 14.

    python tutorials/gupta2022_rho_ablation.py [--full] [--models A B C W] [--n 500]
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import tfbnn  # noqa: F401  (Keras 2 set-up before TensorFlow)
import tensorflow as tf

import _common
import _verdicts
import _zoo
from _common import mnist_test
from tfbnn import attacks, export, temperature
from tfbnn.attacks import core

NAME = "gupta2022_rho_ablation"
NJS_RHOS = [float(r) for r in _common.paper("gupta2022_table12")["columns"]]
PROP1_RHOS = [float(r) for r in _common.paper("gupta2022_table14")["columns"]]
ADVERSARY = {"kind": "pgd", "eps": 0.1, "eps_iter": 0.025, "nb_iter": 7}
DEFAULT = {"models": ["A", "B", "C", "W"], "adv_models": [], "k1": 64, "epochs": 15,
           "train_size": 60000, "n": 500, "batch": 250, "eps": 0.1, "iters": 20, "seed": 0,
           "njs_samples": 100, "njs_rhos": NJS_RHOS, "prop1_rhos": PROP1_RHOS, "full": False,
           "out": str(_common.RESULTS / f"{NAME}.json")}
FULL = {"adv_models": ["A", "W"], "n": 10000}
STABLE = "njs stable"
"""The id of the rule's Table 12 check, whose ``value`` (points) also sets its premise."""
PAPER_COLUMNS = {"A": "REF", "W": "BNN-WQ", "B": "BNN-WAQ", "C": "BNN-WAQ",
                 "A*": "REF*", "W*": "BNN-WQ*"}


def _names(config) -> list:
    return list(config["models"]) + [f"{v}*" for v in config["adv_models"]]


def spec(config, name: str) -> dict:
    """The cache spec of ``name``: a variant, or ``"A*"``: A PGD-7-trained every epoch."""
    if name.endswith("*"):
        return {**_zoo.model_spec(name[0], config), "adversary": ADVERSARY,
                "last_epochs": config["epochs"]}
    return _zoo.model_spec(name, config)


def _key(family: str, rho: float) -> str:
    return f"PGD++ {family} rho={rho:.0e}"


def _prop1_beta(model_fn, x, y, rho):
    """Proposition 1's beta per image at the clean input; 1 where misclassified."""
    logits = tf.constant(export.predict_in_batches(model_fn, x))
    gamma = tf.reduce_max(logits, -1) - tf.reduce_min(logits, -1)
    bound = temperature.beta_upper_bound(tf.maximum(gamma, 1e-6), rho, int(logits.shape[-1]))
    correct = tf.equal(tf.argmax(logits, -1), tf.constant(y))
    return tf.where(correct, bound, tf.ones_like(bound))


def attack_table(config, beta1):
    """The attacks: name -> (family, rho, ``f(model_fn, x, y)``)."""
    pgd = dict(eps=config["eps"], eps_iter=config["eps"] / 4, nb_iter=config["iters"],
               norm=np.inf, clip_min=0.0, clip_max=1.0, rand_init="paper", seed=config["seed"])
    table = {"PGD": ("PGD", None, lambda f, x, y: attacks.projected_gradient_descent(
        f, x, y=y, **pgd))}
    for rho in config["njs_rhos"]:
        table[_key("NJS", rho)] = ("NJS", rho, lambda f, x, y, rho=rho: attacks.pgd_plus_plus(
            f, x, y=y, variant="njs", rho=rho, njs_beta1=beta1, **pgd))
    for rho in config["prop1_rhos"]:
        def prop1(f, x, y, rho=rho):
            loss = core.ParametrizedLoss(temperature.scaled_cross_entropy,
                                         _prop1_beta(f, x, y, rho), key="prop1")
            return attacks.projected_gradient_descent(f, x, y=y, loss_fn=loss, **pgd)
        table[_key("Prop1", rho)] = ("Prop1", rho, prop1)
    return table


def _diagnostic(family, rho, model_fn, x, y, beta1) -> float | None:
    """NJS: share of correctly classified images with beta_2 < 1; Prop1: their median beta."""
    if family == "PGD":
        return None
    logits = tf.constant(export.predict_in_batches(model_fn, x))
    correct = np.argmax(logits, -1) == y
    if not correct.any():
        return None
    if family == "NJS":
        beta2 = temperature.njs_beta2(logits, y, rho, beta1).numpy()
        return float(np.mean(beta2[correct] < 1))
    return float(np.median(_prop1_beta(model_fn, x, y, rho).numpy()[correct]))


def _spread(entry, family, rhos) -> float:
    accs = [entry["attacks"][_key(family, r)]["accuracy"] for r in rhos]
    return 100 * (max(accs) - min(accs))


def _tolerance(rule: dict) -> float:
    """The Table 12 check's tolerance, in points of accuracy (the rule file's)."""
    return float(next(c for c in rule["checks"] if c["id"] == STABLE)["value"])


def _untestable(entry, config, tolerance: float) -> str | None:
    """Why the NJS spread of ``entry`` cannot show instability, or None when it can.

    rho enters NJS only where ``beta_2 < 1``, so the accuracy can move by ``tolerance``
    points only if that happens on at least ``tolerance`` % of the attacked images
    (measured at the clean images, at the largest rho, where it happens most); and not
    when every NJS accuracy sits at 0 or 100 %.
    """
    rows = [entry["attacks"][_key("NJS", r)] for r in config["njs_rhos"]]
    fired = 100 * max(r.get("diagnostic") or 0.0 for r in rows) * entry["clean_accuracy"]
    if fired == 0:
        return ("beta_2 < 1 on no attacked image at any rho, so every rho runs the same "
                "attack and the spread is 0 by construction")
    if fired < tolerance:
        return (f"beta_2 < 1 on {fired:.1f} % of the attacked images at most, too few for a "
                f"spread of {tolerance:g} points to show")
    if all(r["accuracy"] in (0.0, 1.0) for r in rows):
        return "every NJS accuracy sits at 0 or 100 %, where no spread can show"
    return None


def estimates(results: dict) -> dict:
    """Cell name -> `_verdicts.Estimate`: ``"<model> Prop1 rho=<rho>"`` (accuracy %, the
    binomial noise of the attacked images) and ``"<model> NJS spread"`` (points, exact)
    where rho can change the attack (`_untestable`)."""
    config = {**DEFAULT, **results["config"]}
    tolerance = _tolerance(_verdicts.load_rule(NAME))
    ours = {}
    for name, entry in results["models"].items():
        attacks = entry.get("attacks", {})
        for rho in config["prop1_rhos"]:
            if _key("Prop1", rho) in attacks:
                ours[f"{name} Prop1 rho={rho:.0e}"] = _verdicts.Estimate(
                    100 * attacks[_key("Prop1", rho)]["accuracy"], n=config["n"])
        if (all(_key("NJS", r) in attacks for r in config["njs_rhos"])
                and _untestable(entry, config, tolerance) is None):
            ours[f"{name} NJS spread"] = _verdicts.Estimate(
                _spread(entry, "NJS", config["njs_rhos"]))
    return ours


def _pct(v) -> str:
    return "—" if v is None else f"{100 * v:.1f}"


def plot(results, config, out: Path) -> str:
    plt = _common.pyplot()

    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, family, rhos, title in ((axes[0], "NJS", config["njs_rhos"], "Table 12: PGD++ NJS"),
                                    (axes[1], "Prop1", config["prop1_rhos"],
                                     "Table 14: PGD++ with Proposition 1's beta")):
        for i, name in enumerate(_names(config)):
            entry = results["models"].get(name)
            if not entry or any(_key(family, r) not in entry["attacks"] for r in rhos):
                continue
            accs = [100 * entry["attacks"][_key(family, r)]["accuracy"] for r in rhos]
            ax.plot(rhos, accs, "o-", color=f"C{i}", label=name)
            ax.axhline(100 * entry["attacks"]["PGD"]["accuracy"], color=f"C{i}", ls="--", lw=0.8)
        ax.set_xscale("log")
        ax.set_xlabel("rho")
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=7)
    axes[0].set_ylabel("accuracy under attack % (dashed: PGD)")
    fig.suptitle(f"MNIST CNNs, L-inf eps {config['eps']}, {config['iters']} iterations, "
                 f"first {config['n']} test images", fontsize=9)
    name = _common.save_figure(fig, out, dpi=110)
    return name


def _command(config) -> str:
    return _common.command(NAME, config, DEFAULT, FULL)


def summarize(results, plot_file: str) -> dict:
    """The section of docs/RESULTS.md; verdict: the rule of
    paper_numbers/rules/gupta2022_rho_ablation.json."""
    config = {**DEFAULT, **results["config"]}
    names = [n for n in _names(config) if n in results["models"]
             and len(results["models"][n]["attacks"]) == len(attack_table(config, 1.0))]
    t12, t14 = _common.paper("gupta2022_table12"), _common.paper("gupta2022_table14")
    pgd = _common.paper("gupta2022_table5")
    pgd_col = pgd["columns"].index("PGD")

    def paper_cell(table, column, rho):
        key = f"{rho:.0e}"
        if column not in table["rows"] or key not in table["columns"]:
            return "—"
        return f"{table['rows'][column][table['columns'].index(key)]:.2f}"

    lines = []
    for caption, family, rhos, table, columns in (
            ("Table 12, PGD++ with NJS, accuracy % under attack", "NJS", config["njs_rhos"], t12,
             ["REF", "BNN-WQ", "BNN-WAQ"]),
            ("Table 14, PGD++ with Proposition 1's beta alone, accuracy % under attack", "Prop1",
             config["prop1_rhos"], t14, ["REF", "BNN-WQ", "REF*", "BNN-WQ*"])):
        header = ["attack"] + [f"paper {c}" for c in columns] + [f"tfbnn {n}" for n in names]
        rows = [["PGD (no temperature; paper: Table 5)"]
                + [f"{pgd['rows'][c][pgd_col]:.2f}" for c in columns]
                + [_pct(results["models"][n]["attacks"]["PGD"]["accuracy"]) for n in names]]
        for rho in rhos:
            rows.append([f"rho = {rho:g}"] + [paper_cell(table, c, rho) for c in columns]
                        + [_pct(results["models"][n]["attacks"][_key(family, rho)]["accuracy"])
                           for n in names])
        paper_spread = [f"{max(table['rows'][c]) - min(table['rows'][c]):.2f}" for c in columns]
        rows.append(["spread over rho (points)"] + paper_spread
                    + [f"{_spread(results['models'][n], family, rhos):.1f}" for n in names])
        label = ("share of clean correct images with beta_2 < 1" if family == "NJS"
                 else "median beta of the clean correct images")
        for rho in sorted({min(rhos), max(rhos)} if family == "Prop1" else {max(rhos)}):
            diag = [results["models"][n]["attacks"][_key(family, rho)].get("diagnostic")
                    for n in names]
            rows.append([f"{label}, rho = {rho:g}"] + ["—"] * len(columns)
                        + ["—" if d is None else f"{d:.3g}" for d in diag])
        lines += [f"{caption}:", ""] + _common.markdown_table(header, rows) + [""]
    rule = _verdicts.load_rule(NAME)
    judged = _verdicts.judge(rule, estimates(results), {})
    reasons = [f"{name}, {reason}" for name, entry in results["models"].items()
               if all(_key("NJS", r) in entry.get("attacks", {}) for r in config["njs_rhos"])
               for reason in [_untestable(entry, config, _tolerance(rule))] if reason]
    why = judged["why"] + (" Table 12 not run on " + "; on ".join(reasons) + "."
                           if reasons else "")
    return _common.summary(
        title="Gupta & Ajanthan, Tables 12 and 14 (PGD++ accuracy against rho, MNIST)",
        command=_command(config),
        paper_scale="CIFAR-10 ResNet-18 (REF, BNN-WQ, BNN-WAQ; Table 14 also PGD-trained REF* "
                    "and BNN-WQ*), the test set, L-inf eps 8/255, 20 iterations of step 2/255, "
                    "one random start",
        tfbnn_scale=f"MNIST CleverHans CNNs k1={config['k1']}, {config['epochs']} epochs (A ~ REF, "
                    f"W binary weights ~ BNN-WQ, B and C binary weights and activations ~ "
                    f"BNN-WAQ; A*, W*: PGD-7 trained at eps {ADVERSARY['eps']}), first "
                    f"{config['n']} test images, L-inf eps {config['eps']}, {config['iters']} "
                    f"iterations of step eps/4, one random start, seed {config['seed']}; NJS "
                    f"beta_1 from the first {config['njs_samples']} of those images; each "
                    f"cell is one run (one model, one attack seed), printed without ±, and the "
                    f"verdict reads it with the binomial standard error of {config['n']} images",
        table=lines[:-1], verdict=judged["verdict"], why=why, plots=[plot_file])


def measure(family, rho, attack, model_fn, x, y, beta1, config) -> dict:
    """One attack: its accuracy and seconds, and the family's diagnostic."""
    accuracy, seconds = _common.timed(_common.attack_accuracy, attack, model_fn, x, y,
                                      config["batch"])
    return {"family": family, "rho": rho, "accuracy": accuracy, "seconds": seconds,
            "diagnostic": _diagnostic(family, rho, model_fn, x, y, beta1)}


def main(config: dict) -> dict:
    run = _common.Run(config, DEFAULT, FULL)
    config, models = run.config, run.section("models")
    x, y = mnist_test(config["n"])
    for name in _names(config):
        model_fn, info = _zoo.classifier(spec(config, name))
        entry = run.entry(models, name, spec(config, name), {"attacks": {}})
        if "njs_beta1" not in entry:
            entry.update(
                model=info["spec"], clean_accuracy=_common.accuracy(model_fn, x, y),
                njs_beta1=float(temperature.njs_beta1(model_fn, x, config["njs_samples"])))
        for key, (family, rho, attack) in attack_table(config, entry["njs_beta1"]).items():
            run.step(entry["attacks"], key, lambda: measure(family, rho, attack, model_fn, x, y,
                                                            entry["njs_beta1"], config),
                     say=lambda row: f"{name:3s} {key:24s} acc {row['accuracy']:.3f}")
    return run.finish(resummarize(run.results, run.out))


def resummarize(results: dict, out) -> dict:
    """The summary from stored results alone (``make_results.py --rejudge``): the plot is
    redrawn beside ``out`` from the stored accuracies; nothing is attacked."""
    config = {**DEFAULT, **results["config"]}
    return summarize(results, plot(results, config, out))


if __name__ == "__main__":
    main(_common.cli(__doc__, {**FULL, "full": True}, ("models", "n", "k1", "epochs", "out")))
