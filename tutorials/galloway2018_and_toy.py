"""Decision surface and forward derivative of the AND toy MLP. Galloway et al., Figures 3 and 4.

Mirrors Appendix B of Galloway, Taylor, Moussa, "Attacking Binarized Neural Networks"
(ICLR 2018): Figure 3 (two hidden units in the first two layers: decision surface and
forward derivative with respect to x2, full precision vs a binarized middle layer) and
Figure 4 (four hidden units, quantized middle layer). The network is
`tfbnn.models.and_mlp` (2 inputs, two sigmoid hidden layers, one output logit; with
``quantized=True`` the middle layer's inputs and weights are binarized to +-1 with a
straight-through estimator). All four configurations are trained: full precision and
quantized, 2 and 4 hidden units (the paper shows no full-precision 4-unit model; it is
the control for Figure 4).

Training, as Appendix B states: Adam, learning rate 0.1, 1,000 epochs. What the text
does not state and tfbnn chooses: the training set follows Papernot et al. (2016)'s toy
problem as tfbnn reads it, ``train_size`` = 1,000 points drawn uniformly from [0, 1]^2
labelled round(x1) AND round(x2) (label 1 iff x1 >= 0.5 and x2 >= 0.5); full-batch
updates (one Adam step per epoch); sigmoid cross-entropy; several initialisation seeds
(the data set is the same for every seed), each metric reported as its mean and sample
standard deviation over seeds.

What is measured, on a ``grid`` x ``grid`` lattice over [0, 1]^2, of the sigmoid output
s(x) = sigmoid(logit(x)):
- the decision surface s; ``grid_accuracy``: agreement of s > 0.5 with the rounded AND;
  ``transition_band``: fraction of the grid with 0.1 < s < 0.9 (smaller = sharper
  boundary); ``distinct_outputs``: number of distinct values of s (rounded to 1e-6): a
  network whose output passes through a binary bottleneck takes at most 2^units values;
- the forward derivative as an attacker computes it: autodiff ds/dx through the model
  (straight-through estimator in the binary layer), the paper's panels show ds/dx2;
  ``near_zero_dx2``: fraction of the grid with |ds/dx2| < ``near_zero``;
  ``jump_frac_dx2``: fraction of neighbouring grid pairs where ds/dx2 changes by more
  than half its largest magnitude on the grid in one grid step (sharp edges; a steep
  but smooth surface sampled coarsely also counts);
- the true local slope: central finite differences of s (step ``fd_h``);
  ``near_zero_grad_fd``: fraction of the grid with |grad s| < ``near_zero``;
  ``autodiff_vs_fd_mismatch``: fraction of the grid where the autodiff gradient differs
  from the finite-difference one by more than 10 % (+ ``near_zero``), i.e. where the
  gradient an attacker gets is not the function's slope.

The verdict applies the rule in paper_numbers/rules/galloway2018_and_toy.json
(`_verdicts`) to each metric's mean over the seeds with their spread (a difference
inside the spread is inconclusive): C1 every configuration agrees with AND on more than
90 % of the grid; C2 the quantized 2-unit MLP's ds/dx2 jumps more often than the
full-precision one's; C3 the quantized 4-unit MLP's ds/dx2 is near zero on more than
90 % of the grid, and more often than the quantized 2-unit and full-precision 4-unit
MLPs'; C4 the quantized 2-unit MLP's boundary is more accurate and sharper than the
full-precision one's. Default = the paper's scale (1,000 epochs), 5 seeds, 101 x 101
grid: about 1-2 minutes on 2 CPU cores.
Finished (configuration, seed) pairs are stored with their trained weights, so a killed
run resumes and the plot is redrawn without retraining.

    python tutorials/galloway2018_and_toy.py [--seeds 0 1 2 3 4] [--epochs 1000]
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

import tfbnn  # noqa: F401  (Keras 2 set-up before TensorFlow)
import tensorflow as tf
import tf_keras
import _common
import _verdicts
from _common import RESULTS, markdown_table, paper
from tfbnn import models

NAME = RULE = "galloway2018_and_toy"
DEFAULT = {"hidden_units": [2, 4], "quantized": [False, True], "seeds": [0, 1, 2, 3, 4],
           "train_size": 1000, "data_seed": 0, "epochs": 1000, "learning_rate": 0.1,
           "batch_size": None, "estimator": "passthrough", "grid": 101, "fd_h": 1e-3,
           "near_zero": 1e-3, "out": str(RESULTS / f"{NAME}.json")}
LABELS = {(False, 2): "full precision, 2 units (Fig. 3a/b)",
          (True, 2): "quantized middle layer, 2 units (Fig. 3c/d)",
          (False, 4): "full precision, 4 units (control)",
          (True, 4): "quantized middle layer, 4 units (Fig. 4)"}
METRICS = ("train_accuracy", "grid_accuracy", "transition_band", "output_range",
           "distinct_outputs", "near_zero_dx2", "near_zero_grad", "near_zero_grad_fd",
           "jump_frac_dx2", "autodiff_vs_fd_mismatch")


def _key(quantized: bool, units: int) -> str:
    return f"{'q' if quantized else 'fp'}-{units}"


def and_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points uniform in [0, 1]^2, labelled round(x1) AND round(x2)."""
    x = np.random.default_rng(seed).uniform(0.0, 1.0, (n, 2)).astype(np.float32)
    return x, np.all(x >= 0.5, axis=1).astype(np.float32)


