"""Signal propagation with and without temperature scaling (Table 13, Figures 4 and 5).

Mirrors: Gupta & Ajanthan, "Improved Gradient based Adversarial Attacks for Quantized
Networks" (AAAI 2022), Appendix C.5:

- Table 13: mean and standard deviation of the Jacobian singular values (of ``beta J``),
  mean ``||psi||_2``, mean ``||dl/dx||_2`` and mean ``||sign(dl/dx)||_2`` for the original
  network (``beta = 1``), NJS (``beta = beta_1 beta_2``, rho 0.01, ``beta_1`` from 100
  random test images) and HNS (per-image ``beta`` from the paper's 100-point linear
  grid), on 500 correctly classified test images;
- Figures 4 and 5: the same quantities, the mean singular value of the softmax Jacobian
  ``diag(p) - p p^T`` and the Frobenius norm of the input Hessian
  (`tfbnn.temperature.hessian_frobenius_norm`, HNS's objective) swept over a log grid
  of ``beta``. The paper plots one image; here the median (and inter-quartile band) over
  images is plotted, with the first image as a dotted line.

The paper's networks are CIFAR-10 ResNet-18s (REF, BNN-WQ, BNN-WAQ, an adversarially
trained one); tfbnn's are the MNIST CleverHans CNNs of tutorials/_zoo.py: A (full
precision, like REF), W (binary weights only, like BNN-WQ), B and C (binary weights and
activations, like BNN-WAQ; C adds a learned scalar). Everything runs in float32, as the
attacks do (HNS's Hessian norm is float64 inside the library), so "vanishing" means
what it means to an attack: exactly zero entries after underflow.

Default: A, B, C and W at k1 = 64, 15 epochs; the first 500 correctly classified test
images (the paper's count) for the table and the sweep; 81 betas from 1e-4 to 1e4.
About 5 minutes on 2 CPU cores once the models are cached; W is trained on first use
(about 5 more minutes; cached and shared with gupta2022_rho_ablation.py). ``--full``
only makes the beta grid denser (161 points): the default already uses the paper's
500 images. Results are saved after every model, so a killed run resumes.

The verdict applies the rule of paper_numbers/rules/gupta2022_signal_propagation.json
(`_verdicts`): on A, W, B and C, NJS and HNS give a larger mean ``||psi||_2`` and
``||dl/dx||_2`` than beta = 1, and a larger ``||sign(dl/dx)||_2`` where beta = 1 leaves it
below its ceiling sqrt(784) = 28.0 (at the ceiling it cannot rise: 'not run', and the
summary says so); and the input-Hessian norm peaks below beta = 1 on more than half of
the swept images (Figure 4b's 'small value'). Peaks inside the grid hold by construction
and are shown, not judged. The summary also gives the rule's verdict on the paper's own
Table 13.

    python tutorials/gupta2022_signal_propagation.py [--full] [--models A B C W] [--n 500]
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
from tfbnn import export, temperature
from tfbnn.batching import batch_slices

NAME = "gupta2022_signal_propagation"
DEFAULT = {"models": ["A", "B", "C", "W"], "k1": 64, "epochs": 15, "train_size": 60000,
           "n": 500, "njs_samples": 100, "rho": 0.01, "hns_grid": 100, "seed": 0,
           "beta_low": 1e-4, "beta_high": 1e4, "beta_points": 81, "sweep_n": 500,
           "full": False, "out": str(_common.RESULTS / f"{NAME}.json")}
FULL = {"beta_points": 161}
METHODS = ("Orig.", "NJS", "HNS")
STATS = {"jsv_mean": "JSV (Mean)", "jsv_std": "JSV (Std.)", "psi_norm": "||psi||_2",
         "grad_norm": "||dl/dx0||_2", "sign_grad_norm": "||sign(dl/dx0)||_2"}
CURVES = ("psi_norm", "softmax_jsv_mean", "hessian_norm", "grad_norm", "sign_grad_norm",
          "jsv_mean")
PAPER_COLUMN = {"A": "REF", "W": "BNN-WQ", "B": "BNN-WAQ", "C": "BNN-WAQ"}
"""tfbnn model -> the paper's network of the same kind (C: BNN-WAQ with learned scalars)."""
INPUT_SIZE = 28 * 28
"""Entries of an MNIST input gradient: ||sign(dl/dx)||_2 is at most its square root."""
PAPER_INPUT_SIZE = 32 * 32 * 3
"""The same for the paper's CIFAR-10 images."""
CELLS = {"psi_norm": "||psi||_2", "grad_norm": "||dl/dx||_2",
         "sign_grad_norm": "||sign(dl/dx)||_2"}
