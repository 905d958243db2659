"""Do BNNs look robust to PGD, and is it gradient masking? Gupta & Ajanthan, Table 1 and Figure 1.

Mirrors Gupta & Ajanthan, "Improved Gradient based Adversarial Attacks for Quantized
Networks" (AAAI 2022):

- Table 1: clean accuracy and L-inf PGD accuracy with 1 and 20 random restarts of a
  full-precision network (REF) and binarized ones (BNN-WQ: binary weights; BNN-WAQ:
  binary weights and activations). The paper: BNNs keep far higher PGD accuracy than
  REF, even with 20 restarts.
- Figure 1: the gradient-masking checks of Athalye, Carlini & Wagner (2018) on the
  BNNs: (a) accuracy vs attack iterations, (b) accuracy vs attack radius, (c) black-box
  PGD (crafted on the full-precision network trained on the same data) vs white-box
  PGD. The paper: (a) and (c) show signs of gradient masking, (b) does not.

tfbnn's side is MNIST, not CIFAR-10: the cached CleverHans CNNs of
`tutorials/_zoo.py` (k1 = 64, 15 epochs): A (REF), B and C (the BNN-WAQ pattern: binary
weights and activations in the hidden layers; C adds a learned scale); W (BNN-WQ,
binary weights only) can be added with ``--models A B C W`` (trained on first use).

Table 1's attack, at the paper's budget relative to eps (Table 6: eta = eps / 4,
T = 20): PGD L-inf, eps 0.1, 20 iterations of step eps / 4, uniform random start;
with 20 restarts every example keeps its worst case over the restarts (restart 0 is
the 1-restart run, so Adv.(20) <= Adv.(1) by construction). Figure 1's checks are
`tfbnn.evaluation.diagnostics.check_iterations` (PGD at 1, 5, 10, 20, 50, 100
iterations, FGSM for 1, step 2.5 eps / T) and `check_radius` (PGD-20 at eps/4 ... 4 eps
and the whole range 1.0); (c) is `check_transfer` with the A model as
the source (the paper's black-box source): the same PGD-20 crafted on A and evaluated
on each BNN, against white-box PGD-20 on the BNN itself.

The verdict applies the rule in paper_numbers/rules/gupta2022_masking_checks.json
(`_verdicts`): each binary model's PGD accuracy above A's at 1 and at 20 restarts beyond
2 binomial standard errors of the n images (ties at 0 % count for nothing), and the
three Figure 1 labels as the paper's caption states them. It is tfbnn's finding on
MNIST CNNs; the paper's claim is about CIFAR-10 ResNet/VGG (RESULTS.md says so).

Default: the first n = 500 MNIST test images, models A, B, C; about 8-12 minutes on 2
CPU cores once the models are cached. ``--full``: the whole 10,000-image test set
(several hours). Results are written after every finished unit (one attack or one
check of one model), so a killed run resumes.

    python tutorials/gupta2022_masking_checks.py [--full] [--n 500] [--models A B C]
"""

from __future__ import annotations

import numpy as np

import tfbnn  # noqa: F401  (Keras 2 set-up before TensorFlow)
import _common
import _verdicts
import _zoo
from _common import RESULTS, markdown_table, mnist_test, paper
from _zoo import trained_model
from tfbnn import attacks
from tfbnn.evaluation import diagnostics, prepare

NAME = "gupta2022_masking_checks"
DEFAULT = {"models": ["A", "B", "C"], "k1": 64, "epochs": 15, "train_size": 60000,
           "n": 500, "batch": 250, "eps": 0.1, "iters": 20, "step_fraction": 0.25,
           "restarts": [1, 20], "rand_init": "uniform", "seed": 0, "source": "A",
           "out": str(RESULTS / f"{NAME}.json")}