def build(units: int, quantized: bool, estimator: str) -> tf_keras.Model:
    """The network under test (the library's `models.and_mlp`)."""
    return models.and_mlp(units, quantized=quantized, estimator=estimator)


def train(units: int, quantized: bool, seed: int, config: dict) -> tuple[tf_keras.Model, float]:
    """Train one AND MLP as Appendix B says; returns the model and its training accuracy."""
    x, y = and_data(config["train_size"], config["data_seed"])
    tf_keras.utils.set_random_seed(seed)
    model = build(units, quantized, config["estimator"])
    model.compile(tf_keras.optimizers.Adam(config["learning_rate"]),
                  tf_keras.losses.BinaryCrossentropy(from_logits=True))
    model.fit(x, y, epochs=config["epochs"], batch_size=config["batch_size"] or len(x),
              verbose=0)
    accuracy = float(np.mean((model(x).numpy().ravel() > 0) == (y > 0.5)))
    return model, accuracy


def grid_points(n: int) -> tuple[np.ndarray, np.ndarray]:
    """The lattice: ``axis`` (n values in [0, 1]) and the points, x1 along columns."""
    axis = np.linspace(0.0, 1.0, n, dtype=np.float32)
    x1, x2 = np.meshgrid(axis, axis)
    return axis, np.stack([x1.ravel(), x2.ravel()], axis=1)


def fields(model, n: int, fd_h: float) -> dict:
    """Output s, autodiff gradient and finite-difference gradient of s on the n x n grid."""
    _, points = grid_points(n)
    x = tf.constant(points)
    with tf.GradientTape() as tape:
        tape.watch(x)
        s = tf.sigmoid(model(x, training=False))
    autodiff = tape.gradient(s, x).numpy()
    s = s.numpy().ravel()
    fd = np.zeros_like(points)
    for i in range(2):
        step = np.zeros((1, 2), np.float32)
        step[0, i] = fd_h
        up = tf.sigmoid(model(points + step, training=False)).numpy().ravel()
        down = tf.sigmoid(model(points - step, training=False)).numpy().ravel()
        fd[:, i] = (up - down) / (2 * fd_h)
    shape = (n, n)
    return {"s": s.reshape(shape), "ad": autodiff.reshape(shape + (2,)),
            "fd": fd.reshape(shape + (2,)), "points": points}


def metrics(f: dict, n: int, near_zero: float) -> dict:
    """The quantitative proxies of one model's fields (see the module docstring)."""
    s, ad, fd = f["s"], f["ad"], f["fd"]
    truth = np.all(f["points"] >= 0.5, axis=1).reshape(s.shape)
    dx2 = ad[..., 1]
    scale = float(np.max(np.abs(dx2)))
    jumps = [np.abs(np.diff(dx2, axis=a)) for a in (0, 1)]
    jump_frac = (float(sum(np.sum(j > 0.5 * scale) for j in jumps) / sum(j.size for j in jumps))
                 if scale > 0 else 0.0)
    ad_norm, fd_norm = np.linalg.norm(ad, axis=-1), np.linalg.norm(fd, axis=-1)
    mismatch = np.linalg.norm(ad - fd, axis=-1) > 0.1 * (ad_norm + fd_norm) + near_zero
    return {
        "grid_accuracy": float(np.mean((s > 0.5) == truth)),
        "transition_band": float(np.mean((s > 0.1) & (s < 0.9))),
        "output_range": float(s.max() - s.min()),
        "distinct_outputs": int(np.unique(np.round(s, 6)).size),
        "near_zero_dx2": float(np.mean(np.abs(dx2) < near_zero)),
        "near_zero_grad": float(np.mean(ad_norm < near_zero)),
        "near_zero_grad_fd": float(np.mean(fd_norm < near_zero)),
        "jump_frac_dx2": jump_frac,
        "autodiff_vs_fd_mismatch": float(np.mean(mismatch)),
    }