"""Table 13's quantities the rule names, as its cells spell them (``"<model> <method> ..."``)."""


def _correct(model_fn, x_test, y_test, n, chunk=1000):
    """Indices of the first ``n`` correctly classified test images."""
    found = []
    for part in batch_slices(len(x_test), chunk):
        pred = export.predict_in_batches(model_fn, x_test[part]).argmax(-1)
        found += list(part.start + np.flatnonzero(pred == y_test[part]))
        if len(found) >= n:
            break
    return np.array(found[:n], dtype=np.int64)


def table13(model_fn, x, y, x_njs, config) -> dict:
    """Table 13's statistics for beta = 1, NJS and HNS on the images ``x``."""
    beta1 = float(temperature.njs_beta1(model_fn, x_njs, config["njs_samples"]))
    logits = tf.constant(export.predict_in_batches(model_fn, x))
    beta2 = temperature.njs_beta2(logits, y, config["rho"], beta1).numpy()
    hns = temperature.hns_beta(model_fn, x, y, grid=config["hns_grid"]).numpy()
    betas = {"Orig.": 1.0, "NJS": beta1 * beta2, "HNS": hns}
    stats = {m: temperature.signal_propagation_stats(model_fn, x, y, b) for m, b in betas.items()}
    return {"stats": stats, "njs_beta1": beta1, "njs_beta2_below_1": float(np.mean(beta2 < 1)),
            "njs_beta_median": float(np.median(betas["NJS"])),
            "hns_beta": [float(b) for b in hns]}


def _softmax_jsv_mean(logits: np.ndarray, beta: float) -> np.ndarray:
    """Mean singular value of ``diag(p) - p p^T`` (symmetric PSD: its eigenvalues)."""
    p = tf.nn.softmax(beta * logits, axis=-1).numpy().astype(np.float64)
    a = np.einsum("bi,ij->bij", p, np.eye(p.shape[-1])) - p[:, :, None] * p[:, None, :]
    return np.abs(np.linalg.eigvalsh(a)).mean(-1)


def sweep(model_fn, x, y, betas) -> dict:
    """Figures 4 and 5: every quantity per image and beta, kept as median / quartiles."""
    jac = temperature.input_logit_jacobian(model_fn, x)
    logits = tf.constant(export.predict_in_batches(model_fn, x))
    logits64 = tf.cast(logits, tf.float64)
    sv_mean = temperature.jacobian_singular_values(jac).numpy().mean(-1)
    curves = {k: np.zeros((len(betas), len(x))) for k in CURVES}
    for i, beta in enumerate(float(b) for b in betas):
        psi = temperature.error_signal(logits, y, beta)  # float32, as the attack's gradient
        grad = beta * tf.einsum("bj,bjn->bn", psi, jac)
        curves["psi_norm"][i] = tf.norm(psi, axis=-1).numpy()
        curves["grad_norm"][i] = tf.norm(grad, axis=-1).numpy()
        curves["sign_grad_norm"][i] = np.sqrt(np.count_nonzero(grad.numpy(), axis=-1))
        curves["hessian_norm"][i] = temperature.hessian_frobenius_norm(logits64, jac, beta).numpy()
        curves["softmax_jsv_mean"][i] = _softmax_jsv_mean(logits.numpy(), beta)
        curves["jsv_mean"][i] = beta * sv_mean
    out = {"betas": [float(b) for b in betas], "images": len(x), "curves": {}}
    for k, v in curves.items():
        q25, med, q75 = np.percentile(v, [25, 50, 75], axis=1)
        out["curves"][k] = {"median": med.tolist(), "q25": q25.tolist(), "q75": q75.tolist(),
                            "example": v[:, 0].tolist()}
    last = len(betas) - 1
    for k in ("hessian_norm", "grad_norm"):
        peak = curves[k].argmax(0)
        out[f"{k}_peak"] = {
            "beta_median": float(np.median(np.asarray(betas)[peak])),
            "interior_fraction": float(np.mean((peak > 0) & (peak < last))),
            "below_beta_1_fraction": float(np.mean(np.asarray(betas)[peak] < 1.0))}
    peak = curves["hessian_norm"].argmax(0)
    sign = curves["sign_grad_norm"]
    best = np.maximum(sign.max(0), 1e-30)
    out["sign_at_hessian_peak_over_max_median"] = float(
        np.median(sign[peak, np.arange(len(x))] / best))
    out["hessian_peak_betas"] = np.asarray(betas)[peak].tolist()
    return out