FULL = {"n": 10000}
PAPER_ROWS = {"A": "REF", "B": "BNN-WAQ", "C": "BNN-WAQ", "W": "BNN-WQ"}
LABELS = {"A": "A (REF)", "B": "B (BNN-WAQ pattern)", "C": "C (BNN-WAQ pattern, learned scale)",
          "W": "W (BNN-WQ pattern)", "S": "S (stochastic binary)"}
BOX = {"clip_min": 0.0, "clip_max": 1.0}
CHECKS = ("iterations", "radius", "transfer")


def _pgd_accuracy(config, target, x, y, restarts):
    eps = config["eps"]

    def craft(a, b):
        return attacks.projected_gradient_descent(
            target.attack_fn, a, eps, config["step_fraction"] * eps, config["iters"], np.inf,
            y=b, rand_init=config["rand_init"], seed=config["seed"], nb_restarts=restarts, **BOX)

    return float(target.scores(_common.in_batches(craft, x, y, batch=config["batch"]), y).mean())


def _transfer(config, target, source_fn, x, y):
    """Figure 1(c): PGD-20 crafted on the full-precision source vs white-box PGD-20."""
    check = diagnostics.check_transfer(target, x, y, config["eps"], "linf", config["seed"], BOX,
                                       None, source_fn=source_fn)
    check["data"]["source"] = config["source"]
    return check


def main(config: dict) -> dict:
    run = _common.Run(config, DEFAULT, FULL)
    config, models = run.config, run.section("models")
    x, y = mnist_test(config["n"])
    source_fn = None
    for variant in config["models"]:
        spec = _zoo.model_spec(variant, config)
        model, info = trained_model(spec)
        target = prepare(model, x[:8], stochastic=None if variant == "S" else False)
        entry = run.entry(models, variant, spec, {"model": info["spec"], "pgd": {},
                                                  "checks": {}})
        run.step(entry, "clean_accuracy", lambda: float(target.scores(x, y).mean()))
        for restarts in config["restarts"]:
            run.step(entry["pgd"], str(restarts),
                     lambda: {"accuracy": _pgd_accuracy(config, target, x, y, restarts)},
                     seconds=True, say=lambda r: f"{variant} PGD restarts={restarts:<3d} acc "
                                                 f"{r['accuracy']:.3f}")
        units = [("iterations", lambda: diagnostics.check_iterations(
                     target, x, y, config["eps"], "linf", config["seed"], BOX)),
                 ("radius", lambda: diagnostics.check_radius(
                     target, x, y, config["eps"], "linf", config["seed"], BOX))]
        if variant != config["source"]:
            if source_fn is None:
                source_fn, _ = _zoo.classifier(_zoo.model_spec(config["source"], config))
            units.append(("transfer", lambda: _transfer(config, target, source_fn, x, y)))
        for name, check in units:
            run.step(entry["checks"], name, check, seconds=True,
                     say=lambda c: f"{variant} check {name:10s} {c['verdict']}: "
                                   f"{c['explanation']}")
    return run.finish(resummarize(run.results, run.out))