def _restore(units: int, quantized: bool, config: dict, weights: list) -> tf_keras.Model:
    model = build(units, quantized, config["estimator"])
    model.set_weights([np.array(w, np.float32) for w in weights])
    return model


def measure(units: int, quantized: bool, seed: int, config: dict) -> dict:
    """One (configuration, seed): train, then the metrics of its fields and its weights."""
    started = time.time()
    model, train_accuracy = train(units, quantized, seed, config)
    return {"train_accuracy": train_accuracy,
            **metrics(fields(model, config["grid"], config["fd_h"]), config["grid"],
                      config["near_zero"]),
            "seconds": round(time.time() - started, 1),
            "weights": [w.tolist() for w in model.get_weights()]}


def main(config: dict) -> dict:
    run = _common.Run(config, DEFAULT)
    config, entries = run.config, run.section("models")
    for units in config["hidden_units"]:
        for quantized in config["quantized"]:
            key = _key(quantized, units)
            entry = entries.setdefault(
                key, {"hidden_units": units, "quantized": quantized,
                      "label": LABELS.get((quantized, units), key), "seeds": {}})
            for seed in config["seeds"]:
                run.step(entry["seeds"], str(seed),
                         lambda: measure(units, quantized, seed, config),
                         say=lambda row: f"{key} seed {seed}: grid acc {row['grid_accuracy']:.3f}, "
                                         f"near-zero ds/dx2 {row['near_zero_dx2']:.3f}, jumps "
                                         f"{row['jump_frac_dx2']:.4f}, {row['distinct_outputs']} "
                                         f"distinct outputs ({row['seconds']} s)")
            entry["median"] = {m: float(np.median([entry["seeds"][str(s)][m]
                                                   for s in config["seeds"]]))
                               for m in METRICS}
    plot(run.results, run.out)
    return run.finish(resummarize(run.results, run.out))


def plot(results: dict, out: Path) -> list:
    plt = _common.pyplot()

    cfg = results["config"]
    seed = str(cfg["seeds"][0])
    keys = list(results["models"])
    titles = ["decision surface s = sigmoid(logit)", "forward derivative ds/dx2 (autodiff)",
              "|grad s| (autodiff, STE)", "|grad s| (finite differences)"]
    fig, axes = plt.subplots(len(keys), 4, figsize=(15, 3.3 * len(keys)), squeeze=False)
    for row, key in enumerate(keys):
        entry = results["models"][key]
        model = _restore(entry["hidden_units"], entry["quantized"], cfg,
                         entry["seeds"][seed]["weights"])
        f = fields(model, cfg["grid"], cfg["fd_h"])
        panels = [f["s"], f["ad"][..., 1], np.linalg.norm(f["ad"], axis=-1),
                  np.linalg.norm(f["fd"], axis=-1)]
        for col, (title, image) in enumerate(zip(titles, panels)):
            ax = axes[row, col]
            kwargs = {"vmin": 0.0, "vmax": 1.0} if col == 0 else {}
            im = ax.imshow(image, origin="lower", extent=(0, 1, 0, 1), cmap="viridis", **kwargs)
            fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
            ax.set(xlabel="x1", ylabel="x2")
            ax.set_title(f"{title}\n{entry['label']}" if col == 0 else title, fontsize=8)
    fig.suptitle(f"AND toy MLP (Galloway et al. App. B, Figs. 3-4): seed {seed}, "
                 f"{cfg['epochs']} epochs of Adam lr {cfg['learning_rate']}", fontsize=10)
    name = _common.save_figure(fig, out, dpi=90)
    return [name]


def estimates(results: dict) -> dict:
    """``"<configuration> <metric>"`` -> the metric over the seeds run, a `_verdicts.Estimate`
    (mean ± sample std over seeds; fractions of a fixed grid, so no binomial term)."""
    return {f"{key} {metric}": _verdicts.over_seeds(
        [row[metric] for row in entry["seeds"].values()], scale=1.0)
        for key, entry in results["models"].items() if entry["seeds"] for metric in METRICS}


def _text(cell: str, estimate) -> str:
    digits = 0 if "distinct" in cell else 4 if "jump" in cell else 3
    return estimate.text(digits)


def _item(what: str, ours: dict) -> str:
    """A check item (``"a > b"``) with each measured cell's mean ± std beside its name."""
    return " > ".join(f"{part} ({_text(part, ours[part])})" if part in ours else part
                      for part in what.split(" > "))


