"""How often do PGD and PGD++ flip a binary MLP's prediction? Gupta & Ajanthan, Figure 2.

Mirrors Figure 2 (Appendix C.2) of Gupta & Ajanthan, "Improved Gradient based
Adversarial Attacks for Quantized Networks" (AAAI 2022): the flip rate (the fraction of
correctly classified test images whose prediction the attack changes) of PGD++ (NJS)
against the combinatorial IPROP attack of Khalil et al. (2019), on a BNN-WAQ MLP with 5
hidden layers of 100 units trained on MNIST to 95 % accuracy, for L-inf bounds in
[0, 1]. tfbnn has no IPROP, so this tutorial measures the same flip rates for plain
PGD and PGD++ (NJS and HNS), on the binary MLP and on the same MLP in full precision.

The verdict applies the rule in paper_numbers/rules/gupta2022_mlp_flip_rate.json
(`_verdicts`), written as the paper's claim: PGD++ NJS flips more than IPROP at each
bound. Without IPROP cells every check is "not run" and the verdict is "not
comparable": plain PGD is no stand-in for a combinatorial attack. The rule file's
``findings`` (PGD++ NJS against plain PGD) are judged the same way and reported beside
the verdict as tfbnn's finding, never as the paper's claim.

The two MLPs are defined here (`build_mlp`): 784 -> 5 x 100 -> 10.
- ``"fp"``: tf_keras Dense + ReLU hidden layers, Dense logits.
- ``"bnn"`` (BNN-WAQ): larq QuantDense hidden layers with binary weights
  (`tfbnn.quantizers.PassThroughSign`, weight clipping) each followed by batch
  normalisation; the sign of that output is the binary activation entering the next
  layer. The first layer sees the real-valued pixels; the logits layer has binary
  inputs and full-precision weights (first/last layer conventions of BNN training).
Both are trained with Adam (1e-3, batch 128, cross-entropy) and cached next to the
CNNs of `tutorials/_zoo.py` (``$TFBNN_CACHE``).

Attacks: L-inf, 20 iterations of step eps / 4 (the paper's Table 6 budget relative to
eps), uniform random start, seed 0; PGD++ NJS with rho 0.01 and beta_1 estimated once
per model on the first 100 test images; PGD++ HNS with the paper's 100-point linear
grid. Every attack targets only the correctly classified images among the first n.

Default: n = 2000 test images, 10 training epochs, bounds 0.01 ... 1.0; about 2-4
minutes on 2 CPU cores (training included, about 30 s per model). ``--full``: the whole
10,000-image test set. Results are written after every (model, attack, bound), so a
killed run resumes.

    python tutorials/gupta2022_mlp_flip_rate.py [--full] [--n 2000] [--epochs 10]
"""

from __future__ import annotations

import hashlib
import json
import time

import numpy as np

import tfbnn  # noqa: F401  (Keras 2 set-up before TensorFlow)
import larq as lq
import tf_keras
import _common
import _verdicts
from _common import RESULTS, markdown_table, mnist_test, paper
from _zoo import cache_dir
from tfbnn import attacks, data, export, io, models, quantizers, temperature, training

NAME = "gupta2022_mlp_flip_rate"
DEFAULT = {"models": ["fp", "bnn"], "layers": 5, "units": 100, "epochs": 10,
           "train_size": 60000, "batch_size": 128, "learning_rate": 1e-3, "train_seed": 1234,
           "n": 2000, "batch": 500,
           "eps": [0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0],
           "attacks": ["PGD", "PGD++ NJS", "PGD++ HNS"], "iters": 20, "step_fraction": 0.25,
           "rand_init": "uniform", "seed": 0, "out": str(RESULTS / f"{NAME}.json")}
FULL = {"n": 10000}
LABELS = {"fp": "full-precision MLP", "bnn": "BNN-WAQ MLP"}
BOX = {"clip_min": 0.0, "clip_max": 1.0}
TRAIN_KEYS = ("layers", "units", "epochs", "train_size", "batch_size", "learning_rate",
              "train_seed")


def build_mlp(binary: bool, layers: int = 5, units: int = 100) -> tf_keras.Model:
    """The 5 x 100 MLP of Figure 2: full precision, or binary weights and activations."""
    inputs = tf_keras.Input(shape=(28, 28, 1), name="image")
    x = tf_keras.layers.Flatten(name="flatten")(inputs)
    for i in range(1, layers + 1):
        if binary:
            x = lq.layers.QuantDense(
                units, use_bias=False, name=f"dense{i}",
                input_quantizer=None if i == 1 else quantizers.PassThroughSign(),
                kernel_quantizer=quantizers.PassThroughSign(), kernel_constraint="weight_clip")(x)
            x = tf_keras.layers.BatchNormalization(name=f"bn{i}")(x)
        else:
            x = tf_keras.layers.Dense(units, activation="relu", name=f"dense{i}")(x)
    if binary:
        logits = lq.layers.QuantDense(10, input_quantizer=quantizers.PassThroughSign(),
                                      name="logits")(x)
    else:
        logits = tf_keras.layers.Dense(10, name="logits")(x)
    return tf_keras.Model(inputs, logits, name=f"mlp{layers}x{units}_{'bnn' if binary else 'fp'}")