def plot(results, out) -> list:
    plt = _common.pyplot()

    cfg, rows = results["config"], results["models"]
    names = []
    fig, ax = plt.subplots(figsize=(6, 3.5))
    width = 0.8 / (1 + len(cfg["restarts"]))
    for i, variant in enumerate(rows):
        bars = [rows[variant]["clean_accuracy"]] + [
            rows[variant]["pgd"].get(str(r), {}).get("accuracy", np.nan) for r in cfg["restarts"]]
        for j, value in enumerate(bars):
            ax.bar(i + (j - len(cfg["restarts"]) / 2) * width, 100 * value, width,
                   color=f"C{j}", label=None if i else (
                       "clean" if j == 0 else f"PGD, {cfg['restarts'][j - 1]} restart(s)"))
    ax.set_xticks(range(len(rows)), [LABELS.get(v, v).split(" (")[0] for v in rows])
    ax.set(ylabel="accuracy (%)", ylim=(0, 100))
    ax.set_title(f"Table 1 pattern, MNIST: PGD L-inf eps {cfg['eps']}, {cfg['iters']} it.")
    ax.legend(fontsize=8)
    names.append(_common.save_figure(fig, out, "_table1", dpi=120))

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for variant, entry in rows.items():
        checks = entry["checks"]
        if "iterations" in checks:
            d = checks["iterations"]["data"]
            axes[0].plot(d["iterations"], 100 * np.array(d["accuracy"]), "o-", label=variant)
        if "radius" in checks:
            d = checks["radius"]["data"]
            axes[1].plot(d["eps"], 100 * np.array(d["accuracy"]), "o-", label=variant)
    transfer = [(v, e["checks"]["transfer"]["data"]) for v, e in rows.items()
                if "transfer" in e["checks"]]
    for i, (variant, d) in enumerate(transfer):
        axes[2].bar(i - 0.2, 100 * d["white_box_accuracy"], 0.4, color="C0",
                    label=None if i else "white-box")
        axes[2].bar(i + 0.2, 100 * d["black_box_accuracy"], 0.4, color="C1",
                    label=None if i else f"black-box (from {cfg['source']})")
    axes[2].set_xticks(range(len(transfer)), [v for v, _ in transfer])
    axes[0].set(xscale="log", xlabel="PGD iterations (1 = FGSM)", ylabel="accuracy (%)",
                title="(a) accuracy vs iterations")
    axes[1].set(xscale="log", xlabel="L-inf radius", ylabel="accuracy (%)",
                title="(b) accuracy vs radius (PGD-20)")
    axes[2].set(ylabel="accuracy (%)", title=f"(c) black-box vs white-box, eps {cfg['eps']}")
    for ax in axes:
        ax.set_ylim(0, 100)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    fig.suptitle(f"Figure 1 pattern on MNIST CNNs (first {cfg['n']} test images)")
    names.append(_common.save_figure(fig, out, "_fig1", dpi=120))
    return names


def _pct(value):
    return "—" if value is None else f"{100 * value:.1f}"


def estimates(results: dict) -> dict:
    """Cell name -> `_verdicts.Estimate` (PGD accuracy %, with the binomial noise of the n
    images: one training seed, so no spread over seeds) or a Figure 1 label (PASS / WARN).

    Names: ``"B PGD restarts=20"``, ``"B iterations check"``, as the rule file uses them.
    """
    n, ours = results["config"]["n"], {}
    for variant, entry in results["models"].items():
        for restarts, row in entry.get("pgd", {}).items():
            ours[f"{variant} PGD restarts={restarts}"] = _verdicts.Estimate(
                100 * row["accuracy"], n=n)
        for name, check in entry.get("checks", {}).items():
            ours[f"{variant} {name} check"] = check["verdict"]
    return ours


def _paper_labels(rule: dict) -> dict:
    """The Figure 1 label the rule expects of a binary model, per check name."""
    return {name: check["value"] for check in rule["checks"] if check["kind"] == "equals"
            for name in CHECKS if check["a"] == f"{{model}} {name} check"}