SHOWN = {"train_accuracy": "train acc", "grid_accuracy": "grid acc",
         "transition_band": "transition band", "distinct_outputs": "distinct outputs",
         "near_zero_dx2": "near-zero ds/dx2", "near_zero_grad_fd": "near-zero grad (FD)",
         "jump_frac_dx2": "jump frac ds/dx2", "autodiff_vs_fd_mismatch": "autodiff vs FD mismatch"}
"""The metrics of the per-configuration table, with their column headers."""


def summarize(results: dict, plots: list) -> dict:
    """Claims C1-C4 judged by the committed rule, and the metrics of every configuration."""
    cfg = results["config"]
    settings = paper("galloway2018_figures")["rows"][
        "Fig 3 (App B): MLP hidden units in first two layers / Adam epochs / learning rate"][0]
    ours = estimates(results)
    judged = _verdicts.judge(_verdicts.load_rule(RULE), ours, {})
    seeds = sorted({int(s) for e in results["models"].values() for s in e["seeds"]})
    lines = markdown_table(
        ["check (paper: one model per figure, read off a plot)",
         f"tfbnn (mean ± std over {len(seeds)} seeds, {cfg['grid']}x{cfg['grid']} grid)",
         "outcome"],
        [[check["id"], _item(what, ours), outcome]
         for check in judged["checks"] for what, outcome in check["items"]])
    lines += ["", f"Per configuration (mean ± sample std over the {len(seeds)} seeds):", ""]
    lines += markdown_table(
        ["model"] + list(SHOWN.values()),
        [[entry["label"]] + [_text(m, ours[f"{key} {m}"]) for m in SHOWN]
         for key, entry in results["models"].items() if entry["seeds"]])
    why = judged["why"]
    if {"q-2 distinct_outputs", "q-4 distinct_outputs"} <= set(ours):
        why += (f" The quantized models take {ours['q-2 distinct_outputs'].mean:.1f} (2 units) "
                f"and {ours['q-4 distinct_outputs'].mean:.1f} (4 units) distinct output values "
                "over the grid (mean over seeds).")
    if {"q-2 near_zero_grad_fd", "q-4 near_zero_grad_fd"} <= set(ours):
        why += (" Their true slope (finite differences) is near zero on "
                f"{ours['q-2 near_zero_grad_fd'].mean:.3f} and "
                f"{ours['q-4 near_zero_grad_fd'].mean:.3f} of the grid: C2 and C3 judge the "
                "straight-through gradient an attacker gets, not that slope.")
    command = f"python tutorials/{NAME}.py"
    diff = {k: v for k, v in cfg.items() if k != "out" and DEFAULT.get(k) != v}
    if diff:
        command += f" (config {diff})"
    return _common.summary(
        title="Galloway et al., Figures 3 and 4 (AND toy MLP: decision surface and forward "
              "derivative)",
        command=command,
        paper_scale=(f"3-hidden-layer MLP for two-input AND, {settings[0]} (Fig. 3) and 4 "
                     f"(Fig. 4) hidden units, Adam lr {settings[2]}, {settings[1]} epochs; "
                     "training set, batch size and seeds not stated; figures only, no numbers"),
        tfbnn_scale=(f"`models.and_mlp` ({cfg['estimator']} STE), {cfg['train_size']} points "
                     f"uniform in [0,1]^2 labelled round(x1) AND round(x2), Adam lr "
                     f"{cfg['learning_rate']}, {cfg['epochs']} epochs, batch "
                     f"{cfg['batch_size'] or 'full'}, seeds {seeds}; metrics on a "
                     f"{cfg['grid']}x{cfg['grid']} grid, near zero = {cfg['near_zero']:g}, "
                     f"finite-difference step {cfg['fd_h']:g}; ± is the sample standard "
                     "deviation over the initialisation seeds"),
        table=lines, verdict=judged["verdict"], why=why, plots=plots)


def resummarize(results: dict, out) -> dict:
    """The summary from stored results alone (``make_results.py --rejudge``): nothing is
    trained, and the plot `main` drew beside ``out`` is listed, not redrawn."""
    plot_file = Path(out).with_suffix(".png")
    return summarize(results, [plot_file.name] if plot_file.is_file() else [])


if __name__ == "__main__":
    main(_common.cli(__doc__, None, ("epochs", "out"),
                     seeds=dict(type=int, nargs="+", help="initialisation seeds"),
                     train_size=dict(type=int, help="training points"),
                     grid=dict(type=int, help="grid points per axis"),
                     estimator=dict(choices=list(models.ESTIMATORS),
                                    help="straight-through estimator of the binary layer")))