def _table13_cells(model: str, stats: dict, input_size: int) -> dict:
    """Table 13's cells of one model (exact means): ``||sign(dl/dx)||_2`` only where beta = 1
    leaves it below its ceiling ``sqrt(input_size)``, the only place NJS or HNS can raise
    it (`_at_ceiling`)."""
    keys = [k for k in CELLS if k != "sign_grad_norm" or not _at_ceiling(stats, input_size)]
    return {f"{model} {m} {CELLS[k]}": _verdicts.Estimate(float(stats[m][k]))
            for m in METHODS for k in keys}


def _at_ceiling(stats: dict, input_size: int) -> bool:
    """Whether ``||sign(dl/dx)||_2`` at beta = 1 already reaches ``sqrt(input_size)`` (no
    gradient entry exactly zero): then it cannot rise, and a tie there is no evidence."""
    return stats["Orig."]["sign_grad_norm"] >= np.sqrt(input_size) - 1e-6


def estimates(results: dict) -> dict:
    """Cell name -> `_verdicts.Estimate`: Table 13's means per model and method
    (`_table13_cells`) and ``"<model> Hessian-norm peak below beta = 1, % of images"``
    (with the binomial noise of the swept images)."""
    ours = {}
    for name, entry in results["models"].items():
        if "table13" in entry:
            ours.update(_table13_cells(name, entry["table13"]["stats"], INPUT_SIZE))
        if "sweep" in entry:
            ours[f"{name} Hessian-norm peak below beta = 1, % of images"] = _verdicts.Estimate(
                100 * entry["sweep"]["hessian_norm_peak"]["below_beta_1_fraction"],
                n=entry["sweep"]["images"])
    return ours


def paper_estimates() -> dict:
    """The paper's Table 13 under tfbnn's model names (A <- REF, W <- BNN-WQ, B and C <-
    BNN-WAQ): the rule applied to it shows what the paper's own numbers say."""
    paper = _common.paper("gupta2022_table13")
    return {cell: value for model, column in PAPER_COLUMN.items()
            for cell, value in _table13_cells(model, _paper_stats(paper, column),
                                              PAPER_INPUT_SIZE).items()}


def _paper_stats(paper, column) -> dict:
    j = paper["columns"].index(column)
    return {m: {k: paper["rows"][f"{label} {m}"][j] for k, label in STATS.items()}
            for m in METHODS}


def _fmt(v) -> str:
    return "—" if v is None else f"{v:.3g}"


def _cells(rows: list) -> list:
    """Markdown-safe cells: a literal ``|`` would split a table cell, ``‖`` does not."""
    return [[str(c).replace("||", "‖") for c in row] for row in rows]