def trained_mlp(kind: str, config: dict) -> tuple[tf_keras.Model, dict]:
    """``(model, info)``: the cached MLP for this training spec, trained on first use."""
    spec = {"kind": kind, **{k: config[k] for k in TRAIN_KEYS}}
    digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:12]
    key = f"mlp-{kind}-{digest}"
    path, info_path = cache_dir() / f"{key}.keras", cache_dir() / f"{key}.json"
    if path.exists() and info_path.exists():
        model = tf_keras.models.load_model(path, custom_objects=models.custom_objects())
        return model, json.loads(info_path.read_text())
    tf_keras.utils.set_random_seed(config["train_seed"])
    (x_train, y_train), _ = data.load_mnist()
    x_train, y_train = x_train[: config["train_size"]], y_train[: config["train_size"]]
    model = build_mlp(kind == "bnn", config["layers"], config["units"])
    training.compile_model(model, config["learning_rate"])
    started = time.time()
    model.fit(x_train, y_train, epochs=config["epochs"], batch_size=config["batch_size"],
              verbose=2)
    info = {"spec": spec, "key": key, "train_seconds": round(time.time() - started, 1)}
    export.save_model(model, path, overwrite=True)
    io.atomic_write_text(info_path, json.dumps(info, indent=2))
    return model, info


def _attack(name, config, eps, njs_beta1):
    pgd = dict(eps=eps, eps_iter=config["step_fraction"] * eps, nb_iter=config["iters"],
               norm=np.inf, rand_init=config["rand_init"], seed=config["seed"], **BOX)
    if name == "PGD":
        return lambda f, x, y: attacks.projected_gradient_descent(f, x, y=y, **pgd)
    if name == "PGD++ NJS":
        return lambda f, x, y: attacks.pgd_plus_plus(f, x, y=y, variant="njs",
                                                     njs_beta1=njs_beta1, **pgd)
    if name == "PGD++ HNS":
        return lambda f, x, y: attacks.pgd_plus_plus(f, x, y=y, variant="hns", **pgd)
    raise ValueError(f"unknown attack {name!r}; choose from {DEFAULT['attacks']}")


def flips(attack, model_fn, x, y, batch: int) -> dict:
    """How many of (x, y) the attack flips; each batch is crafted, then scored."""
    robust = _common.in_batches(
        lambda a, b: _common.attack_correct(attack, model_fn, a, b, batch), x, y, batch=batch)
    flipped = len(x) - int(np.count_nonzero(robust))
    return {"flip_rate": flipped / max(len(x), 1), "flipped": flipped}


def main(config: dict) -> dict:
    run = _common.Run(config, DEFAULT, FULL)
    config, entries = run.config, run.section("models")
    x, y = mnist_test(config["n"])
    for kind in config["models"]:
        model, info = trained_mlp(kind, config)
        model_fn = lambda t, m=model: m(t, training=False)  # noqa: E731
        correct = _common.correct(model_fn, x, y)
        entry = entries.setdefault(kind, {
            "clean_accuracy": float(correct.mean()), "attacked": int(correct.sum()),
            "train_seconds": info["train_seconds"], "flip_rate": {}})
        xs, ys = x[correct], y[correct]
        njs_beta1 = float(temperature.njs_beta1(model_fn, x[:100]))
        entry["njs_beta1"] = njs_beta1
        for name in config["attacks"]:
            rates = entry["flip_rate"].setdefault(name, {})
            for eps in config["eps"]:
                run.step(rates, str(eps), lambda: flips(_attack(name, config, eps, njs_beta1),
                                                        model_fn, xs, ys, config["batch"]),
                         seconds=True, say=lambda r: f"{kind} {name:10s} eps {eps:<5g} flip "
                                                     f"rate {r['flip_rate']:.3f}")
    return run.finish(resummarize(run.results, run.out))


def plot(results, out) -> list:
    plt = _common.pyplot()

    cfg = results["config"]
    fig, ax = plt.subplots(figsize=(6.5, 4))
    styles = {"fp": "--", "bnn": "-"}
    for kind, entry in results["models"].items():
        for j, name in enumerate(cfg["attacks"]):
            rates = entry["flip_rate"].get(name, {})
            eps = [e for e in cfg["eps"] if str(e) in rates]
            ax.plot(eps, [100 * rates[str(e)]["flip_rate"] for e in eps], styles.get(kind, ":"),
                    marker="o", color=f"C{j}", label=f"{LABELS.get(kind, kind)}: {name}")
    ax.set(xscale="log", xlabel="L-inf bound", ylabel="flip rate (%)", ylim=(0, 100),
           title=f"Figure 2 pattern: {cfg['layers']}x{cfg['units']} MLP on MNIST "
                 f"(first {cfg['n']} test images)")
    ax.legend(fontsize=7)
    name = _common.save_figure(fig, out, dpi=120)
    return [name]