def summarize(results: dict, plots: list) -> dict:
    """Paper and tfbnn side by side, and the verdict of the committed rule."""
    cfg, rows = results["config"], results["models"]
    rule = _verdicts.load_rule(NAME)
    table1 = paper("gupta2022_table1")
    header = ["tfbnn model", "paper row", "paper R18 clean / Adv(1) / Adv(20) %",
              "paper VGG16 clean / Adv(1) / Adv(20) %", "tfbnn clean %"]
    header += [f"tfbnn PGD, {r} restart{'s' * (r > 1)} %" for r in cfg["restarts"]]
    body = []
    for variant, entry in rows.items():
        row = PAPER_ROWS.get(variant)
        vals = table1["rows"].get(row)
        body.append([LABELS.get(variant, variant), row or "—",
                     " / ".join(f"{v:.2f}" for v in vals[:3]) if vals else "—",
                     " / ".join(f"{v:.2f}" for v in vals[3:]) if vals else "—",
                     _pct(entry["clean_accuracy"])]
                    + [_pct(entry["pgd"].get(str(r), {}).get("accuracy")) for r in cfg["restarts"]])
    se = 100 * (0.25 / cfg["n"]) ** 0.5
    lines = ["Table 1 (accuracy %; paper CIFAR-10 eps 8/255, tfbnn MNIST eps "
             f"{cfg['eps']}; no ± is shown: the paper prints none, and tfbnn's cells are one "
             f"training seed, whose noise in the verdict is the binomial standard error of "
             f"{cfg['n']} images, at most {se:.1f} points):", ""] + markdown_table(header, body)
    fig_rows = []
    for variant, entry in rows.items():
        c = entry["checks"]
        it = c.get("iterations", {}).get("data", {})
        rad = c.get("radius", {}).get("data", {})
        tr = c.get("transfer", {}).get("data")
        fig_rows.append([
            LABELS.get(variant, variant),
            (" → ".join(_pct(a) for a in it["accuracy"]) + f" ({c['iterations']['verdict']})")
            if it else "—",
            (" → ".join(_pct(a) for a in rad["accuracy"]) + f" ({c['radius']['verdict']})")
            if rad else "—",
            (f"{_pct(tr['black_box_accuracy'])} vs {_pct(tr['white_box_accuracy'])} "
             f"({c['transfer']['verdict']})") if tr else "— (is the source)"])
    expected = _paper_labels(rule)
    fig_rows.append(["paper, its BNNs (Fig. 1 caption)"]
                    + [expected.get(name, "—") for name in CHECKS])
    iters = (rows[next(iter(rows))]["checks"].get("iterations", {}).get("data", {})
             .get("iterations", diagnostics.ITERATIONS))
    lines += ["", "Figure 1 checks (tfbnn accuracy %, PASS = no sign of masking, WARN = sign "
              "of masking; no curve values are printed in the paper, only its labels):", ""]
    lines += markdown_table(
        ["model", f"(a) iterations {'/'.join(map(str, iters))}",
         "(b) radius eps/4 … 1.0 (PGD-20)",
         f"(c) black-box (from {cfg['source']}) vs white-box"], fig_rows)
    judged = _verdicts.judge(rule, estimates(results), {})
    why = judged["why"] + (" This is tfbnn's finding on MNIST CNNs; the paper's claim is "
                           "about CIFAR-10 ResNet-18 / VGG-16.")
    return _common.summary(
        title="Gupta & Ajanthan, Table 1 and Figure 1 (PGD with restarts; gradient-masking "
              "checks)",
        command=f"python tutorials/{NAME}.py",
        paper_scale=("CIFAR-10, ResNet-18 and VGG-16 (REF, BNN-WQ, BNN-WAQ), PGD L-inf eps "
                     "8/255, step 2/255, 20 iterations, 1 and 20 restarts; number of test "
                     "images not stated; Figure 1 on ResNet-18 (curves not in the text)"),
        tfbnn_scale=(f"MNIST CleverHans CNNs (k1={cfg['k1']}, {cfg['epochs']} epochs; A = REF, "
                     f"B/C = BNN-WAQ pattern), first {cfg['n']} test images, PGD L-inf eps "
                     f"{cfg['eps']}, step eps*{cfg['step_fraction']}, {cfg['iters']} iterations, "
                     f"{cfg['rand_init']} start, restarts {cfg['restarts']}, seed {cfg['seed']}; "
                     "one training seed"),
        table=lines, verdict=judged["verdict"], why=why, plots=plots)


def resummarize(results: dict, out) -> dict:
    """The summary from stored results alone (``make_results.py --rejudge``): the plots are
    redrawn beside ``out`` from the stored numbers; nothing is trained or attacked."""
    return summarize(results, plot(results, out))


if __name__ == "__main__":
    main(_common.cli(__doc__, FULL, ("n", "models", "k1", "epochs", "seed", "out")))