def plot(results, out: Path) -> list:
    plt = _common.pyplot()

    models = [m for m in results["config"]["models"] if "sweep" in results["models"].get(m, {})]
    names = []
    panels = {"fig4": [("psi_norm", "||psi(beta)||_2 (solid) and mean SV of dp/da (dashed)",
                        "softmax_jsv_mean"), ("hessian_norm", "||d2 l / dx2||_F", None)],
              "fig5": [("grad_norm", "||dl(beta)/dx||_2", None),
                       ("sign_grad_norm", "||sign(dl(beta)/dx)||_2", None)]}
    for fig_name, spec in panels.items():
        fig, axes = plt.subplots(1, 2, figsize=(11, 4))
        for ax, (key, label, extra) in zip(axes, spec):
            for i, m in enumerate(models):
                sweep = results["models"][m]["sweep"]
                b, c = sweep["betas"], sweep["curves"][key]
                color = f"C{i}"
                ax.plot(b, c["median"], color=color, label=f"{m} (median)")
                ax.fill_between(b, c["q25"], c["q75"], color=color, alpha=0.15)
                ax.plot(b, c["example"], color=color, lw=0.8, ls=":")
                if extra:
                    ax.plot(b, sweep["curves"][extra]["median"], color=color, ls="--")
            ax.axvline(1.0, color="gray", lw=0.6)
            ax.set_xscale("log")
            if key != "sign_grad_norm":  # log scale, cut 12 decades below the highest median
                top = max(max(results["models"][m]["sweep"]["curves"][key]["median"])
                          for m in models)
                ax.set_yscale("log")
                if top > 0:
                    ax.set_ylim(top * 1e-12, top * 10)
            ax.set_xlabel("beta")
            ax.set_title(label, fontsize=9)
            ax.legend(fontsize=7)
        fig.suptitle(f"{'Figure 4' if fig_name == 'fig4' else 'Figure 5'} pattern, MNIST "
                     f"CNNs (median over images, dotted: first image; grey line: beta = 1)",
                     fontsize=9)
        names.append(_common.save_figure(fig, out, f"_{fig_name}", dpi=110))
    return names


def _command(config) -> str:
    return _common.command(NAME, config, DEFAULT, FULL)


def summarize(results, plots) -> dict:
    """The section of docs/RESULTS.md; verdict: the rule of
    paper_numbers/rules/gupta2022_signal_propagation.json."""
    config = {**DEFAULT, **results["config"]}
    paper = _common.paper("gupta2022_table13")
    models = [m for m in config["models"] if "table13" in results["models"].get(m, {})]
    header = (["quantity", "method"] + [f"paper {c}" for c in ("REF", "BNN-WQ", "BNN-WAQ")]
              + [f"tfbnn {m}" for m in models])
    paper_stats = {c: _paper_stats(paper, c) for c in ("REF", "BNN-WQ", "BNN-WAQ")}
    rows = []
    for key, label in STATS.items():
        for m in METHODS:
            rows.append([label, m] + [_fmt(paper_stats[c][m][key]) for c in paper_stats]
                        + [_fmt(results["models"][v]["table13"]["stats"][m][key]) for v in models])
    rows.append(["beta (median)", "NJS", "—", "—", "—"]
                + [_fmt(results["models"][v]["table13"]["njs_beta_median"]) for v in models])
    rows.append(["beta (median)", "HNS", "—", "—", "—"]
                + [_fmt(float(np.median(results["models"][v]["table13"]["hns_beta"])))
                   for v in models])
    swept = [m for m in models if "sweep" in results["models"][m]]
    fig4 = ["Fig. 4b, one image (network not stated): {}", "", ""]
    fig5 = ["", "Fig. 5, one image: {}", ""]
    fig_rows = [("Hessian-norm peak beta, median over images", "hessian_norm_peak", "beta_median",
                 fig4, "small"),
                ("Hessian-norm peak inside the grid, share of images", "hessian_norm_peak",
                 "interior_fraction", fig4, "concave, interior peak"),
                ("Hessian-norm peak below beta = 1, share of images", "hessian_norm_peak",
                 "below_beta_1_fraction", ["—", "—", "—"], ""),
                ("||dl/dx|| peak inside the grid, share of images", "grad_norm_peak",
                 "interior_fraction", fig5, "concave, interior peak")]
    for label, group, key, ref, text in fig_rows:
        rows.append([label, "sweep"] + [r.format(text) for r in ref] + [
            _fmt(results["models"][v]["sweep"][group][key]) if v in swept else "—"
            for v in models])
    for label, index in (("median ||sign(dl/dx)|| at the smallest beta", 0),
                         ("median ||sign(dl/dx)|| at the largest beta", -1)):
        rows.append([label, "sweep"] + [r.format("→ 0") for r in fig5] + [
            _fmt(results["models"][v]["sweep"]["curves"]["sign_grad_norm"]["median"][index])
            if v in swept else "—" for v in models])

    rule = _verdicts.load_rule(NAME)
    judged = _verdicts.judge(rule, estimates(results), {})
    capped = [m for m in models if _at_ceiling(results["models"][m]["table13"]["stats"],
                                                INPUT_SIZE)]
    why = judged["why"]
    if capped:
        why += (f" ||sign(dl/dx)||_2 is no claim on {', '.join(capped)}: at beta = 1 it is "
                f"already sqrt({INPUT_SIZE}) = {np.sqrt(INPUT_SIZE):.1f}, its ceiling (no "
                "gradient entry is exactly zero), so NJS and HNS cannot raise it and their "
                "ties count for nothing.")
    why += (" Not claims: " + "; ".join(rule.get("not_claims", [])) + "."
            if rule.get("not_claims") else "")
    why += (" The same rule on the paper's own Table 13 gives: "
            f"{_verdicts.judge(rule, paper_estimates(), {})['verdict']}.")
    n_used = {m: results["models"][m]["table13_images"] for m in models}
    return _common.summary(
        title="Gupta & Ajanthan, Table 13 and Figures 4-5 (signal propagation with NJS / HNS, "
              "MNIST)",
        command=_command(config),
        paper_scale="CIFAR-10 ResNet-18 (REF, BNN-WQ, BNN-WAQ; the adversarially trained column "
                    "is left out), 500 correctly classified test images, 32x32x3 inputs so "
                    "||sign(dl/dx)||_2 <= 55.4; Figures 4-5 show one image, no values printed",
        tfbnn_scale=f"MNIST CleverHans CNNs k1={config['k1']}, {config['epochs']} epochs "
                    "(A full precision ~ REF, W binary weights ~ BNN-WQ, B and C binary weights "
                    "and activations ~ BNN-WAQ), the first correctly classified test images "
                    f"({', '.join(f'{m}: {k}' for m, k in n_used.items())}), 28x28 inputs so "
                    f"||sign(dl/dx)||_2 <= 28.0; NJS rho {config['rho']}, beta_1 from "
                    f"{config['njs_samples']} random test images; HNS {config['hns_grid']}-point "
                    f"linear grid; sweep: {config['beta_points']} log-spaced betas in "
                    f"[{config['beta_low']:g}, {config['beta_high']:g}] over up to "
                    f"{config['sweep_n']} of those images, float32; each Table 13 cell is one "
                    "mean over those images, printed without ± (the per-image values are not "
                    "kept, so the verdict compares the methods' means on the same images as "
                    "exact); the shares of images carry their binomial noise",
        table=_common.markdown_table(header, _cells(rows)), verdict=judged["verdict"],
        why=why, plots=plots)