def estimates(results: dict) -> dict:
    """``"<model> <attack> eps=<bound>"`` -> flip rate (%) as a `_verdicts.Estimate`, with
    the binomial noise of the attacked (correctly classified) images; one training seed."""
    return {f"{kind} {attack} eps={eps}": _verdicts.Estimate(100 * row["flip_rate"],
                                                           n=max(entry["attacked"], 1))
            for kind, entry in results["models"].items()
            for attack, rates in entry["flip_rate"].items() for eps, row in rates.items()}


def summarize(results: dict, plots: list) -> dict:
    """Paper and tfbnn side by side, the verdict of the committed rule, and its finding."""
    cfg, rows = results["config"], results["models"]
    rule = _verdicts.load_rule(NAME)
    figures = paper("gupta2022_figures")["rows"]
    paper_clean = figures["Fig 2: clean accuracy % of that MNIST BNN-WAQ MLP"][0]
    lines = markdown_table(
        ["model", "paper clean %", "tfbnn clean %", "attacked (correct) images",
         "NJS beta_1"],
        [[LABELS.get(k, k), paper_clean if k == "bnn" else "—",
          f"{100 * e['clean_accuracy']:.1f}", e["attacked"], f"{e['njs_beta1']:.3g}"]
         for k, e in rows.items()])
    columns = [(k, a) for k in rows for a in cfg["attacks"]]
    body = []
    for eps in cfg["eps"]:
        body.append([f"{eps:g}", "curve not in text"] + [
            f"{100 * rows[k]['flip_rate'][a][str(eps)]['flip_rate']:.1f}" for k, a in columns])
    lines += ["", "Flip rate % (higher = stronger attack; no ± is shown: one training seed, "
              "whose noise in the verdict is the binomial standard error of the attacked "
              "images); the paper plots PGD++ NJS and IPROP on its BNN-WAQ MLP but prints no "
              "values:", ""]
    lines += markdown_table(["L-inf bound", "paper (PGD++ NJS / IPROP)"]
                            + [f"tfbnn {k} {a}" for k, a in columns], body)
    ours = estimates(results)
    judged = _verdicts.judge(rule, ours, {})
    why = judged["why"]
    if not any(" IPROP " in cell for cell in ours):
        why += (" Not comparable: Figure 2 compares PGD++ with IPROP, the combinatorial "
                "attack of Khalil et al. (2019), which tfbnn does not have; plain PGD is no "
                "stand-in for it, so the paper's claim is not tested here.")
    why += " " + _verdicts.finding(rule, ours)
    if "bnn" in rows:
        why += (f" Clean accuracy of the binary MLP: {100 * rows['bnn']['clean_accuracy']:.1f} "
                f"% (paper: {paper_clean} %).")
    return _common.summary(
        title="Gupta & Ajanthan, Figure 2 (flip rate of PGD / PGD++ on a 5x100 binary MLP)",
        command=f"python tutorials/{NAME}.py",
        paper_scale=("MNIST BNN-WAQ MLP, 5 hidden layers x 100 units, 95 % clean accuracy; "
                     "PGD++ (NJS) vs IPROP flip rate for L-inf bounds in [0, 1]; attack budget "
                     "and number of images not stated; curve values not in the text"),
        tfbnn_scale=(f"MNIST MLPs {cfg['layers']}x{cfg['units']} (full precision and BNN-WAQ, "
                     f"{cfg['epochs']} epochs on {cfg['train_size']} images, one training "
                     f"seed), correctly classified images among the first {cfg['n']} test "
                     f"images; PGD / PGD++ L-inf, {cfg['iters']} iterations of step "
                     f"eps*{cfg['step_fraction']}, {cfg['rand_init']} start, seed {cfg['seed']}; "
                     "no IPROP"),
        table=lines, verdict=judged["verdict"], why=why.strip(), plots=plots)


def resummarize(results: dict, out) -> dict:
    """The summary from stored results alone (``make_results.py --rejudge``): the plot is
    redrawn beside ``out`` from the stored numbers; nothing is trained or attacked."""
    return summarize(results, plot(results, out))


if __name__ == "__main__":
    main(_common.cli(__doc__, FULL, ("n", "epochs", "seed", "out"),
                     models=dict(nargs="+", choices=["fp", "bnn"]),
                     eps=dict(nargs="+", type=float, help="L-inf bounds")))