def main(config: dict) -> dict:
    run = _common.Run(config, DEFAULT, FULL)
    config, models = run.config, run.section("models")
    x_test, y_test = mnist_test()
    rng = np.random.default_rng(config["seed"])
    njs_idx = rng.choice(len(x_test), size=config["njs_samples"], replace=False)
    betas = np.geomspace(config["beta_low"], config["beta_high"], config["beta_points"])
    for variant in config["models"]:
        spec = _zoo.model_spec(variant, config)
        entry = run.entry(models, variant, spec, {})
        if "table13" in entry and "sweep" in entry:
            continue
        model_fn, info = _zoo.classifier(spec)
        idx = _correct(model_fn, x_test, y_test, config["n"])
        entry.update({"model": info["spec"], "table13_images": int(len(idx))})
        if len(idx) == 0:
            print(f"{variant}: no correctly classified test image", flush=True)
            continue
        x, y = x_test[idx], y_test[idx]
        run.step(entry, "table13", lambda: table13(model_fn, x, y, x_test[njs_idx], config),
                 say=lambda t: f"{variant} " + str({m: {k: round(v, 4) for k, v in s.items()}
                                                    for m, s in t["stats"].items()}))
        k = min(config["sweep_n"], len(idx))
        run.step(entry, "sweep", lambda: sweep(model_fn, x[:k], y[:k], betas),
                 say=lambda s: f"{variant} sweep: Hessian peak {s['hessian_norm_peak']}")
    return run.finish(resummarize(run.results, run.out))


def resummarize(results: dict, out) -> dict:
    """The summary from stored results alone (``make_results.py --rejudge``): the figures
    are redrawn beside ``out`` from the stored curves; no model is loaded."""
    return summarize(results, plot(results, out))


if __name__ == "__main__":
    main(_common.cli(__doc__, {**FULL, "full": True}, ("models", "n", "k1", "epochs", "out")))
